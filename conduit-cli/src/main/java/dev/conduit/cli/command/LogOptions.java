package dev.conduit.cli.command;

import dev.conduit.cli.config.LogConfig;
import picocli.CommandLine.Option;

/** {@code --log-level}, {@code --log-format} and {@code --access-log}; flags win over the configuration file. */
final class LogOptions {

  @Option(names = "--log-level", paramLabel = "LEVEL",
      description = "trace, debug, info, warn or error (default: info, or the config file's log.level).")
  String level;

  @Option(names = "--log-format", paramLabel = "FORMAT",
      description = "text or json (default: text, or the config file's log.format).")
  String format;

  @Option(names = "--access-log", paramLabel = "FORMAT",
      description = "logfmt, json or off: one line per closed connection (default: logfmt, or log.access).")
  String access;

  LogConfig apply(LogConfig config) {
    LogConfig c = config;
    if (access != null) {
      c = c.withAccess(LogConfig.checkAccess(access));
    }
    if (level != null) {
      c = c.withLevel(LogConfig.checkLevel(level));
    }
    if (format != null) {
      c = c.withFormat(LogConfig.checkFormat(format));
    }
    return c;
  }
}
