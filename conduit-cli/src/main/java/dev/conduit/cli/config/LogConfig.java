package dev.conduit.cli.config;

import static java.util.Objects.requireNonNull;

import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Logging: level, format and an optional file with size-based rotation (seed 000's {@code log} section).
 *
 * @param level {@code trace}, {@code debug}, {@code info}, {@code warn} or {@code error}
 * @param format {@code text} or {@code json}
 * @param file the log file; empty logs to standard error
 * @param maxSizeMegabytes rotate the file at this size; 0 never rotates
 * @param maxBackups rotated files kept
 * @param access the access log: {@code logfmt} (default), {@code json} or {@code off}; one line per
 *     closed connection on the {@code conduit.access} logger
 */
public record LogConfig(String level, String format, Optional<String> file, int maxSizeMegabytes, int maxBackups,
    String access) {

  /** The accepted levels. */
  public static final Set<String> LEVELS = Set.of("trace", "debug", "info", "warn", "error");
  /** The accepted formats. */
  public static final Set<String> FORMATS = Set.of("text", "json");
  /** The accepted access log formats. */
  public static final Set<String> ACCESS_FORMATS = Set.of("logfmt", "json", "off");

  private static final LogConfig DEFAULTS = new LogConfig("info", "text", Optional.empty(), 0, 3, "logfmt");

  public LogConfig {
    level = checkLevel(level);
    format = checkFormat(format);
    access = checkAccess(access);
    requireNonNull(file, "file");
    if (maxSizeMegabytes < 0 || maxBackups < 0) {
      throw new IllegalArgumentException("log: negative size or backups (expected: >= 0)");
    }
  }

  /** A configuration with the default access log ({@code logfmt}). */
  public LogConfig(String level, String format, Optional<String> file, int maxSizeMegabytes, int maxBackups) {
    this(level, format, file, maxSizeMegabytes, maxBackups, "logfmt");
  }

  /** Validates an access log format. */
  public static String checkAccess(String access) {
    String a = requireNonNull(access, "access").toLowerCase(Locale.ROOT);
    if (!ACCESS_FORMATS.contains(a)) {
      throw new IllegalArgumentException("access log: '" + access + "' (expected: logfmt, json or off)");
    }
    return a;
  }

  /** Info level, text, standard error, logfmt access log. */
  public static LogConfig defaults() {
    return DEFAULTS;
  }

  /** Validates a level name (case-insensitive; {@code warning} is accepted for {@code warn}). */
  public static String checkLevel(String level) {
    String l = requireNonNull(level, "level").toLowerCase(Locale.ROOT);
    if (l.equals("warning")) {
      l = "warn";
    }
    if (!LEVELS.contains(l)) {
      throw new IllegalArgumentException("log level: '" + level + "' (expected: trace, debug, info, warn or error)");
    }
    return l;
  }

  /** Validates a format name. */
  public static String checkFormat(String format) {
    String f = requireNonNull(format, "format").toLowerCase(Locale.ROOT);
    if (!FORMATS.contains(f)) {
      throw new IllegalArgumentException("log format: '" + format + "' (expected: text or json)");
    }
    return f;
  }

  /** This config with another level. */
  public LogConfig withLevel(String value) {
    return new LogConfig(value, format, file, maxSizeMegabytes, maxBackups, access);
  }

  /** This config with another format. */
  public LogConfig withFormat(String value) {
    return new LogConfig(level, value, file, maxSizeMegabytes, maxBackups, access);
  }

  /** This config with another access log format. */
  public LogConfig withAccess(String value) {
    return new LogConfig(level, format, file, maxSizeMegabytes, maxBackups, value);
  }
}
