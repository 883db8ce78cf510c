package dev.conduit.core.internal.socks;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.Destination;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import dev.conduit.core.internal.connection.OverloadManager;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.SocksInboundOptions;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.observe.Outcome;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.socksx.SocksMessage;
import io.netty.handler.codec.socksx.v4.DefaultSocks4CommandResponse;
import io.netty.handler.codec.socksx.v4.Socks4CommandRequest;
import io.netty.handler.codec.socksx.v4.Socks4CommandStatus;
import io.netty.handler.codec.socksx.v4.Socks4CommandType;
import io.netty.handler.codec.socksx.v4.Socks4ServerDecoder;
import io.netty.handler.codec.socksx.v4.Socks4ServerEncoder;
import io.netty.handler.codec.socksx.v5.DefaultSocks5CommandResponse;
import io.netty.handler.codec.socksx.v5.DefaultSocks5InitialResponse;
import io.netty.handler.codec.socksx.v5.DefaultSocks5PasswordAuthResponse;
import io.netty.handler.codec.socksx.v5.Socks5AddressType;
import io.netty.handler.codec.socksx.v5.Socks5AuthMethod;
import io.netty.handler.codec.socksx.v5.Socks5CommandRequest;
import io.netty.handler.codec.socksx.v5.Socks5CommandRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5CommandStatus;
import io.netty.handler.codec.socksx.v5.Socks5CommandType;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequest;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5PasswordAuthRequest;
import io.netty.handler.codec.socksx.v5.Socks5PasswordAuthRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5PasswordAuthStatus;
import io.netty.handler.codec.socksx.v5.Socks5ServerEncoder;
import io.netty.util.NetUtil;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Speaks the server side of SOCKS5 (RFC 1928, 1929) and SOCKS4/4a after Netty's decoders: method
 * choice, authentication, CONNECT, UDP ASSOCIATE when enabled ({@link UdpAssociation}), and replies that say
 * why a connect failed.
 */
