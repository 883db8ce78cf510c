package dev.conduit.junit5;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.observe.ConnectionObserver;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.route.Router;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;

/**
 * An observer that keeps what conduit reports, for assertions: each routed request and each closed
 * connection's summary. The await methods wait for the event itself (no polling, no sleeping): a connection's
 * summary arrives when conduit has closed it, which may be just after the client saw its response.
 *
 * <p>Memory is bounded: at most {@value #MAX_EVENTS} of each kind are kept, the oldest dropped first.
 */
public final class RecordingObserver implements ConnectionObserver {

  /** The most requests and summaries kept. */
  public static final int MAX_EVENTS = 10_000;

  private final List<ConnectRequest> requests = new ArrayList<>();
  private final List<ConnectionSummary> closed = new ArrayList<>();

  /** An empty recorder. */
  public RecordingObserver() {}

  @Override
  public synchronized void routed(ConnectRequest request, Router.Match match) {
    add(requests, request);
    notifyAll();
  }

  @Override
  public synchronized void closed(ConnectionSummary summary) {
    add(closed, summary);
    notifyAll();
  }

  private static <T> void add(List<T> list, T item) {
    if (list.size() == MAX_EVENTS) {
      list.remove(0);
    }
    list.add(item);
  }

  /** The requests routed so far, oldest first. */
  public synchronized List<ConnectRequest> requests() {
    return List.copyOf(requests);
  }

  /** The summaries of the connections closed so far, oldest first. */
  public synchronized List<ConnectionSummary> closedConnections() {
    return List.copyOf(closed);
  }

  /** Forgets everything recorded (e.g. between tests that share the proxy). */
  public synchronized void clear() {
    requests.clear();
    closed.clear();
  }

  /**
   * Waits until a closed connection's summary matches.
   *
   * @param condition what the summary must satisfy
   * @param timeout how long to wait at most
   * @return the first matching summary
   * @throws TimeoutException when none matched in time, listing what was recorded
   * @throws InterruptedException when interrupted while waiting
   */
  public ConnectionSummary awaitClosed(Predicate<ConnectionSummary> condition, Duration timeout)
      throws TimeoutException, InterruptedException {
    requireNonNull(condition, "condition");
    requireNonNull(timeout, "timeout");
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (this) {
      while (true) {
        for (ConnectionSummary s : closed) {
          if (condition.test(s)) {
            return s;
          }
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new TimeoutException("no matching connection closed within " + timeout + "; closed: " + closed);
        }
        wait(Math.max(1, left / 1_000_000));
      }
    }
  }
}
