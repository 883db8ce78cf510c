package dev.conduit.netfilter.internal;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.inbound.InboundContext;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * One captured connection after its original destination is known: optionally peeks at the first
 * bytes for a host name (bounded in bytes and time), then connects and hands over to the relay.
 * Bytes read before the relay starts are held here and written upstream first, unchanged.
 */
public final class TransparentHandler extends HoldingDialHandler {
  /** The handler's name in the pipeline. */
  public static final String NAME = ConduitPipeline.TRANSPARENT;

  private final boolean sniff;
  private final Duration sniffTimeout;
  private final int sniffLimit;
  private ScheduledFuture<?> sniffTimer;
  private boolean connecting;

  public TransparentHandler(InboundContext context, InetSocketAddress destination, boolean sniff,
      Duration sniffTimeout, int sniffLimit) {
    super(context, destination);
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
  protected void onHeld(ChannelHandlerContext ctx, ByteBuf held) {
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
    cancelTimers();
    dial(ctx, sniffedHost);
  }

  @Override
  protected void cancelTimers() {
    if (sniffTimer != null) {
      sniffTimer.cancel(false);
    }
  }
}
