package dev.conduit.cli.command;

import dev.conduit.cli.config.LogConfig;
import picocli.CommandLine.Option;

/** {@code --log-level} and {@code --log-format}; flags win over the configuration file. */
final class LogOptions {

  @Option(names = "--log-level", paramLabel = "LEVEL",
      description = "trace, debug, info, warn or error (default: info, or the config file's log.level).")
  String level;

  @Option(names = "--log-format", paramLabel = "FORMAT",
      description = "text or json (default: text, or the config file's log.format).")
  String format;

  LogConfig apply(LogConfig config) {
    LogConfig c = config;
    if (level != null) {
      c = c.withLevel(LogConfig.checkLevel(level));
    }
    if (format != null) {
      c = c.withFormat(LogConfig.checkFormat(format));
    }
    return c;
  }
}
