package dev.conduit.cli;

/** The exit codes of the {@code conduit} command. */
public final class ExitCode {
  /** Success, including a graceful stop on SIGTERM/SIGINT. */
  public static final int OK = 0;
  /** The command ran and failed: a port in use, missing prerequisites, an unreadable file. */
  public static final int FAILURE = 1;
  /** Bad flags or a bad configuration file: nothing was done. */
  public static final int USAGE = 2;

  private ExitCode() {}
}
