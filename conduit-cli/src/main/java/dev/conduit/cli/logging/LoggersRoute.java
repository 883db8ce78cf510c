package dev.conduit.cli.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import dev.conduit.core.admin.AdminRequest;
import dev.conduit.core.admin.AdminResponse;
import dev.conduit.core.admin.AdminRoute;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.LoggerFactory;

/**
 * The admin endpoint's {@value #PREFIX} route: log levels read and changed at run time, in the shape
 * of Spring Boot's actuator. {@code GET /loggers} lists the levels and every logger's
 * {@code configuredLevel} and {@code effectiveLevel}; {@code GET /loggers/NAME} one logger;
 * {@code POST /loggers/NAME} with {@code {"configuredLevel":"DEBUG"}} sets a level ({@code null}
 * clears it, so the logger inherits its parent's), answering {@code 204}. The root logger is
 * {@code ROOT}. A change lasts until the next restart or reload of the logging configuration.
 */
public final class LoggersRoute implements AdminRoute {
  /** Where the route is mounted. */
  public static final String PREFIX = "/loggers";

  private static final String LEVELS = "[\"OFF\",\"ERROR\",\"WARN\",\"INFO\",\"DEBUG\",\"TRACE\"]";
  private static final Pattern CONFIGURED = Pattern.compile(
      "^\\s*\\{\\s*\"configuredLevel\"\\s*:\\s*(null|\"([A-Za-z]*)\")\\s*}\\s*$");

  /** A route over logback's logger context (answers 503 when SLF4J is bound to another backend). */
  public LoggersRoute() {}

  @Override
  public AdminResponse handle(AdminRequest request) {
    if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx)) {
      return AdminResponse.text(503, "logging is not logback's: levels cannot be changed here\n");
    }
    String name = request.path().length() > PREFIX.length() + 1 ? request.path().substring(PREFIX.length() + 1) : "";
    if (name.isEmpty()) {
      if (!request.method().equals("GET")) {
        return AdminResponse.text(405, "GET /loggers, or GET/POST /loggers/NAME\n").withHeader("Allow", "GET");
      }
      StringBuilder s = new StringBuilder(4096).append("{\"levels\":").append(LEVELS).append(",\"loggers\":{");
      boolean first = true;
      for (Logger logger : ctx.getLoggerList()) {
        s.append(first ? "" : ",");
        first = false;
        s.append('"');
        JsonLayout.escape(s, logger.getName());
        levels(s.append("\":"), logger);
      }
      return AdminResponse.json(200, s.append("}}").toString());
    }
    Logger logger = ctx.getLogger(name.equalsIgnoreCase("ROOT") ? org.slf4j.Logger.ROOT_LOGGER_NAME : name);
    switch (request.method()) {
      case "GET" -> {
        return AdminResponse.json(200, levels(new StringBuilder(96), logger).toString());
      }
      case "POST" -> {
        Matcher m = CONFIGURED.matcher(request.bodyText());
        if (!m.matches()) {
          throw new IllegalArgumentException("body: " + request.bodyText().strip()
              + " (expected: {\"configuredLevel\": \"DEBUG\"} or {\"configuredLevel\": null})");
        }
        Level level = m.group(2) == null || m.group(2).isEmpty() ? null : level(m.group(2));
        if (level == null && logger.getName().equals(org.slf4j.Logger.ROOT_LOGGER_NAME)) {
          throw new IllegalArgumentException("configuredLevel: null (the root logger needs a level)");
        }
        logger.setLevel(level);
        return AdminResponse.noContent();
      }
      default -> {
        return AdminResponse.text(405, "GET or POST /loggers/NAME\n").withHeader("Allow", "GET, POST");
      }
    }
  }

  private static Level level(String text) {
    String upper = text.toUpperCase(Locale.ROOT);
    if (!LEVELS.contains("\"" + upper + "\"")) {
      throw new IllegalArgumentException("configuredLevel: " + text + " (expected: one of " + LEVELS + ")");
    }
    return Level.toLevel(upper);
  }

  /** Appends {@code {"configuredLevel":…,"effectiveLevel":…}}. */
  private static StringBuilder levels(StringBuilder s, Logger logger) {
    return s.append("{\"configuredLevel\":")
        .append(logger.getLevel() == null ? "null" : "\"" + logger.getLevel() + "\"")
        .append(",\"effectiveLevel\":\"").append(logger.getEffectiveLevel()).append("\"}");
  }
}
