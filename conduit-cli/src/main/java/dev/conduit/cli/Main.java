package dev.conduit.cli;

import java.io.PrintWriter;
import java.nio.charset.Charset;

/** The entry point of {@code conduit.jar}. */
public final class Main {
  private Main() {}

  /** Runs the command and exits with its code. */
  public static void main(String[] args) {
    Charset cs = Charset.defaultCharset();
    PrintWriter out = new PrintWriter(new java.io.OutputStreamWriter(System.out, cs), true);
    PrintWriter err = new PrintWriter(new java.io.OutputStreamWriter(System.err, cs), true);
    int code = ConduitCommand.execute(out, err, CliContext.system(), args);
    System.exit(code);
  }
}