final class SocksServerHandler extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(SocksServerHandler.class);

  private final InboundContext context;
  private final SocksInboundOptions options;
  private final ArrayDeque<ByteBuf> early = new ArrayDeque<>();
  private String principal;
  private boolean connecting;
  /** A UDP association holds the connection: it only waits for the client to close. */
  private boolean associated;

  SocksServerHandler(InboundContext context, SocksInboundOptions options) {
    this.context = context;
    this.options = options;
  }

  private String id() {
    return context.connection().id();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof ByteBuf buf) {
      // bytes a client pipelined after its request: kept for the upstream
      if (connecting) {
        early.add(buf);
      } else {
        buf.release();
      }
      return;
    }
    try {
      if (msg instanceof SocksMessage socks && socks.decoderResult().isFailure()) {
        protocolError(ctx, socks, socks.decoderResult().cause());
      } else if (msg instanceof Socks5InitialRequest init) {
        onGreeting(ctx, init);
      } else if (msg instanceof Socks5PasswordAuthRequest auth) {
        onPassword(ctx, auth);
      } else if (msg instanceof Socks5CommandRequest cmd) {
        onSocks5Command(ctx, cmd);
      } else if (msg instanceof Socks4CommandRequest cmd) {
        onSocks4Command(ctx, cmd);
      } else {
        context.outcome(Outcome.PROTOCOL_ERROR, "unexpected message " + msg.getClass().getSimpleName());
        ctx.close();
      }
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  private void protocolError(ChannelHandlerContext ctx, SocksMessage msg, Throwable cause) {
    String why = cause == null ? "malformed request" : cause.getMessage();
    log.debug("[{}] malformed SOCKS message: {}", id(), why);
    context.outcome(Outcome.PROTOCOL_ERROR, "malformed SOCKS request: " + why);
    if (msg instanceof Socks5CommandRequest) {
      Socks5CommandStatus status = why != null && why.contains("address type")
          ? Socks5CommandStatus.ADDRESS_UNSUPPORTED : Socks5CommandStatus.FAILURE;
      ctx.writeAndFlush(new DefaultSocks5CommandResponse(status, Socks5AddressType.IPv4))
          .addListener(ChannelFutureListener.CLOSE);
    } else if (msg instanceof Socks4CommandRequest) {
      ctx.writeAndFlush(new DefaultSocks4CommandResponse(Socks4CommandStatus.REJECTED_OR_FAILED))
          .addListener(ChannelFutureListener.CLOSE);
    } else if (msg instanceof Socks5InitialRequest) {
      // e.g. a greeting offering no method at all: none is acceptable
      ctx.writeAndFlush(new DefaultSocks5InitialResponse(Socks5AuthMethod.UNACCEPTED))
          .addListener(ChannelFutureListener.CLOSE);
    } else if (msg instanceof Socks5PasswordAuthRequest) {
      // RFC 1929: any non-zero status, then close
      ctx.writeAndFlush(new DefaultSocks5PasswordAuthResponse(Socks5PasswordAuthStatus.FAILURE))
          .addListener(ChannelFutureListener.CLOSE);
    } else {
      ctx.close();
    }
  }

  private void onGreeting(ChannelHandlerContext ctx, Socks5InitialRequest init) {
    Socks5AuthMethod wanted = options.authenticator().isPresent() ? Socks5AuthMethod.PASSWORD : Socks5AuthMethod.NO_AUTH;
    ChannelPipeline p = ctx.pipeline();
    if (!init.authMethods().contains(wanted)) {
      context.outcome(Outcome.AUTH_FAILED, "client offers no acceptable method (needs " + wanted + ")");
      ctx.writeAndFlush(new DefaultSocks5InitialResponse(Socks5AuthMethod.UNACCEPTED))
          .addListener(ChannelFutureListener.CLOSE);
      return;
    }
    removeIfPresent(p, Socks5InitialRequestDecoder.class);
    if (wanted == Socks5AuthMethod.PASSWORD) {
      p.addBefore(ctx.name(), ConduitPipeline.SOCKS5_AUTH_DECODER, new Socks5PasswordAuthRequestDecoder());
    } else {
      p.addBefore(ctx.name(), ConduitPipeline.SOCKS5_COMMAND_DECODER, new Socks5CommandRequestDecoder());
    }
    ctx.writeAndFlush(new DefaultSocks5InitialResponse(wanted));
    ctx.read();
  }

  private void onPassword(ChannelHandlerContext ctx, Socks5PasswordAuthRequest auth) {
    Optional<String> who = options.authenticator().orElseThrow().authenticate(auth.username(), auth.password());
    if (who.isEmpty()) {
      log.debug("[{}] SOCKS5 authentication failed for user {}", id(), auth.username());
      context.outcome(Outcome.AUTH_FAILED, "wrong credentials for user " + auth.username());
      ctx.writeAndFlush(new DefaultSocks5PasswordAuthResponse(Socks5PasswordAuthStatus.FAILURE))
          .addListener(ChannelFutureListener.CLOSE);
      return;
    }
    principal = who.get();
    context.principal(principal);
    ChannelPipeline p = ctx.pipeline();
    removeIfPresent(p, Socks5PasswordAuthRequestDecoder.class);
    p.addBefore(ctx.name(), ConduitPipeline.SOCKS5_COMMAND_DECODER, new Socks5CommandRequestDecoder());
    ctx.writeAndFlush(new DefaultSocks5PasswordAuthResponse(Socks5PasswordAuthStatus.SUCCESS));
    ctx.read();
  }

  private void onSocks5Command(ChannelHandlerContext ctx, Socks5CommandRequest cmd) {
    if (cmd.type() == Socks5CommandType.UDP_ASSOCIATE && options.udpAssociate()) {
      associate(ctx, cmd);
      return;
    }
    if (cmd.type() != Socks5CommandType.CONNECT) {
      context.outcome(Outcome.PROTOCOL_ERROR, "unsupported SOCKS5 command " + cmd.type());
      ctx.writeAndFlush(new DefaultSocks5CommandResponse(Socks5CommandStatus.COMMAND_UNSUPPORTED, Socks5AddressType.IPv4))
          .addListener(ChannelFutureListener.CLOSE);
      return;
    }
    Destination dst;
    try {
      dst = Destination.of(cmd.dstAddr(), cmd.dstPort());
    } catch (IllegalArgumentException e) {
      context.outcome(Outcome.PROTOCOL_ERROR, e.getMessage());
      ctx.writeAndFlush(new DefaultSocks5CommandResponse(Socks5CommandStatus.FAILURE, Socks5AddressType.IPv4))
          .addListener(ChannelFutureListener.CLOSE);
      return;
    }
    connect(ctx, dst, true);
  }

  private void associate(ChannelHandlerContext ctx, Socks5CommandRequest cmd) {
    associated = true;
    context.negotiated();
    context.requestReceived();
    // RFC 1928: DST.ADDR/DST.PORT are where the client will send from; its address is the TCP peer's
    UdpAssociation.open(context, ctx.channel(), principal, cmd.dstPort(), (Future<InetSocketAddress> f) -> {
      if (!ctx.channel().isActive()) {
        return;
      }
      if (f.isSuccess()) {
        InetSocketAddress bound = f.getNow();
        log.debug("[{}] UDP association on {}", id(), bound);
        context.outcome(Outcome.OK, "UDP association on " + NetUtil.toSocketAddressString(bound));
        ctx.writeAndFlush(success(bound));
      } else {
        log.debug("[{}] cannot open a UDP relay: {}", id(), f.cause().toString());
        context.outcome(Outcome.ERROR, "cannot open a UDP relay: " + f.cause().getMessage());
        ctx.writeAndFlush(new DefaultSocks5CommandResponse(Socks5CommandStatus.FAILURE, Socks5AddressType.IPv4))
            .addListener(ChannelFutureListener.CLOSE);
      }
    });
  }

  private static DefaultSocks5CommandResponse success(InetSocketAddress bound) {
    String host = NetUtil.toAddressString(bound.getAddress());
    Socks5AddressType type = bound.getAddress().getAddress().length == 4 ? Socks5AddressType.IPv4 : Socks5AddressType.IPv6;
    return new DefaultSocks5CommandResponse(Socks5CommandStatus.SUCCESS, type, host, bound.getPort());
  }

  private void onSocks4Command(ChannelHandlerContext ctx, Socks4CommandRequest cmd) {
    if (!options.socks4()) {
      context.outcome(options.authenticator().isPresent() ? Outcome.AUTH_FAILED : Outcome.PROTOCOL_ERROR,
          "SOCKS4 not accepted on this listener");
      ctx.writeAndFlush(new DefaultSocks4CommandResponse(Socks4CommandStatus.REJECTED_OR_FAILED))
          .addListener(ChannelFutureListener.CLOSE);
      return;
    }
    if (cmd.type() != Socks4CommandType.CONNECT) {
      context.outcome(Outcome.PROTOCOL_ERROR, "unsupported SOCKS4 command " + cmd.type());
      ctx.writeAndFlush(new DefaultSocks4CommandResponse(Socks4CommandStatus.REJECTED_OR_FAILED))
          .addListener(ChannelFutureListener.CLOSE);
      return;
    }
    Destination dst;
    try {
      dst = Destination.of(cmd.dstAddr(), cmd.dstPort());
    } catch (IllegalArgumentException e) {
      context.outcome(Outcome.PROTOCOL_ERROR, e.getMessage());
      ctx.writeAndFlush(new DefaultSocks4CommandResponse(Socks4CommandStatus.REJECTED_OR_FAILED))
          .addListener(ChannelFutureListener.CLOSE);
      return;
    }
    connect(ctx, dst, false);
  }

  private void connect(ChannelHandlerContext ctx, Destination dst, boolean v5) {
    connecting = true;
    ConnectRequest request = ConnectRequest.of(context.connection(), dst).withPrincipal(principal);
    context.connect(request).addListener((Future<Upstream> f) -> {
      if (!ctx.channel().isActive()) {
        if (f.isSuccess()) {
          f.getNow().channel().close();
        }
        releaseEarly();
        return;
      }
      if (f.isSuccess()) {
        onConnected(ctx, f.getNow(), v5);
      } else {
        onFailed(ctx, f.cause(), v5);
      }
    });
  }

  private void onConnected(ChannelHandlerContext ctx, Upstream up, boolean v5) {
    Object reply;
    if (v5) {
      reply = success((InetSocketAddress) up.channel().localAddress());
    } else {
      reply = new DefaultSocks4CommandResponse(Socks4CommandStatus.SUCCESS);
    }
    ctx.writeAndFlush(reply);
    // early bytes go first, then the relay takes over
    while (!early.isEmpty()) {
      up.channel().write(early.poll());
    }
    up.channel().flush();
    context.relay(up);
    ChannelPipeline p = ctx.pipeline();
    // this handler goes first, so bytes a removed decoder still holds flow straight to the relay
    p.remove(this);
    removeIfPresent(p, Socks5CommandRequestDecoder.class);
    removeIfPresent(p, Socks5ServerEncoder.class);
    removeIfPresent(p, Socks4ServerDecoder.class);
    removeIfPresent(p, Socks4ServerEncoder.class);
  }

  private void onFailed(ChannelHandlerContext ctx, Throwable cause, boolean v5) {
    releaseEarly();
    DialFailure failure = cause instanceof DialException d ? d.failure() : DialFailure.GENERAL;
    context.outcome(failure == DialFailure.NOT_ALLOWED || failure == DialFailure.OVERLOADED ? Outcome.REJECTED
        : Outcome.DIAL_FAILED, cause.getMessage());
    Object reply = OverloadManager.memoryShort() ? PresetReplies.failure(v5, failure.socks5Reply()) : v5
        ? new DefaultSocks5CommandResponse(Socks5CommandStatus.valueOf((byte) failure.socks5Reply()), Socks5AddressType.IPv4)
        : new DefaultSocks4CommandResponse(Socks4CommandStatus.REJECTED_OR_FAILED);
    ctx.writeAndFlush(reply).addListener(ChannelFutureListener.CLOSE);
  }

  private void releaseEarly() {
    while (!early.isEmpty()) {
      early.poll().release();
    }
  }

  private static void removeIfPresent(ChannelPipeline p, Class<? extends io.netty.channel.ChannelHandler> type) {
    if (p.get(type) != null) {
      p.remove(type);
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    // AUTO_READ is off: keep reading while a message is incomplete (a greeting split across
    // segments). While dialing, keep the read pending until early bytes arrive (at most one read's
    // worth is held, so a client cannot pile up data before the tunnel exists): the socket's read
    // interest then stays as it is instead of being cleared now and set again when the relay starts
    if (!connecting || early.isEmpty()) {
      ctx.read();
    }
    ctx.fireChannelReadComplete();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (associated && evt instanceof ChannelInputShutdownEvent) {
      ctx.close(); // the client is done: so is its association
      return;
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    releaseEarly();
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    Throwable c = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
    log.debug("[{}] SOCKS error: {}", id(), c.toString());
    context.outcome(c instanceof java.io.IOException ? Outcome.ERROR : Outcome.PROTOCOL_ERROR,
        String.valueOf(c.getMessage()));
    ctx.close();
  }
}
