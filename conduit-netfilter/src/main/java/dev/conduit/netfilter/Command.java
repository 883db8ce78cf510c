package dev.conduit.netfilter;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * One command a backend runs: its arguments, the payload fed to its standard input (empty for none)
 * and whether a non-zero exit is an error ({@code checked}) or expected (deleting what may be
 * absent). {@link #toString()} is the exact shell form printed by dry runs.
 *
 * @param argv the program and its arguments
 * @param stdin the standard input payload, empty for none
 * @param checked whether a non-zero exit fails the operation
 */
public record Command(List<String> argv, String stdin, boolean checked) {

  /**
   * Validates and copies.
   *
   * @param argv the program and its arguments
   * @param stdin the standard input
   * @param checked whether failure is an error
   */
  public Command {
    argv = List.copyOf(requireNonNull(argv, "argv"));
    if (argv.isEmpty()) {
      throw new IllegalArgumentException("argv: [] (expected: a program)");
    }
    requireNonNull(stdin, "stdin");
  }

  /**
   * A checked command without input.
   *
   * @param argv the program and its arguments
   * @return the command
   */
  public static Command of(String... argv) {
    return new Command(List.of(argv), "", true);
  }

  /**
   * A command whose failure is expected and ignored (e.g. deleting something that may be absent).
   *
   * @param argv the program and its arguments
   * @return the command
   */
  public static Command ignoringFailure(String... argv) {
    return new Command(List.of(argv), "", false);
  }

  /**
   * A checked command reading a payload from standard input.
   *
   * @param stdin the payload
   * @param argv the program and its arguments
   * @return the command
   */
  public static Command withInput(String stdin, String... argv) {
    return new Command(List.of(argv), stdin, true);
  }

  /** Returns the shell form: the command line, then the payload as a here-document. */
  @Override
  public String toString() {
    StringBuilder s = new StringBuilder(String.join(" ", argv));
    if (!checked) {
      s.append(" || true");
    }
    if (!stdin.isEmpty()) {
      s.append(" <<'EOF'\n").append(stdin);
      if (!stdin.endsWith("\n")) {
        s.append('\n');
      }
      s.append("EOF");
    }
    return s.toString();
  }
}
