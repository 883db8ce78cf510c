package dev.conduit.cli;

import dev.conduit.core.Conduit;
import dev.conduit.netfilter.CommandRunner;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs {@code conduit} in-process through the single factory, capturing its output in
 * StringWriters (kcctl's harness, not jbang's System.setOut).
 */
public final class Cli {

  /** The outcome of one run. */
  public record Result(int exitCode, String out, String err) {
    /** The error output's lines. */
    public java.util.List<String> errLines() {
      return err.lines().toList();
    }

    @Override
    public String toString() {
      return "exit " + exitCode + "\n--- out\n" + out + "--- err\n" + err;
    }
  }

  private Cli() {}

  /** Runs a short command (anything but run/proxy) with real processes for netfilter. */
  public static Result run(String... args) {
    return run(CommandRunner.system(), args);
  }

  /** Runs a short command with this netfilter runner. */
  public static Result run(CommandRunner runner, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    RunControl refuse = new RunControl() {
      @Override
      public void started(Conduit conduit) {}

      @Override
      public void awaitStop() {}
    };
    int code = ConduitCommand.execute(new PrintWriter(out), new PrintWriter(err), new CliContext(refuse, runner), args);
    return new Result(code, out.toString(), err.toString());
  }

  /** Starts a long-running command (run, proxy) on a thread of its own. */
  public static Running start(String... args) {
    return new Running(args);
  }

  /** A running {@code run}/{@code proxy}; {@link #stop()} is the test's SIGTERM. */
  public static final class Running implements AutoCloseable {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();
    private final CompletableFuture<Conduit> started = new CompletableFuture<>();
    private final CountDownLatch stop = new CountDownLatch(1);
    private final CompletableFuture<Integer> exit = new CompletableFuture<>();
    private final CompletableFuture<Runnable> reload = new CompletableFuture<>();

    Running(String[] args) {
      RunControl control = new RunControl() {
        @Override
        public void started(Conduit conduit) {
          started.complete(conduit);
        }

        @Override
        public void reloadable(Runnable action) {
          reload.complete(action);
        }

        @Override
        public void awaitStop() throws InterruptedException {
          stop.await();
        }
      };
      Thread t = new Thread(() -> {
        try {
          exit.complete(ConduitCommand.execute(new PrintWriter(out), new PrintWriter(err),
              new CliContext(control, CommandRunner.system()), args));
        } catch (Throwable e) {
          exit.completeExceptionally(e);
        }
      }, "cli-under-test");
      t.setDaemon(true);
      t.start();
    }

    /** The started conduit; fails with the command's output when it exited instead. */
    public Conduit conduit() throws InterruptedException, ExecutionException, TimeoutException {
      CompletableFuture.anyOf(started, exit).get(120, TimeUnit.SECONDS);
      if (!started.isDone()) {
        throw new AssertionError("exited before starting: " + result(Duration.ofSeconds(1)));
      }
      return started.get();
    }

    /** What SIGHUP does: re-reads the configuration file and applies it (run -c only). */
    public void reload() throws Exception {
      reload.get(120, TimeUnit.SECONDS).run();
    }

    /** Asks the command to stop gracefully and returns its result. */
    public Result stop() throws Exception {
      stop.countDown();
      return result(Duration.ofSeconds(40));
    }

    /** The result once the command has exited. */
    public Result result(Duration limit) throws InterruptedException, ExecutionException, TimeoutException {
      int code = exit.get(limit.toMillis(), TimeUnit.MILLISECONDS);
      return new Result(code, out.toString(), err.toString());
    }

    @Override
    public void close() throws Exception {
      stop.countDown();
      try {
        exit.get(40, TimeUnit.SECONDS);
      } catch (ExecutionException | TimeoutException e) {
        // reported by the test that waited for it
      }
    }
  }
}
