package dev.conduit.cli.logging;

import static java.util.Objects.requireNonNull;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.CoreConstants;
import ch.qos.logback.core.LayoutBase;
import dev.conduit.core.observe.AccessLog;
import java.time.Instant;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One JSON object per line: {@code time}, {@code level}, {@code logger}, {@code thread}, {@code conn}
 * (the connection id when the message starts with {@code [id]}), {@code msg} and {@code error}.
 * An access record written as JSON ({@value AccessLog#LOGGER}) is not nested in {@code msg}: its own
 * fields (from {@code time} to {@code detail}) are the line's, followed by {@code level} and {@code logger}.
 */
public final class JsonLayout extends LayoutBase<ILoggingEvent> {

  private static final Pattern CONNECTION_ID = Pattern.compile("^\\[([^\\]\\s]+)\\] ");

  @Override
  public String doLayout(ILoggingEvent event) {
    String record = event.getFormattedMessage();
    if (AccessLog.LOGGER.equals(event.getLoggerName()) && record != null && record.length() > 2
        && record.startsWith("{\"") && record.endsWith("}") && event.getThrowableProxy() == null) {
      // the access log's JSON format already escapes every value: its fields become the line's
      StringBuilder s = new StringBuilder(record.length() + 64);
      s.append(record, 0, record.length() - 1);
      field(s, "level", event.getLevel().toString());
      field(s, "logger", event.getLoggerName());
      return s.append('}').append(CoreConstants.LINE_SEPARATOR).toString();
    }
    StringBuilder s = new StringBuilder(256);
    s.append("{\"time\":\"").append(Instant.ofEpochMilli(event.getTimeStamp())).append('"');
    field(s, "level", event.getLevel().toString());
    field(s, "logger", event.getLoggerName());
    field(s, "thread", event.getThreadName());
    String message = event.getFormattedMessage();
    if (message != null) {
      Matcher m = CONNECTION_ID.matcher(message);
      if (m.find()) {
        field(s, "conn", m.group(1));
        message = message.substring(m.end());
      }
      field(s, "msg", message);
    }
    if (event.getThrowableProxy() != null) {
      field(s, "error", ThrowableProxyUtil.asString(event.getThrowableProxy()));
    }
    s.append('}').append(CoreConstants.LINE_SEPARATOR);
    return s.toString();
  }

  private static void field(StringBuilder s, String name, String value) {
    s.append(",\"").append(name).append("\":\"");
    escape(s, value);
    s.append('"');
  }

  /**
   * One JSON line, as this layout writes an event, for text written outside logging (a fatal error
   * printed by the command line): {@code time}, {@code level}, {@code logger}, {@code msg} and,
   * when not null, {@code error}.
   */
  public static String line(String level, String logger, String message, String error) {
    StringBuilder s = new StringBuilder(128);
    s.append("{\"time\":\"").append(Instant.now()).append('"');
    field(s, "level", requireNonNull(level, "level"));
    field(s, "logger", requireNonNull(logger, "logger"));
    field(s, "msg", requireNonNull(message, "message"));
    if (error != null) {
      field(s, "error", error);
    }
    return s.append('}').toString();
  }

  /** JSON string escaping (RFC 8259 section 7). */
  static void escape(StringBuilder s, String value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '"' -> s.append("\\\"");
        case '\\' -> s.append("\\\\");
        case '\n' -> s.append("\\n");
        case '\r' -> s.append("\\r");
        case '\t' -> s.append("\\t");
        default -> {
          if (c < 0x20) {
            s.append(String.format("\\u%04x", (int) c));
          } else {
            s.append(c);
          }
        }
      }
    }
  }
}
