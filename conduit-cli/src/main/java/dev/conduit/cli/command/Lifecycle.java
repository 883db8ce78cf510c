package dev.conduit.cli.command;

import static java.util.Objects.requireNonNull;

import dev.conduit.cli.CliContext;
import dev.conduit.cli.CliException;
import dev.conduit.cli.ExitCode;
import dev.conduit.cli.RunControl;
import dev.conduit.cli.logging.Logging;
import dev.conduit.core.runtime.ConduitRuntime;
import dev.conduit.core.runtime.ConfigSections;
import dev.conduit.core.runtime.ReloadReport;
import dev.conduit.core.runtime.ServiceStartException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.Callable;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one lifecycle of every long-running command ({@code proxy}, {@code run}, {@code cache serve}):
 * starts the command's {@link ConduitRuntime}, hands the {@link RunControl} the conduit and the reload
 * action (SIGHUP), waits for the stop signal, then stops the runtime (drain, close in reverse).
 */
final class Lifecycle {
  private static final Logger log = LoggerFactory.getLogger("conduit");

  private Lifecycle() {}

  /**
   * Runs {@code runtime} until the run control says stop.
   *
   * @param reread re-reads the configuration on reload, or null when there is nothing to re-read
   * @param startErrors turns a failed start into the command's one-line error
   * @return the exit code
   */
  static int run(ConduitRuntime runtime, CliContext context, Callable<ConfigSections> reread,
      Function<ServiceStartException, CliException> startErrors) throws InterruptedException {
    requireNonNull(runtime, "runtime");
    try {
      runtime.start();
    } catch (ServiceStartException e) {
      throw startErrors.apply(e);
    }
    runtime.admin().ifPresent(a -> log.info("admin endpoint on http://{}/ (metrics, healthz, readyz, connections,"
        + " config, {})", hostPort(a.address()), ConduitRuntime.STATUS_PATH.substring(1)));
    RunControl control = context.runControl();
    try {
      control.started(runtime);
      if (reread != null) {
        control.reloadable(() -> reload(runtime, reread));
      }
      control.awaitStop();
    } finally {
      boolean drained = runtime.stop();
      log.info(drained ? "stopped" : "stopped (some services did not drain in time)");
      Logging.flushAccessLog(); // last: it also stops the appender the other lines go to
    }
    return ExitCode.OK;
  }

  /**
   * Re-reads the configuration and hands it to the runtime's services. A configuration that does not
   * load is reported and the running one stays.
   *
   * @return whether every service took it
   */
  static boolean reload(ConduitRuntime runtime, Callable<ConfigSections> reread) {
    if (runtime.state() != ConduitRuntime.State.RUNNING) {
      return false;
    }
    ConfigSections next;
    try {
      next = reread.call();
    } catch (Exception e) {
      log.error("reload failed, keeping the running configuration: {}", oneLine(e));
      return false;
    }
    try {
      ReloadReport report = runtime.reload(next);
      // one line per reload, also when every service was unchanged (which logs nothing of its own)
      log.info("reload done: {}", report.outcomes().entrySet().stream()
          .map(e -> e.getKey() + " " + e.getValue().kind().name().toLowerCase(java.util.Locale.ROOT))
          .collect(java.util.stream.Collectors.joining(", ")) + (report.succeeded() ? "" : ", failed: "
          + String.join(", ", report.failures().keySet())));
      return report.succeeded();
    } catch (IllegalStateException stopping) {
      return false; // stopped meanwhile
    }
  }

  /** The default one-line error of a failed start: the service's own error, mapped to an exit code. */
  static CliException startError(ServiceStartException e) {
    Throwable cause = e.getCause();
    if (cause instanceof CliException c) {
      return c;
    }
    if (cause instanceof IllegalArgumentException) {
      return CliException.usage(cause.getMessage());
    }
    if (cause instanceof IOException io) {
      return CliException.failure(io(io), io);
    }
    return CliException.failure(e.getMessage(), cause);
  }

  /** An I/O error as a short line: the file and the reason. */
  static String io(IOException e) {
    if (e instanceof java.nio.file.NoSuchFileException n) {
      return n.getFile() + ": no such file";
    }
    if (e instanceof java.nio.file.AccessDeniedException d) {
      return d.getFile() + ": permission denied";
    }
    return e.getMessage() == null ? e.toString() : e.getMessage();
  }

  static String oneLine(Exception e) {
    String m = e instanceof IOException io ? io(io) : e.getMessage() == null ? e.toString() : e.getMessage();
    return m.strip().replaceAll("\\s*\\R\\s*", "; ");
  }

  static String hostPort(InetSocketAddress a) {
    String host = a.getAddress().getHostAddress();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
  }
}
