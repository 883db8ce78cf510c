package dev.conduit.core.inbound;

import io.netty.channel.Channel;

/**
 * A downstream protocol: installs its handlers on each accepted channel, decodes the client's
 * request into a {@link dev.conduit.core.ConnectRequest}, asks its {@link InboundContext} to route
 * and dial, writes the protocol's reply and hands the connection to the relay.
 *
 * <p>Built-in protocols come from {@link InboundProtocols}. Other modules add their own (the
 * transparent listener of conduit-netfilter, the tunnel server, the MITM proxy). Accepted channels
 * start with {@code AUTO_READ} off and one {@code read()} requested; a protocol asks for more with
 * {@code read()} as it needs, so no client can make conduit buffer without bound.
 */
public interface InboundProtocol {

  /** A short name for logs, metrics and access logs ({@code http}, {@code socks}, {@code mixed}, ...). */
  String name();

  /**
   * Installs the protocol's handlers on a freshly accepted channel. Called on the channel's event
   * loop, before the first read.
   *
   * @param channel the downstream channel
   * @param context the connection's services: routing, dialing, relaying, timeouts
   */
  void init(Channel channel, InboundContext context);
}
