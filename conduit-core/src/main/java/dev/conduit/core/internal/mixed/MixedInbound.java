package dev.conduit.core.internal.mixed;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.internal.connection.ConnectionState;
import dev.conduit.core.internal.connection.ListenerInitializer;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.InboundProtocol;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;
import java.util.function.BiConsumer;
import dev.conduit.core.observe.Outcome;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTP and SOCKS on one port: the first byte decides (4 or 5: SOCKS; anything else: HTTP). One byte
 * is enough and waiting for more could deadlock a SOCKS5 client whose greeting is three bytes.
 */
public final class MixedInbound implements InboundProtocol {
  private static final Logger log = LoggerFactory.getLogger(MixedInbound.class);

  private final BiConsumer<Channel, InboundContext> http;
  private final BiConsumer<Channel, InboundContext> socks;

  public MixedInbound(BiConsumer<Channel, InboundContext> http, BiConsumer<Channel, InboundContext> socks) {
    this.http = http;
    this.socks = socks;
  }

  @Override
  public String name() {
    return "mixed";
  }

  @Override
  public void init(Channel channel, InboundContext context) {
    channel.pipeline().addLast(ConduitPipeline.MIXED_DETECT, new Detector(context));
  }

  private final class Detector extends ByteToMessageDecoder {
    private final InboundContext context;

    Detector(InboundContext context) {
      this.context = context;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
      if (!in.isReadable()) {
        return;
      }
      byte first = in.getByte(in.readerIndex());
      Channel ch = ctx.channel();
      boolean isSocks = first == 4 || first == 5;
      if (context instanceof ConnectionState state) {
        state.protocolDetected(isSocks ? "socks" : "http"); // logs and meters say which one, not "mixed"
      }
      try {
        (isSocks ? socks : http).accept(ch, context);
      } catch (RuntimeException e) {
        // a protocol that cannot start costs this connection only
        log.warn("[{}] {} protocol failed to start: {}", context.connection().id(), isSocks ? "socks" : "http",
            e.toString());
        context.outcome(Outcome.ERROR, (isSocks ? "socks" : "http") + " protocol failed to start: " + e);
        in.skipBytes(in.readableBytes());
        ctx.close();
        return;
      }
      if (context instanceof ConnectionState state) {
        // the protocol's handlers were appended after the last-resort handler: move it back to the tail
        ListenerInitializer.addLastResort(ch, state);
      }
      // the protocol's handlers sit after this one; removing it hands them the buffered bytes
      ctx.pipeline().remove(this);
    }
  }
}
