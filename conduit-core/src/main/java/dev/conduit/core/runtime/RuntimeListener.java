package dev.conduit.core.runtime;

/**
 * Hears what a {@link ConduitRuntime} does to its services, for metrics, logs or tests (as a server
 * listener hears a server start and stop). Every method has an empty default, so a listener overrides
 * only what it needs.
 *
 * <p>Called synchronously on the thread that starts, reloads or stops the runtime, in the order the
 * events happen: a listener must return quickly and must not call back into the runtime. An exception
 * thrown by a listener is logged and ignored; it never changes what the runtime does.
 */
public interface RuntimeListener {

  /** Does nothing. */
  RuntimeListener NONE = new RuntimeListener() {};

  /**
   * The runtime moved to another state.
   *
   * @param state the new state
   */
  default void stateChanged(ConduitRuntime.State state) {}

  /**
   * A service started.
   *
   * @param service the service
   */
  default void started(Service service) {}

  /**
   * A service failed to start; the services started before it are closed next, in reverse.
   *
   * @param service the service
   * @param cause what it threw
   */
  default void startFailed(Service service, Throwable cause) {}

  /**
   * A service took a reload.
   *
   * @param service the service
   * @param outcome what it made of the new sections
   */
  default void reloaded(Service service, ReloadOutcome outcome) {}

  /**
   * A service failed to reload and keeps its running section.
   *
   * @param service the service
   * @param cause what it threw
   */
  default void reloadFailed(Service service, Throwable cause) {}

  /**
   * A service is about to be closed after its drain.
   *
   * @param service the service
   * @param inTime whether it drained by the deadline (false: it is cut off)
   */
  default void drained(Service service, boolean inTime) {}

  /**
   * A service was closed.
   *
   * @param service the service
   */
  default void closed(Service service) {}
}
