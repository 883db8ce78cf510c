package dev.conduit.core.observe;

import dev.conduit.core.ConduitResources;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.DialException;
import dev.conduit.core.route.Router;
import dev.conduit.core.overload.OverloadStatus;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * Callbacks on a connection's life, for metrics, access logs and live connection lists.
 *
 * <p>Events nest as: {@code accepted} → ({@code routed} → {@code dialStarted} → {@code dialSucceeded}
 * | {@code dialFailed})* → {@code closed}. HTTP keep-alive connections may route and dial several
 * times. Callbacks run on the connection's event loop: they must be fast, must not block and must
 * not throw (an exception is logged and ignored). Every method has an empty default.
 *
 * <p>Before any connection, {@link #conduitStarted} tells the observer about the conduit it watches
 * (its event loops, whether it drains), so an observer can gauge those without being told twice.
 */
public interface ConnectionObserver {

  /** Observes nothing. */
  ConnectionObserver NONE = new ConnectionObserver() { };

  /**
   * The conduit this observer is attached to has started; called once per start, on the thread that
   * called {@code start()}, before that call returns.
   *
   * @param resources the conduit's event loops and allocator
   * @param draining true while the conduit drains before stopping (and after it stopped)
   */
  default void conduitStarted(ConduitResources resources, BooleanSupplier draining) {}

  /** A connection was accepted. */
  default void accepted(ConnectionInfo connection) {}

  /** A request was routed. */
  default void routed(ConnectRequest request, Router.Match match) {}

  /** A dial started through {@code outbound}. */
  default void dialStarted(ConnectRequest request, String outbound) {}

  /** A dial succeeded. */
  default void dialSucceeded(ConnectRequest request, String outbound, InetSocketAddress remote, Duration elapsed) {}

  /** A dial failed. */
  default void dialFailed(ConnectRequest request, String outbound, DialException cause, Duration elapsed) {}

  /** A connection closed. */
  default void closed(ConnectionSummary summary) {}

  /**
   * The overload manager's reading, on its own thread at every check interval (default 100 ms): for gauges.
   * Must return at once.
   */
  default void overload(OverloadStatus status) {}

  /** An observer that calls each of {@code observers} in turn. */
  static ConnectionObserver composite(List<ConnectionObserver> observers) {
    List<ConnectionObserver> list = List.copyOf(observers);
    if (list.isEmpty()) {
      return NONE;
    }
    if (list.size() == 1) {
      return list.get(0);
    }
    return new ConnectionObserver() {
      @Override
      public void conduitStarted(ConduitResources resources, BooleanSupplier draining) {
        list.forEach(o -> o.conduitStarted(resources, draining));
      }

      @Override
      public void accepted(ConnectionInfo c) {
        list.forEach(o -> o.accepted(c));
      }

      @Override
      public void overload(OverloadStatus status) {
        list.forEach(o -> o.overload(status));
      }

      @Override
      public void routed(ConnectRequest r, Router.Match m) {
        list.forEach(o -> o.routed(r, m));
      }

      @Override
      public void dialStarted(ConnectRequest r, String outbound) {
        list.forEach(o -> o.dialStarted(r, outbound));
      }

      @Override
      public void dialSucceeded(ConnectRequest r, String outbound, InetSocketAddress remote, Duration d) {
        list.forEach(o -> o.dialSucceeded(r, outbound, remote, d));
      }

      @Override
      public void dialFailed(ConnectRequest r, String outbound, DialException e, Duration d) {
        list.forEach(o -> o.dialFailed(r, outbound, e, d));
      }

      @Override
      public void closed(ConnectionSummary s) {
        list.forEach(o -> o.closed(s));
      }
    };
  }
}
