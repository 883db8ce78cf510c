package dev.conduit.core.outbound;

import dev.conduit.core.ConnectRequest;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;

/**
 * Opens upstream connections: directly, or through an {@link Outbound}'s hops with failover across
 * each hop's endpoints. {@code Conduit} uses one internally; services that speak their own
 * protocols can use it to reach destinations the same way.
 */
public interface Dialer {

  /**
   * Dials {@code request.destination()} through {@code outbound} on {@code eventLoop}.
   *
   * @return a future completed on {@code eventLoop} with a connected channel (every hop's handshake
   *     done, {@code AUTO_READ} off), or with a {@link dev.conduit.core.DialException} saying why
   *     not, within the dial timeout
   */
  Future<Channel> dial(ConnectRequest request, Outbound outbound, EventLoop eventLoop);
}
