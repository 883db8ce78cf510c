package dev.conduit.core.runtime;

import dev.conduit.core.admin.AdminServer;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * One part of a running conduit process that a {@link ConduitRuntime} starts, reloads, drains and
 * closes: a conduit, a capture, a cache, a mesh plan, or a role of one's own.
 *
 * <p>The runtime calls {@link #start()} in the order the services were added, {@link #reload} in the
 * same order, then at stop {@link #drain} in reverse order (all drains share one deadline) and
 * {@link #close()} in reverse order. A service whose start fails cleans up after itself; the runtime
 * then closes the services already started, in reverse.
 *
 * <p>Each method is called from one thread at a time, never from an event loop: a service may block
 * (run iptables, read files) but should not block for long in {@link #reload}.
 */
public interface Service {

  /** A short name for logs and reports, such as {@code conduit} or {@code capture}. */
  String name();

  /**
   * Starts serving.
   *
   * @throws Exception when the service cannot start; it releases what it acquired before throwing
   */
  void start() throws Exception;

  /**
   * Takes a new configuration (SIGHUP): the service reads its own typed section from {@code sections}
   * and applies it, or answers that the change needs a restart. The default changes nothing.
   *
   * @param sections the new configuration, one typed section per role
   * @return what became of the change
   * @throws Exception when the new section cannot be applied; the service keeps its running one
   */
  default ReloadOutcome reload(ConfigSections sections) throws Exception {
    return ReloadOutcome.unchanged();
  }

  /**
   * Stops taking new work and lets work in progress finish, by {@code deadline} at the latest. Must
   * not block: the returned stage completes when the service has drained. The runtime closes the
   * service when the stage completes or the deadline passes, whichever is first. The default has
   * nothing to drain.
   *
   * @param deadline when the runtime stops waiting (by the runtime's clock)
   * @return completes when drained
   */
  default CompletionStage<Void> drain(Instant deadline) {
    return CompletableFuture.completedFuture(null);
  }

  /**
   * Mounts this service's part of the admin endpoint: its routes under its own prefix
   * ({@link AdminServer.Builder#route}), and, for the service that owns them, the conduit behind
   * {@code /connections}, the metrics and the readiness. Called after this service started and
   * before the endpoint binds. The default mounts nothing.
   *
   * @param admin the endpoint being built
   */
  default void mount(AdminServer.Builder admin) {}

  /**
   * Releases everything; work still in progress is cut off. Idempotent, and safe after a drain that
   * did not finish.
   *
   * @throws Exception when something could not be released (logged by the runtime)
   */
  void close() throws Exception;

  /**
   * A service that starts nothing and closes {@code resource} at close, e.g. a metrics registry or
   * the event loops shared by several conduits.
   *
   * @param name the service's name
   * @param resource what to close
   * @return the service
   */
  static Service closing(String name, AutoCloseable resource) {
    java.util.Objects.requireNonNull(name, "name");
    java.util.Objects.requireNonNull(resource, "resource");
    return new Service() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public void start() {}

      @Override
      public void close() throws Exception {
        resource.close();
      }

      @Override
      public String toString() {
        return name;
      }
    };
  }
}
