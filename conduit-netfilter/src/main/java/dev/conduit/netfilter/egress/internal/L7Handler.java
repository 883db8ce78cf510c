package dev.conduit.netfilter.egress.internal;

import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.net.IpAddress;
import dev.conduit.core.observe.Outcome;
import dev.conduit.netfilter.egress.NameAllowlist;
import dev.conduit.netfilter.internal.HoldingDialHandler;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * One diverted flow on the egress gateway: reads its first bytes (bounded in bytes and time) for the TLS
 * SNI or HTTP Host, checks name and original destination against the {@link NameAllowlist}, then dials the
 * original destination and hands over to conduit's relay, or refuses (TLS and other protocols: closed; HTTP:
 * {@code 403} with the reason). The bytes read reach the upstream unchanged.
 */
public final class L7Handler extends HoldingDialHandler {

  /** The handler's name in the pipeline. */
  public static final String NAME = "egress-l7";

  private final IpAddress address;
  private final L7Policy policy;
  private ScheduledFuture<?> timer;
  private boolean decided;

  /**
   * Creates the handler for one flow.
   *
   * @param context the connection's services
   * @param destination the flow's original destination
   * @param policy the names in force, the resolver and the limits
   */
  public L7Handler(InboundContext context, InetSocketAddress destination, L7Policy policy) {
    super(context, destination);
    this.address = IpAddress.of(destination.getAddress());
    this.policy = policy;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    if (policy.names().allowsAnyName(address, destination.getPort())) {
      decided = true; // an address entry: nothing to read
      connect(ctx, Optional.empty());
      return;
    }
    timer = ctx.executor().schedule(() -> {
      if (!decided) {
        refuse(ctx, FirstBytes.Kind.OTHER, Optional.empty(), "no TLS ClientHello or HTTP request within "
            + policy.peekTimeout().toMillis() + " ms");
      }
    }, policy.peekTimeout().toNanos(), TimeUnit.NANOSECONDS);
  }

  @Override
  protected void onHeld(ChannelHandlerContext ctx, ByteBuf held) {
    if (decided) {
      return;
    }
    int limit = policy.peekLimit();
    boolean complete = held.readableBytes() >= limit;
    byte[] first = ByteBufUtil.getBytes(held, held.readerIndex(), Math.min(held.readableBytes(), limit));
    FirstBytes.Result r = FirstBytes.read(first, complete);
    if (r.kind() == FirstBytes.Kind.NEED_MORE) {
      return;
    }
    decided = true;
    cancelTimer();
    check(ctx, r.kind(), r.name());
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (!decided) {
      ctx.read(); // still looking for the name; bounded by the limit and the timer
    }
  }

  private void check(ChannelHandlerContext ctx, FirstBytes.Kind kind, Optional<String> name) {
    NameAllowlist.Verdict v = policy.names().check(name, address, destination.getPort());
    switch (v.kind()) {
      case ALLOWED -> connect(ctx, name);
      case DENIED -> refuse(ctx, kind, name, v.reason());
      case RESOLVE -> policy.resolve(ctx.executor(), name.orElseThrow()).addListener(
          (Future<List<IpAddress>> f) -> resolved(ctx, kind, name.orElseThrow(), f));
      default -> throw new IllegalStateException(v.kind().name());
    }
  }

  private void resolved(ChannelHandlerContext ctx, FirstBytes.Kind kind, String name, Future<List<IpAddress>> f) {
    if (ctx.isRemoved() || !ctx.channel().isActive()) {
      return;
    }
    if (!f.isSuccess()) {
      refuse(ctx, kind, Optional.of(name), name + " does not resolve: " + f.cause().getMessage());
    } else if (f.getNow().contains(address)) {
      connect(ctx, Optional.of(name));
    } else {
      refuse(ctx, kind, Optional.of(name), address + " is not an address of " + name
          + (f.getNow().isEmpty() ? " (it resolves to no public address)" : " (it resolves to " + f.getNow() + ")"));
    }
  }

  private void refuse(ChannelHandlerContext ctx, FirstBytes.Kind kind, Optional<String> name, String reason) {
    decided = true;
    cancelTimer();
    boolean http = kind == FirstBytes.Kind.HTTP;
    policy.denied(address, destination.getPort(), http ? Optional.empty() : name, http ? name : Optional.empty(),
        reason);
    if (policy.reportOnly()) {
      connect(ctx, name); // report-only: counted, and let through
      return;
    }
    context.outcome(Outcome.REJECTED, "egress L7 check: " + reason);
    if (http) {
      byte[] body = ("conduit egress gateway: " + reason + "\n").getBytes(StandardCharsets.UTF_8);
      ByteBuf response = Unpooled.copiedBuffer("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain;"
          + " charset=utf-8\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n",
          StandardCharsets.ISO_8859_1);
      ctx.writeAndFlush(Unpooled.wrappedBuffer(response, Unpooled.wrappedBuffer(body)))
          .addListener(ChannelFutureListener.CLOSE);
    } else {
      ctx.close();
    }
  }

  private void connect(ChannelHandlerContext ctx, Optional<String> name) {
    dial(ctx, name.orElse(null));
  }

  private void cancelTimer() {
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
  }

  @Override
  protected void cancelTimers() {
    cancelTimer();
  }
}
