package dev.conduit.cli;

import dev.conduit.core.Conduit;
import dev.conduit.core.runtime.ConduitRuntime;
import dev.conduit.core.runtime.ConduitService;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * When a long-running command ({@code run}, {@code proxy}) stops. The default waits for SIGTERM or
 * SIGINT; tests supply their own to learn the bound ports and to stop the proxy.
 */
public interface RunControl {

  /** The longest the shutdown hook waits for a graceful stop. */
  Duration DRAIN_LIMIT = Duration.ofSeconds(60);

  /** Called once the conduit has bound its listeners. */
  void started(Conduit conduit);

  /**
   * Called once the command's runtime has started (every long-running command runs one). The default
   * calls {@link #started(Conduit)} with the runtime's first conduit, if it has one; a role without a
   * conduit (a manager) is a runtime all the same.
   */
  default void started(ConduitRuntime runtime) {
    runtime.service(ConduitService.class).map(ConduitService::conduit).ifPresent(this::started);
  }

  /** Blocks until the conduit should stop gracefully. */
  void awaitStop() throws InterruptedException;

  /**
   * Called after {@link #started} by {@code run -c} with the action that re-reads the configuration file
   * and applies it; the default control runs it on SIGHUP. Does nothing by default.
   */
  default void reloadable(Runnable reload) {}

  /**
   * Stops on SIGTERM or SIGINT, so the command can drain and exit with 0 (a plain shutdown hook
   * would leave the JVM's exit status 143). A second signal exits at once with 130. SIGHUP runs the
   * {@linkplain #reloadable reload action}. A shutdown hook
   * still stops the runtime (or the conduit), bounded by the drain timeout, when the JVM exits for another
   * reason.
   */
  static RunControl untilSignal() {
    return new RunControl() {
      private final CountDownLatch stop = new CountDownLatch(1);
      private final AtomicInteger signals = new AtomicInteger();
      private final AtomicReference<Runnable> stopRunning = new AtomicReference<>();

      @Override
      public void started(Conduit conduit) {
        installHandlers(() -> {
          try {
            conduit.stop().get(DRAIN_LIMIT.toMillis(), TimeUnit.MILLISECONDS);
          } catch (Exception e) {
            // exiting anyway
          }
        });
      }

      @Override
      public void started(ConduitRuntime runtime) {
        installHandlers(runtime::stop); // bounded by the runtime's drain deadline
      }

      private void installHandlers(Runnable stopOnExit) {
        stopRunning.set(stopOnExit);
        // installed only now: short commands keep the JVM's default signal handling
        for (String name : new String[] {"TERM", "INT"}) {
          try {
            sun.misc.Signal.handle(new sun.misc.Signal(name), s -> {
              Logger log = LoggerFactory.getLogger(RunControl.class);
              if (signals.incrementAndGet() > 1) {
                log.warn("second SIG{}: exiting without draining", name);
                Runtime.getRuntime().halt(130);
              }
              log.info("SIG{} received: stopping", name);
              stop.countDown();
            });
          } catch (IllegalArgumentException | UnsupportedOperationException e) {
            // this platform has no such signal; the shutdown hook below still stops the conduit
          }
        }
        Thread hook = new Thread(() -> {
          Runnable stop = stopRunning.get();
          if (stop != null) {
            stop.run();
          }
        }, "conduit-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
      }

      @Override
      public void reloadable(Runnable reload) {
        try {
          // sun.misc.Signal runs each handler call on a new thread: reloading there blocks no one
          sun.misc.Signal.handle(new sun.misc.Signal("HUP"), s -> {
            LoggerFactory.getLogger(RunControl.class).info("SIGHUP received: reloading the configuration");
            reload.run();
          });
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
          LoggerFactory.getLogger(RunControl.class).debug("no SIGHUP on this platform: {}", e.toString());
        }
      }

      @Override
      public void awaitStop() throws InterruptedException {
        stop.await();
      }
    };
  }
}
