package dev.conduit.core.internal.tunnel;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.Destination;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.InboundProtocol;
import dev.conduit.core.inbound.OriginalDestinationResolver;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.tunnel.ForwardEntry;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tunnel client's plain TCP listener (seed 000's {@code client.listen}): no protocol on the wire,
 * the destination comes from the forward table.
 *
 * <p>Which entry: when the {@link OriginalDestinationResolver} reports that the connection was
 * redirected (an original destination other than the listener's own address), the first entry for
 * that exact {@code ip:port}, else the first {@code :port} entry for its port. Otherwise the listener
 * is a plain local listener: the entry whose port is the listener's own port (an {@code :port} entry
 * before {@code ip:port} ones), else the only entry when the table has exactly one. A connection no
 * entry takes is closed. A failed dial resets the connection (RST): the only error a raw TCP
 * client can be told.
 */
public final class ForwardInbound implements InboundProtocol {
  private static final Logger log = LoggerFactory.getLogger(ForwardInbound.class);

  private final List<ForwardEntry> entries;
  private final OriginalDestinationResolver resolver;

  public ForwardInbound(List<ForwardEntry> entries, OriginalDestinationResolver resolver) {
    this.entries = List.copyOf(entries);
    this.resolver = resolver;
  }

  @Override
  public String name() {
    return "forward";
  }

  @Override
  public void init(Channel channel, InboundContext context) {
    InetSocketAddress local = (InetSocketAddress) channel.localAddress();
    Optional<InetSocketAddress> original;
    try {
      original = resolver.originalDestination(channel).filter(o -> !o.equals(local));
    } catch (RuntimeException e) {
      log.debug("[{}] cannot read the original destination: {}", context.connection().id(), e.toString());
      original = Optional.empty();
    }
    Destination dst = original.isPresent() ? redirected(original.get()) : local(local);
    if (dst == null) {
      String why = original.map(o -> "no forward_table entry for " + o)
          .orElse("not redirected and no forward_table entry for the listener's port " + local.getPort());
      log.debug("[{}] {}", context.connection().id(), why);
      context.outcome(Outcome.REJECTED, why);
      channel.close();
      return;
    }
    ForwardHandler handler = new ForwardHandler(context);
    channel.pipeline().addLast(ConduitPipeline.TUNNEL_FORWARD, handler);
    handler.connect(channel, ConnectRequest.of(context.connection(), dst));
  }

  private Destination redirected(InetSocketAddress original) {
    for (ForwardEntry e : entries) {
      if (e.address().isPresent() && e.matches(original)) {
        return e.destinationFor(original);
      }
    }
    for (ForwardEntry e : entries) {
      if (e.address().isEmpty() && e.matches(original)) {
        return e.destinationFor(original);
      }
    }
    return null;
  }

  private Destination local(InetSocketAddress local) {
    ForwardEntry chosen = null;
    for (ForwardEntry e : entries) {
      if (e.port() == local.getPort() && (chosen == null || chosen.address().isPresent() && e.address().isEmpty())) {
        chosen = e;
      }
    }
    if (chosen == null && entries.size() == 1) {
      chosen = entries.get(0);
    }
    if (chosen == null) {
      return null;
    }
    if (chosen.rewriteTo().isPresent()) {
      return chosen.rewriteTo().get();
    }
    // an ip:port entry without dst_as names its own destination; ":port" alone names none
    int port = chosen.port();
    if (port == 0) {
      return null; // an any-port entry names no destination of its own
    }
    return chosen.address().map(a -> Destination.of(new InetSocketAddress(a, port))).orElse(null);
  }

  /** Holds the client's first bytes while the tunnel is dialed, then hands over to the relay. */
  private static final class ForwardHandler extends ChannelInboundHandlerAdapter {
    private final InboundContext context;
    private final ArrayDeque<Object> early = new ArrayDeque<>();

    ForwardHandler(InboundContext context) {
      this.context = context;
    }

    void connect(Channel channel, ConnectRequest request) {
      context.connect(request).addListener((Future<Upstream> f) -> {
        if (!channel.isActive()) {
          if (f.isSuccess()) {
            f.getNow().channel().close();
          }
          releaseEarly();
          return;
        }
        if (f.isSuccess()) {
          Upstream up = f.getNow();
          while (!early.isEmpty()) {
            up.channel().write(early.poll());
          }
          up.channel().flush();
          context.relay(up);
          channel.pipeline().remove(this);
        } else {
          releaseEarly();
          log.debug("[{}] tunnel to {} failed: {}", context.connection().id(), request.destination(),
              f.cause().getMessage());
          context.outcome(Outcome.DIAL_FAILED, f.cause().getMessage());
          // RST rather than FIN, so the client does not take the close for an empty answer
          channel.config().setOption(ChannelOption.SO_LINGER, 0);
          channel.close();
        }
      });
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof ByteBuf) {
        early.add(msg); // one read at most: nothing asks for more until the relay starts
      } else {
        ReferenceCountUtil.release(msg);
      }
    }

    private void releaseEarly() {
      while (!early.isEmpty()) {
        ReferenceCountUtil.release(early.poll());
      }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
      releaseEarly();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      context.outcome(Outcome.PROTOCOL_ERROR, String.valueOf(cause.getMessage()));
      ctx.close();
    }
  }
}
