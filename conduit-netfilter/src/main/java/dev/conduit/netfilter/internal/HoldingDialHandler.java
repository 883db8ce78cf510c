package dev.conduit.netfilter.internal;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import dev.conduit.core.Destination;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.observe.Outcome;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;

/**
 * The part shared by handlers that read a diverted connection's first bytes before choosing what to do (the
 * transparent listener's host sniffing, the egress gateway's L7 check): the bytes read are held, then the
 * original destination is dialed, the held bytes are written upstream first, unchanged, and conduit's relay takes
 * over. A subclass decides when to {@link #dial}.
 */
public abstract class HoldingDialHandler extends ChannelInboundHandlerAdapter {
  /** The connection's services (dial, relay, outcome). */
  protected final InboundContext context;
  /** The connection's original destination. */
  protected final InetSocketAddress destination;
  private ByteBuf held;

  /**
   * Creates the handler for one connection.
   *
   * @param context the connection's services
   * @param destination its original destination
   */
  protected HoldingDialHandler(InboundContext context, InetSocketAddress destination) {
    this.context = context;
    this.destination = destination;
  }

  @Override
  public final void channelRead(ChannelHandlerContext ctx, Object msg) {
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
    onHeld(ctx, held);
  }

  /**
   * Called after each read with every byte held so far (still owned by this handler).
   *
   * @param ctx the handler's context
   * @param bytes the bytes held, from the first one read
   */
  protected abstract void onHeld(ChannelHandlerContext ctx, ByteBuf bytes);

  /** Cancels the subclass's timers; called when the handler leaves the pipeline. */
  protected abstract void cancelTimers();

  /**
   * Dials the original destination; on success writes the held bytes upstream and hands over to the relay.
   *
   * @param ctx the handler's context
   * @param sniffedHost the host name read from the first bytes, or null
   */
  protected final void dial(ChannelHandlerContext ctx, String sniffedHost) {
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
  public final void handlerRemoved(ChannelHandlerContext ctx) {
    cancelTimers();
    if (held != null) {
      held.release();
      held = null;
    }
  }
}
