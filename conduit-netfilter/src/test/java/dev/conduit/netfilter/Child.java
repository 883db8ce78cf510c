package dev.conduit.netfilter;

import dev.conduit.netfilter.testing.NetNs;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A child JVM started in a namespace ({@link NetNs#java}), whose output lines are collected. {@link
 * #close()} kills it (SIGKILL, by its own PID) if it still runs.
 */
final class Child implements AutoCloseable {
  final Process process;
  private final List<String> lines = new ArrayList<>();
  private final Thread reader;

  Child(Process process) {
    this.process = process;
    reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(
          new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = in.readLine()) != null) {
          synchronized (lines) {
            lines.add(line);
            lines.notifyAll();
          }
        }
      } catch (java.io.IOException e) {
        // the process went away
      }
    }, "child-output-" + process.pid());
    reader.setDaemon(true);
    reader.start();
  }

  static Child start(NetNs ns, Class<?> main, String... args) throws java.io.IOException {
    return new Child(ns.java(main, args));
  }

  /** Starts a main class with extra JVM options in a child JVM inside the namespace. */
  static Child start(NetNs ns, List<String> jvmOptions, Class<?> main, String... args)
      throws java.io.IOException {
    return new Child(ns.java(jvmOptions, main, args));
  }

  /** Waits up to {@code seconds} for a line matching {@code test}; fails with the output so far. */
  String await(Predicate<String> test, long seconds, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    synchronized (lines) {
      while (true) {
        for (String line : lines) {
          if (test.test(line)) {
            return line;
          }
        }
        long left = deadline - System.nanoTime();
        if (left <= 0 || (!process.isAlive() && left < TimeUnit.SECONDS.toNanos(seconds) - 1_000_000_000L)) {
          throw new AssertionError("no " + what + " within " + seconds + " s; output: " + lines);
        }
        lines.wait(Math.max(1, Math.min(200, TimeUnit.NANOSECONDS.toMillis(left))));
      }
    }
  }

  /** Waits up to {@code seconds} until more than {@code count} lines match {@code test}; returns how many do. */
  long awaitMoreThan(Predicate<String> test, long count, long seconds, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    synchronized (lines) {
      while (true) {
        long n = lines.stream().filter(test).count();
        if (n > count) {
          return n;
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new AssertionError("no more than " + count + " " + what + " within " + seconds + " s; output: " + lines);
        }
        lines.wait(Math.max(1, Math.min(200, TimeUnit.NANOSECONDS.toMillis(left))));
      }
    }
  }

  /** Writes one line to the child's standard input. */
  void send(String line) throws java.io.IOException {
    process.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
    process.getOutputStream().flush();
  }

  String awaitPrefix(String prefix, long seconds) throws InterruptedException {
    return await(l -> l.startsWith(prefix), seconds, "line starting with '" + prefix + "'");
  }

  List<String> lines() {
    synchronized (lines) {
      return List.copyOf(lines);
    }
  }

  /** Sends SIGTERM and waits for the exit; returns the exit code. */
  int terminate() throws InterruptedException {
    // ProcessHandle: Process.destroy() would also close our end of the child's stdout
    process.toHandle().destroy();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      throw new AssertionError("child did not exit within 30 s of SIGTERM; output: " + lines());
    }
    reader.join(10_000); // the last lines

    return process.exitValue();
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
    }
  }
}
