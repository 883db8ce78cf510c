package dev.conduit.netfilter;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Runs the external tools (iptables-restore, ipset, nft, ip). Blocking: never call it on an event
 * loop. Tests replace it with a recording fake, or run everything inside a network namespace with
 * {@link #inNetworkNamespace(String)}.
 */
@FunctionalInterface
public interface CommandRunner {

  /**
   * Runs a command to completion. A non-zero exit is returned, not thrown.
   *
   * @param argv the program and its arguments
   * @param stdin the payload for standard input, empty for none
   * @return the exit code and captured output
   * @throws NetfilterException when the program cannot be started or times out
   */
  Result run(List<String> argv, String stdin) throws NetfilterException;

  /**
   * Runs a {@link Command}; a non-zero exit of a checked command throws.
   *
   * @param command the command
   * @return the result
   * @throws NetfilterException when the command fails and is checked, cannot start or times out
   */
  default Result run(Command command) throws NetfilterException {
    Result result = run(command.argv(), command.stdin());
    if (command.checked() && result.exitCode() != 0) {
      throw new NetfilterException("command failed (exit " + result.exitCode() + "): "
          + String.join(" ", command.argv()) + ": " + result.stderr().strip());
    }
    return result;
  }

  /**
   * Returns a runner that runs every command inside a network namespace ({@code ip netns exec}).
   *
   * @param namespace the namespace name
   * @return the wrapping runner
   */
  default CommandRunner inNetworkNamespace(String namespace) {
    requireNonNull(namespace, "namespace");
    CommandRunner self = this;
    return (argv, stdin) -> {
      List<String> wrapped = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
      wrapped.addAll(argv);
      return self.run(wrapped, stdin);
    };
  }

  /** Returns a runner that starts real processes, with a 30 second timeout per command. */
  static CommandRunner system() {
    return system(Duration.ofSeconds(30));
  }

  /**
   * Returns a runner that starts real processes.
   *
   * @param timeout the time limit per command, after which the process is killed
   * @return the runner
   */
  static CommandRunner system(Duration timeout) {
    requireNonNull(timeout, "timeout");
    return (argv, stdin) -> {
      Process process;
      try {
        process = new ProcessBuilder(argv).start();
      } catch (IOException e) {
        throw new NetfilterException("cannot run " + argv.get(0) + ": " + e.getMessage()
            + " (is it installed and on the PATH?)", e);
      }
      CompletableFuture<String> out = drain(process.getInputStream());
      CompletableFuture<String> err = drain(process.getErrorStream());
      try (OutputStream in = process.getOutputStream()) {
        in.write(stdin.getBytes(StandardCharsets.UTF_8));
      } catch (IOException e) {
        // the process exited without reading its input; its exit code and stderr say why
      }
      try {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          process.destroyForcibly();
          throw new NetfilterException(
              "command timed out after " + timeout + ": " + String.join(" ", argv));
        }
        return new Result(process.exitValue(), out.get(), err.get());
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
        throw new NetfilterException("interrupted while running " + String.join(" ", argv), e);
      } catch (ExecutionException e) {
        throw new NetfilterException("cannot read output of " + argv.get(0), e.getCause());
      }
    };
  }

  private static CompletableFuture<String> drain(InputStream stream) {
    // a thread of its own: blocking reads must not occupy the common pool
    return CompletableFuture.supplyAsync(() -> {
      try (stream) {
        return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }, task -> {
      Thread thread = new Thread(task, "conduit-command-output");
      thread.setDaemon(true);
      thread.start();
    });
  }

  /**
   * The outcome of a command.
   *
   * @param exitCode the exit code
   * @param stdout the standard output
   * @param stderr the standard error
   */
  record Result(int exitCode, String stdout, String stderr) {

    /** Returns whether the exit code is 0. */
    public boolean ok() {
      return exitCode == 0;
    }
  }
}
