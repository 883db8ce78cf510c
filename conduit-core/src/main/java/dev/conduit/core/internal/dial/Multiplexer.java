package dev.conduit.core.internal.dial;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.Destination;
import dev.conduit.core.outbound.Hop;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;

/**
 * How {@link ChainDialer} reaches a multiplexed hop ({@link Hop#multiplex()}): a tunnel opened as a stream of a
 * pooled connection rather than a connection of its own. The dialer knows only this interface; the HTTP/2 pool
 * that implements it depends on the dialer's error mapping, not the other way round.
 */
public interface Multiplexer {

  /**
   * Opens a tunnel to {@code request}'s destination through {@code endpoint} of {@code hop}, on {@code loop}
   * (called on it). The future completes with a channel that carries the tunnel's bytes, or fails with a
   * {@link MultiplexFailure} (including when nothing happened within {@code timeoutMillis}).
   */
  Future<Channel> open(Hop hop, Destination endpoint, ConnectRequest request, EventLoop loop, long timeoutMillis);

  /** The number of open pooled connections (for tests and diagnostics; may lag). */
  int connectionCount();

  /** Closes every pooled connection, and the tunnels on them. */
  void close();
}
