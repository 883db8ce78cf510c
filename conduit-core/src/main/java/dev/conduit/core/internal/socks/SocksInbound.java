package dev.conduit.core.internal.socks;

import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.InboundProtocol;
import dev.conduit.core.inbound.SocksInboundOptions;
import io.netty.channel.Channel;
import io.netty.handler.codec.socksx.SocksPortUnificationServerHandler;

/** SOCKS4, 4a and 5 on one listener (Netty's version detection, then {@link SocksServerHandler}). */
public final class SocksInbound implements InboundProtocol {
  public static final String DETECT = "socks-detect";
  public static final String HANDLER = "socks-handler";

  private final SocksInboundOptions options;

  public SocksInbound(SocksInboundOptions options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "socks";
  }

  @Override
  public void init(Channel channel, InboundContext context) {
    install(channel, context, options);
  }

  /** Installs the SOCKS handlers at the pipeline's tail (also used by the mixed protocol). */
  public static void install(Channel channel, InboundContext context, SocksInboundOptions options) {
    channel.pipeline().addLast(DETECT, new SocksPortUnificationServerHandler());
    channel.pipeline().addLast(HANDLER, new SocksServerHandler(context, options));
  }
}
