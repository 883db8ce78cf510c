package dev.conduit.core.internal.tunnel;

import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.InboundProtocol;
import io.netty.channel.Channel;

/** The tunnel server protocol: {@code CONNECT} only, see {@link ConnectServerHandler}. */
public final class TunnelServerProtocol implements InboundProtocol {
  public static final String HANDLER = "tunnel-connect";

  @Override
  public String name() {
    return "tunnel";
  }

  @Override
  public void init(Channel channel, InboundContext context) {
    channel.pipeline().addLast(HANDLER, new ConnectServerHandler(context));
  }
}
