package dev.conduit.core.internal.http;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.Destination;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.Upstream;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.util.ReferenceCountUtil;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The upstream connection of an HTTP proxy connection, kept for the next request to the same destination
 * (same authority, same principal, routed under the rules in force).
 *
 * <p>Back-pressure both ways: the upstream is read only while the client is writable, the client only
 * while the upstream is writable; a read refused for that waits for the other side's writability change.
 */
final class KeptUpstream {
  private static final Logger log = LoggerFactory.getLogger(KeptUpstream.class);

  /** Handler name on the upstream channel: the HTTP client codec. */
  static final String CODEC = ConduitPipeline.HTTP_UPSTREAM_CODEC;
  /** Handler name on the upstream channel: {@link UpstreamHandler}. */
  static final String HANDLER = ConduitPipeline.HTTP_UPSTREAM;

  /** What the upstream says, for the current upstream only, on the event loop. */
  interface Events {
    /** A response head (released by the caller after). */
    void response(HttpResponse response);

    /** A part of a response body; the callee releases or forwards it. */
    void content(HttpContent content);

    /** A read from the upstream ended. */
    void readComplete();

    /** The upstream channel closed. */
    void closed(Channel channel);
  }

  private final ChannelHandlerContext downstream;
  private final Events events;
  private final String id;
  private Upstream upstream;
  private Channel channel;
  private String authority;
  private String principal;
  private Destination destination;
  private boolean downstreamReadPending;
  private boolean upstreamReadPending;

  KeptUpstream(ChannelHandlerContext downstream, Events events, String id) {
    this.downstream = downstream;
    this.events = events;
    this.id = id;
  }

  /** Takes a dialed upstream: installs the HTTP client codec and the handler. */
  void attach(Upstream up, String authority, String principal, Destination destination) {
    this.upstream = up;
    this.channel = up.channel();
    this.authority = authority;
    this.principal = principal;
    this.destination = destination;
    HttpDecoderConfig config = new HttpDecoderConfig()
        .setMaxInitialLineLength(16 * 1024)
        .setMaxHeaderSize(128 * 1024)
        .setMaxChunkSize(64 * 1024);
    ChannelPipeline p = channel.pipeline();
    p.addLast(CODEC, new HttpClientCodec(config, false, false));
    p.addLast(HANDLER, new UpstreamHandler(channel));
  }

  /** The upstream channel, or null. */
  Channel channel() {
    return channel;
  }

  /** The authority the upstream was dialed for. */
  String authority() {
    return authority;
  }

  /** The destination the upstream was dialed for. */
  Destination destination() {
    return destination;
  }

  /** Whether the kept upstream may serve a request for {@code target} by {@code who}. */
  boolean servesFor(RequestTarget target, String who, InboundContext context) {
    return channel != null && channel.isActive() && target.authorityEquals(authority)
        && Objects.equals(who, principal) && context.isRoutedUnderCurrentRules(upstream);
  }

  void write(Object msg) {
    channel.write(msg, channel.voidPromise());
  }

  void flush() {
    if (channel != null) {
      channel.flush();
    }
  }

  /** Reads the upstream now, or when the client drains. */
  void read() {
    if (downstream.channel().isWritable()) {
      channel.read();
    } else {
      upstreamReadPending = true;
    }
  }

  /** Reads the client now, or when the upstream drains. */
  void readDownstream() {
    if (channel == null || channel.isWritable()) {
      downstream.read();
    } else {
      downstreamReadPending = true;
    }
  }

  /** The client drained: a held upstream read goes ahead. */
  void downstreamWritable() {
    if (upstreamReadPending && channel != null) {
      upstreamReadPending = false;
      channel.read();
    }
  }

  /** An exchange ended: reads held for it are moot. */
  void clearPendingReads() {
    downstreamReadPending = false;
    upstreamReadPending = false;
  }

  /** Closes the upstream, if any. */
  void close() {
    Channel ch = channel;
    forget();
    if (ch != null) {
      ch.close();
    }
  }

  /** Lets go of the upstream without closing it (it closed, or a relay takes it over). */
  Upstream forget() {
    Upstream up = upstream;
    channel = null;
    upstream = null;
    authority = null;
    clearPendingReads();
    return up;
  }

  /** Removes the HTTP handlers from an upstream a relay took over: handler first, so bytes the codec holds flow on. */
  static void removeHandlers(Channel ch) {
    ChannelPipeline p = ch.pipeline();
    p.remove(HANDLER);
    p.remove(CODEC);
  }

  /** The handler on the upstream channel. */
  private final class UpstreamHandler extends ChannelInboundHandlerAdapter {
    private final Channel own;

    UpstreamHandler(Channel own) {
      this.own = own;
    }

    @Override
    public void channelRead(ChannelHandlerContext uctx, Object msg) {
      if (own != channel) {
        ReferenceCountUtil.release(msg);
        return;
      }
      if (msg instanceof HttpResponse res) {
        try {
          events.response(res);
        } finally {
          ReferenceCountUtil.release(msg);
        }
      } else if (msg instanceof HttpContent c) {
        events.content(c);
      } else {
        ReferenceCountUtil.release(msg);
      }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext uctx) {
      if (own == channel) {
        events.readComplete();
      }
      uctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext uctx) {
      if (own == channel && own.isWritable() && downstreamReadPending) {
        downstreamReadPending = false;
        downstream.read();
      }
      uctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext uctx) {
      events.closed(own);
      uctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext uctx, Throwable cause) {
      log.debug("[{}] HTTP upstream error: {}", id, cause.toString());
      uctx.close();
    }
  }
}
