package dev.conduit.cli;

/** An error meant for the user: printed as one line on standard error, then the process exits with {@link #exitCode()}. */
public final class CliException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int exitCode;

  private CliException(int exitCode, String message, Throwable cause) {
    super(message, cause);
    this.exitCode = exitCode;
  }

  /** Bad flags or arguments ({@link ExitCode#USAGE}). */
  public static CliException usage(String message) {
    return new CliException(ExitCode.USAGE, message, null);
  }

  /** The command failed ({@link ExitCode#FAILURE}). */
  public static CliException failure(String message) {
    return new CliException(ExitCode.FAILURE, message, null);
  }

  /** The command failed ({@link ExitCode#FAILURE}), with the cause for {@code --verbose}. */
  public static CliException failure(String message, Throwable cause) {
    return new CliException(ExitCode.FAILURE, message, cause);
  }

  /** The process exit code. */
  public int exitCode() {
    return exitCode;
  }
}
