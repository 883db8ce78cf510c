package dev.conduit.core.internal.socks;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.InboundProtocol;
import dev.conduit.core.inbound.SocksInboundOptions;
import dev.conduit.core.observe.Outcome;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.socksx.SocksPortUnificationServerHandler;
import java.util.List;

/** SOCKS4, 4a and 5 on one listener (Netty's version detection, then {@link SocksServerHandler}). */
public final class SocksInbound implements InboundProtocol {
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
    channel.pipeline().addLast(ConduitPipeline.SOCKS_DETECT, new SocksPortUnificationServerHandler() {
      @Override
      protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
        // Netty's detector closes on an unknown version without a word: record why first
        if (in.isReadable()) {
          byte version = in.getByte(in.readerIndex());
          if (version != 4 && version != 5) {
            context.outcome(Outcome.PROTOCOL_ERROR, "not SOCKS (first byte 0x" + Integer.toHexString(version & 0xff) + ")");
          }
        }
        super.decode(ctx, in, out);
      }
    });
    channel.pipeline().addLast(ConduitPipeline.SOCKS_HANDLER, new SocksServerHandler(context, options));
  }
}
