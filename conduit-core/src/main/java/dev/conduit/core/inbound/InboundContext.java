package dev.conduit.core.inbound;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import dev.conduit.core.Timeouts;
import dev.conduit.core.observe.Outcome;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import java.net.InetSocketAddress;

/**
 * What conduit offers an {@link InboundProtocol} for one downstream connection. Every method must be
 * called on the connection's event loop.
 */
public interface InboundContext {

  /** The downstream connection. */
  ConnectionInfo connection();

  /** The conduit's time limits. */
  Timeouts timeouts();

  /**
   * Routes the request and dials it: directly or through the chosen outbound's hops, with failover
   * across endpoints, all within the dial timeout.
   *
   * @return a future completed on the connection's event loop, with the upstream or with a
   *     {@link dev.conduit.core.DialException} that says what to tell the client
   */
  Future<Upstream> connect(ConnectRequest request);

  /**
   * As {@link #connect}, routed and dialed the same way, but the upstream is <em>not</em> closed when
   * the downstream closes: the caller owns it and must close it. For work that outlives the client
   * that started it, such as a cache download other clients share.
   */
  default Future<Upstream> connectDetached(ConnectRequest request) {
    return connect(request);
  }

  /**
   * Starts relaying between the downstream and {@code upstream}: installs the relay at the tail of
   * both pipelines and starts reading. The protocol then removes its own handlers; bytes a removed
   * decoder still held (a client's early data) flow on to the relay and reach the upstream.
   */
  void relay(Upstream upstream);

  /**
   * Stops the negotiation timer without dialing: for protocols that answer a request themselves
   * (a cache hit, a synthetic response). {@link #connect} does it too.
   */
  default void negotiated() {
  }

  /**
   * Records how the connection ends when it does not reach the relay (bad request, failed
   * authentication, rejected, dial failure), for the access log and metrics.
   */
  void outcome(Outcome outcome, String detail);

  /**
   * Routes a datagram's destination under the rules in force and resolves it, for protocols that relay UDP
   * (SOCKS5 {@code UDP ASSOCIATE}). Datagrams go direct only: the future fails with a
   * {@link DialException} ({@code NOT_ALLOWED}) when a rule rejects the destination or sends it
   * through an outbound with hops, and ({@code HOST_UNREACHABLE}) when its name does not resolve. Observers are
   * not told of each datagram. Default: fails, datagrams are not routed.
   *
   * @return a future completed on the connection's event loop with the address to send to
   */
  default Future<InetSocketAddress> routeDatagram(ConnectRequest request) {
    return ImmediateEventExecutor.INSTANCE.newFailedFuture(
        new DialException(DialFailure.GENERAL, "this connection cannot route datagrams"));
  }

  /**
   * Whether {@code upstream} was routed under the rules and outbounds still in force. A protocol that reuses
   * an upstream for later requests (HTTP keep-alive) dials anew when they changed since (a reload), so the
   * rules in force decide every request. Known for the upstream this connection dialed last and for any
   * {@linkplain #connectDetached detached} upstream, whichever connection dialed it (so a pool shared between
   * connections can ask); {@code true} for others. Default: {@code true}.
   */
  default boolean isRoutedUnderCurrentRules(Upstream upstream) {
    return true;
  }

  /** Records the authenticated principal, for the access log. */
  void principal(String principal);

  /**
   * Counts one request on this connection, for {@link dev.conduit.core.observe.ConnectionSummary#requests()}.
   * Protocols that serve several requests per connection (HTTP keep-alive) call it once per request
   * they receive, whether or not it needs a dial; for protocols that never call it, each
   * {@link #connect} counts as one request.
   */
  default void requestReceived() {
  }

  /**
   * Whether conduit is overloaded ({@link dev.conduit.core.overload.OverloadLevel#refusesNewWork() refusing}):
   * a protocol then skips optional work that holds memory, such as sniffing a host name or interception.
   */
  default boolean overloaded() {
    return false;
  }
}
