package dev.conduit.core.internal.tunnel;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.internal.multiplex.H2Settings;
import dev.conduit.core.internal.multiplex.StreamAdapter;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.Destination;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import dev.conduit.core.inbound.DrainEvent;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.internal.transport.ChannelTuning;
import dev.conduit.core.internal.connection.ConnectionState;
import dev.conduit.core.internal.connection.ListenerInitializer;
import dev.conduit.core.observe.Outcome;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tunnel server's HTTP/2 side: each stream of the connection is one tunnel, a connection of its own for
 * routing, observers and the access log ({@link ConnectionState#openStream}), authorized by the connection's
 * TLS peer. A stream carries {@code :method CONNECT} with {@code :authority host:port} (and optionally
 * {@code forwarded}); it is answered {@code :status 200} (no END_STREAM) and relayed, or refused with the
 * status and {@code proxy-status} of the HTTP/1.1 tunnel plus END_STREAM, which leaves the other streams be.
 */
final class H2TunnelServer {
  private static final Logger log = LoggerFactory.getLogger(H2TunnelServer.class);

  private H2TunnelServer() {}

  /** Makes {@code ch} (TLS done, ALPN {@code h2}) an HTTP/2 tunnel server connection. */
  static void install(Channel ch, ConnectionState connection) {
    // frames are read as they come: flow control, not reads, bounds what the streams buffer
    ch.config().setAutoRead(true);
    // an end of input ends the connection (HTTP/2 has no use for a half-closed TCP connection)
    ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, false);
    Http2FrameCodec codec = Http2FrameCodecBuilder.forServer().initialSettings(H2Settings.server())
        .decoderEnforceMaxRstFramesPerWindow(H2Settings.MAX_RESETS_PER_WINDOW, H2Settings.RESET_WINDOW_SECONDS).build();
    // DATA frames span TLS records: composing them saves a copy of every tunnelled byte
    codec.setCumulator(io.netty.handler.codec.ByteToMessageDecoder.COMPOSITE_CUMULATOR);
    ch.pipeline().addLast(ConduitPipeline.H2_CODEC, codec);
    ch.pipeline().addLast(ConduitPipeline.H2_STREAMS, new Http2MultiplexHandler(new StreamInitializer(connection)));
    Duration idle = connection.timeouts().relayIdle();
    if (!idle.isZero()) {
      ch.pipeline().addLast(ConduitPipeline.H2_IDLE, new IdleStateHandler(0, 0, idle.toMillis(), TimeUnit.MILLISECONDS));
    }
    ch.pipeline().addLast(ConduitPipeline.H2_EVENTS, new ConnectionEvents(codec, connection, idle));
    H2Settings.growConnectionWindow(ch);
    log.debug("[{}] HTTP/2 tunnel connection", connection.connection().id());
  }

  /**
   * Closes a connection without streams that saw no traffic for the relay idle timeout, and on a graceful stop
   * closes the HTTP/2 way: GOAWAY, then the close once the open streams are done.
   */
  private static final class ConnectionEvents extends ChannelInboundHandlerAdapter {
    private final Http2FrameCodec codec;
    private final ConnectionState connection;
    private final Duration idle;

    ConnectionEvents(Http2FrameCodec codec, ConnectionState connection, Duration idle) {
      this.codec = codec;
      this.connection = connection;
      this.idle = idle;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof IdleStateEvent) {
        if (codec.connection().numActiveStreams() == 0) {
          log.debug("[{}] HTTP/2 tunnel connection idle, closing", connection.connection().id());
          connection.outcome(Outcome.IDLE_TIMEOUT, "no stream and no traffic for " + idle.toMillis() + " ms");
          ctx.channel().close();
        }
        return;
      }
      if (evt instanceof DrainEvent) {
        // the codec's close sends GOAWAY and waits for the streams under way
        ctx.channel().close();
        return;
      }
      ctx.fireUserEventTriggered(evt);
    }
  }

  /** Sets up each stream the client opens. Shared by the streams of one connection. */
  private static final class StreamInitializer extends ChannelInitializer<Http2StreamChannel> {
    private final ConnectionState connection;

    StreamInitializer(ConnectionState connection) {
      this.connection = connection;
    }

    @Override
    protected void initChannel(Http2StreamChannel ch) {
      // read only when the relay asks: what a stream buffers is bounded by its flow-control window
      ch.config().setAutoRead(false);
      ch.config().setRecvByteBufAllocator(H2Settings.STREAM_READS);
      ch.config().setWriteBufferWaterMark(ChannelTuning.WATER_MARK);
      ConnectionState stream = connection.openStream(ch, ch.stream().id(), ConduitPipeline.H2_STREAM, new StreamAdapter(false));
      ch.pipeline().addLast(ConduitPipeline.TUNNEL_CONNECT, new StreamConnectHandler(stream));
      ListenerInitializer.addLastResort(ch, stream);
    }
  }

  /** One stream's {@code CONNECT}: routes, dials, answers, then hands the stream to the relay. */
  static final class StreamConnectHandler extends ChannelInboundHandlerAdapter {
    private final ConnectionState context;
    private final List<ByteBuf> early = new ArrayList<>();
    private boolean requested;
    private boolean relaying;

    StreamConnectHandler(ConnectionState context) {
      this.context = context;
    }

    private String id() {
      return context.connection().id();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      ctx.read();
      ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (relaying) {
        ctx.fireChannelRead(msg);
      } else if (msg instanceof Http2HeadersFrame headers && !requested) {
        requested = true;
        onRequest(ctx, headers.headers());
      } else if (msg instanceof ByteBuf buf && requested) {
        early.add(buf); // sent before the answer: goes to the destination first
      } else {
        ReferenceCountUtil.release(msg);
      }
    }

    private void onRequest(ChannelHandlerContext ctx, Http2Headers headers) {
      CharSequence method = headers.method();
      if (method == null || !"CONNECT".contentEquals(method)) {
        Http2Headers extra = new DefaultHttp2Headers().set("allow", "CONNECT");
        refuse(ctx, 405, Outcome.PROTOCOL_ERROR, "method " + (method == null ? "(none)"
            : ConnectServerHandler.printable(method.toString())) + " (this listener only tunnels with CONNECT)", extra);
        return;
      }
      CharSequence authority = headers.authority();
      if (authority == null || authority.length() == 0) {
        refuse(ctx, 400, Outcome.PROTOCOL_ERROR, "CONNECT without :authority", null);
        return;
      }
      Destination dst;
      try {
        dst = ConnectServerHandler.parseAuthority(authority.toString());
      } catch (IllegalArgumentException e) {
        refuse(ctx, 400, Outcome.PROTOCOL_ERROR, "CONNECT target: " + e.getMessage(), null);
        return;
      }
      CharSequence forwarded = headers.get("forwarded");
      log.debug("[{}] CONNECT {} over HTTP/2 ({})", id(), dst, forwarded == null ? "no forwarded header" : forwarded);
      context.connect(ConnectRequest.of(context.connection(), dst)).addListener((Future<Upstream> f) -> {
        if (!ctx.channel().isActive()) {
          if (f.isSuccess()) {
            f.getNow().channel().close();
          }
          releaseEarly();
          return;
        }
        if (f.isSuccess()) {
          onConnected(ctx, f.getNow());
        } else {
          onFailed(ctx, f.cause());
        }
      });
    }

    private void onConnected(ChannelHandlerContext ctx, Upstream up) {
      ctx.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200")));
      for (ByteBuf buf : early) {
        up.channel().write(buf, up.channel().voidPromise());
      }
      early.clear();
      up.channel().flush();
      relaying = true;
      context.relay(up);
      ctx.pipeline().remove(this);
    }

    private void onFailed(ChannelHandlerContext ctx, Throwable cause) {
      DialFailure failure = cause instanceof DialException d ? d.failure() : DialFailure.GENERAL;
      Http2Headers extra = new DefaultHttp2Headers()
          .set("proxy-status", ConnectServerHandler.proxyStatusValue(failure, cause.getMessage()));
      refuse(ctx, failure.httpStatus(), failure == DialFailure.NOT_ALLOWED ? Outcome.REJECTED : Outcome.DIAL_FAILED,
          String.valueOf(cause.getMessage()), extra);
    }

    private void refuse(ChannelHandlerContext ctx, int status, Outcome outcome, String detail, Http2Headers extra) {
      log.debug("[{}] {}: {}", id(), status, detail);
      context.outcome(outcome, detail);
      releaseEarly();
      Http2Headers headers = new DefaultHttp2Headers().status(Integer.toString(status));
      if (extra != null) {
        headers.add(extra);
      }
      // END_STREAM, then the stream is reset if the client has not ended its side: only this stream ends
      ctx.writeAndFlush(new DefaultHttp2HeadersFrame(headers, true)).addListener(ChannelFutureListener.CLOSE);
    }

    private void releaseEarly() {
      early.forEach(ByteBuf::release);
      early.clear();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
      releaseEarly();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      releaseEarly();
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.debug("[{}] tunnel stream error: {}", id(), cause.toString());
      context.outcome(Outcome.PROTOCOL_ERROR, String.valueOf(cause.getMessage()));
      ctx.close();
    }
  }
}
