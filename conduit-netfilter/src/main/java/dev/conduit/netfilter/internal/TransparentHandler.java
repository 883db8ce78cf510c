package dev.conduit.netfilter.internal;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import dev.conduit.core.Destination;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.observe.Outcome;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.buffer.CompositeByteBuf;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * One captured connection after its original destination is known: optionally peeks at the first
 * bytes for a host name (bounded in bytes and time), then connects and hands over to the relay.
 * Bytes read before the relay starts are held here and written upstream first, unchanged.
 */
public final class TransparentHandler extends ChannelInboundHandlerAdapter {
  /** The handler's name in the pipeline. */
  public static final String NAME = ConduitPipeline.TRANSPARENT;

  private final InboundContext context;
  private final InetSocketAddress destination;
  private final boolean sniff;
  private final Duration sniffTimeout;
  private final int sniffLimit;
  private ByteBuf held;
  private ScheduledFuture<?> sniffTimer;
  private boolean connecting;

  public TransparentHandler(InboundContext context, InetSocketAddress destination, boolean sniff,
      Duration sniffTimeout, int sniffLimit) {
    this.context = context;
    this.destination = destination;
    this.sniff = sniff;
    this.sniffTimeout = sniffTimeout;
    this.sniffLimit = sniffLimit;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    if (!sniff || context.overloaded()) {
      // overloaded: no bytes are held to find a host name, the destination IP decides
      connect(ctx, null);
      return;
    }
    // server-speaks-first protocols send nothing: give up peeking and route by IP
    sniffTimer = ctx.executor().schedule(() -> connect(ctx, null), sniffTimeout.toNanos(),
        TimeUnit.NANOSECONDS);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof ByteBuf in)) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (held == null) {
      held = in;
    } else {
      if (!(held instanceof CompositeByteBuf)) {
        held = ctx.alloc().compositeBuffer().addComponent(true, held);
      }
      ((CompositeByteBuf) held).addComponent(true, in);
    }
    if (connecting) {
      return;
    }
    HostSniffer.Result r = HostSniffer.sniff(held, sniffLimit);
    if (r instanceof HostSniffer.Found found) {
      connect(ctx, found.host());
    } else if (r instanceof HostSniffer.NotFound) {
      connect(ctx, null);
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (!connecting) {
      ctx.read(); // still peeking; bounded by sniffLimit and the timer
    }
  }

  private void connect(ChannelHandlerContext ctx, String sniffedHost) {
    if (connecting || ctx.isRemoved()) {
      return;
    }
    connecting = true;
    if (sniffTimer != null) {
      sniffTimer.cancel(false);
    }
    ConnectRequest request = ConnectRequest.of(context.connection(), Destination.of(destination))
        .withSniffedHost(sniffedHost);
    context.connect(request).addListener((Future<Upstream> f) -> connected(ctx, f));
  }

  private void connected(ChannelHandlerContext ctx, Future<Upstream> f) {
    if (!f.isSuccess()) {
      Throwable cause = f.cause();
      boolean refused = cause instanceof DialException d && d.failure() == DialFailure.NOT_ALLOWED;
      context.outcome(refused ? Outcome.REJECTED : Outcome.DIAL_FAILED, String.valueOf(cause.getMessage()));
      ctx.channel().close();
      return;
    }
    Upstream up = f.getNow();
    if (ctx.isRemoved() || !ctx.channel().isActive()) {
      up.channel().close();
      return;
    }
    if (held != null) {
      // before relay(): a client half-close seen meanwhile makes the relay shut the upstream's output
      up.channel().writeAndFlush(held, up.channel().voidPromise());
      held = null;
    }
    context.relay(up);
    ctx.pipeline().remove(this);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    context.outcome(Outcome.ERROR, cause.toString());
    ctx.close();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    if (sniffTimer != null) {
      sniffTimer.cancel(false);
    }
    if (held != null) {
      held.release();
      held = null;
    }
  }
}
