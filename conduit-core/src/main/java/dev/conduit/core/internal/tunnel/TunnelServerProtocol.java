package dev.conduit.core.internal.tunnel;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.InboundProtocol;
import dev.conduit.core.internal.connection.ConnectionState;
import io.netty.channel.Channel;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslHandler;

/**
 * The tunnel server protocol: {@code CONNECT} only. When TLS negotiated ALPN {@code h2}, the connection
 * carries many tunnels as HTTP/2 streams ({@link H2TunnelServer}); otherwise one HTTP/1.1 tunnel
 * ({@link ConnectServerHandler}).
 */
public final class TunnelServerProtocol implements InboundProtocol {
  @Override
  public String name() {
    return "tunnel";
  }

  @Override
  public void init(Channel channel, InboundContext context) {
    SslHandler ssl = channel.pipeline().get(SslHandler.class);
    if (ssl != null && ApplicationProtocolNames.HTTP_2.equals(ssl.applicationProtocol())
        && context instanceof ConnectionState connection) {
      H2TunnelServer.install(channel, connection);
      return;
    }
    channel.pipeline().addLast(ConduitPipeline.TUNNEL_CONNECT, new ConnectServerHandler(context));
  }
}
