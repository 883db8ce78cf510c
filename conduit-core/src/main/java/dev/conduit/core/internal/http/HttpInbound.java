package dev.conduit.core.internal.http;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.inbound.HttpInboundOptions;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.InboundProtocol;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;

/**
 * The HTTP proxy inbound protocol: absolute-form requests forwarded with keep-alive on both sides,
 * {@code CONNECT} tunnels, WebSocket upgrades passed through, Basic proxy authentication.
 *
 * <p>Downstream pipeline, after conduit's own handlers: {@link #HEAD_WATCH} (times request heads),
 * {@link #CODEC} ({@link HttpServerCodec}), {@link #HANDLER} ({@link HttpServerHandler}).
 */
public final class HttpInbound implements InboundProtocol {
  /** Handler name: notes when a request head starts arriving. */
  public static final String HEAD_WATCH = ConduitPipeline.HTTP_HEAD_WATCH;
  /** Handler name: the {@link HttpServerCodec}. */
  public static final String CODEC = ConduitPipeline.HTTP_CODEC;
  /** Handler name: the proxy logic. */
  public static final String HANDLER = ConduitPipeline.HTTP_HANDLER;

  /** Larger body pieces than the codec's default 8 KiB: fewer objects per read. */
  private static final int MAX_CHUNK_SIZE = 64 * 1024;

  private final HttpInboundOptions options;

  /** An HTTP inbound with these options. */
  public HttpInbound(HttpInboundOptions options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "http";
  }

  @Override
  public void init(Channel channel, InboundContext context) {
    install(channel, context, options);
  }

  /** Installs the HTTP proxy handlers at the pipeline's tail (also used by the mixed protocol). */
  public static void install(Channel channel, InboundContext context, HttpInboundOptions options) {
    HttpServerHandler handler = new HttpServerHandler(context, options);
    HttpDecoderConfig config = new HttpDecoderConfig()
        .setMaxInitialLineLength(options.maxInitialLineLength())
        .setMaxHeaderSize(options.maxHeaderSize())
        .setMaxChunkSize(MAX_CHUNK_SIZE);
    ChannelPipeline p = channel.pipeline();
    p.addLast(HEAD_WATCH, new HeadWatch(handler));
    p.addLast(CODEC, new HttpServerCodec(config));
    p.addLast(HANDLER, handler);
  }

  /**
   * Sees bytes before the codec does, so the handler knows when a request head starts arriving and
   * can bound the time it takes to complete, for every request on a keep-alive connection.
   */
  private static final class HeadWatch extends ChannelInboundHandlerAdapter {
    private final HttpServerHandler handler;

    HeadWatch(HttpServerHandler handler) {
      this.handler = handler;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      boolean started = handler.headBytesArriving();
      ctx.fireChannelRead(msg);
      if (started) {
        handler.headBytesConsumed();
      }
    }
  }
}
