package dev.conduit.core.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a command (curl, iptables, ...) with a time limit and captures its output. */
public final class Processes {
  private Processes() {}

  /** The result of a command. */
  public record Result(int exitCode, byte[] stdout, String stderr) {
    public String out() {
      return new String(stdout, StandardCharsets.UTF_8);
    }
  }

  /**
   * The command that starts a JVM like the one running the tests: its {@code java}, allowed the native
   * code (Netty's epoll, jnr-ffi) and, from JDK 23, jffi's {@code sun.misc.Unsafe} memory access, so that
   * newer JDKs write no warnings into the output a test reads.
   */
  public static List<String> java() {
    List<String> cmd = new java.util.ArrayList<>(List.of(
        java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=ALL-UNNAMED"));
    if (Runtime.version().feature() >= 23) {
      cmd.add("--sun-misc-unsafe-memory-access=allow");
    }
    return cmd;
  }

  /** Runs {@code command}, killing it (by its own pid) after {@code timeoutSeconds}. */
  public static Result run(long timeoutSeconds, List<String> command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.PIPE).start();
    p.getOutputStream().close();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    Thread t1 = pump(p.getInputStream(), out);
    Thread t2 = pump(p.getErrorStream(), err);
    if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      p.waitFor(5, TimeUnit.SECONDS);
      throw new AssertionError("command timed out after " + timeoutSeconds + " s: " + command);
    }
    t1.join(5000);
    t2.join(5000);
    return new Result(p.exitValue(), out.toByteArray(), err.toString(StandardCharsets.UTF_8));
  }

  /** Runs {@code command} with a 30 s limit. */
  public static Result run(String... command) throws IOException, InterruptedException {
    return run(30, List.of(command));
  }

  private static Thread pump(InputStream in, ByteArrayOutputStream sink) {
    Thread t = new Thread(() -> {
      try (in) {
        in.transferTo(sink);
      } catch (IOException ignored) {
        // the process went away
      }
    });
    t.setDaemon(true);
    t.start();
    return t;
  }

  /** Whether a command is on the PATH. */
  public static boolean available(String tool) {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      if (new java.io.File(dir, tool).canExecute()) {
        return true;
      }
    }
    return false;
  }

  /** Fails under CI=true when a tool is missing; otherwise skips the test. */
  public static void requireTool(String tool) {
    if (!available(tool)) {
      String msg = tool + " is not installed (apt-get install " + tool + ")";
      if ("true".equals(System.getenv("CI"))) {
        throw new AssertionError(msg + "; CI must have it");
      }
      org.junit.jupiter.api.Assumptions.abort(msg);
    }
  }
}
