package dev.conduit.cli.config;

import java.util.Optional;

/**
 * A configuration error with its place: {@code conduit.yaml:12: unknown key 'listner' in listeners[0]
 * (expected one of: name, type, listen, ...)}. The message is one line, ready for the user.
 */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String file;
  private final int line;

  /**
   * An error at a line of a file.
   *
   * @param file the file name as the user gave it
   * @param line the 1-based line, or 0 when unknown
   * @param detail what is wrong and what was expected
   */
  public ConfigException(String file, int line, String detail) {
    super(format(file, line, detail));
    this.file = file;
    this.line = line;
  }

  /** An error without a place (e.g. a flag combination). */
  public ConfigException(String detail) {
    this(null, 0, detail);
  }

  private static String format(String file, int line, String detail) {
    if (file == null) {
      return detail;
    }
    return line > 0 ? file + ":" + line + ": " + detail : file + ": " + detail;
  }

  /** The file name, if the error is in a file. */
  public Optional<String> file() {
    return Optional.ofNullable(file);
  }

  /** The 1-based line, or 0 when unknown. */
  public int line() {
    return line;
  }
}
