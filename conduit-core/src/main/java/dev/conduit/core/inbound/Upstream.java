package dev.conduit.core.inbound;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.ConnectRequest;
import io.netty.channel.Channel;
import java.net.InetSocketAddress;

/**
 * A connected upstream: the channel, already through every hop's handshake, on the downstream's
 * event loop, with {@code AUTO_READ} off and no handlers left but conduit's own byte counters.
 *
 * @param channel the upstream channel
 * @param request the request it was dialed for
 * @param rule the name of the routing rule that matched
 * @param outbound the outbound it went through
 * @param remote the address conduit connected to (the destination, or the first hop)
 */
public record Upstream(Channel channel, ConnectRequest request, String rule, String outbound, InetSocketAddress remote) {
  /** Checks the components. */
  public Upstream {
    requireNonNull(channel, "channel");
    requireNonNull(request, "request");
    requireNonNull(rule, "rule");
    requireNonNull(outbound, "outbound");
    requireNonNull(remote, "remote");
  }
}
