package dev.conduit.core.internal.http;

import dev.conduit.core.internal.proxy.ProxyHttp;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.Destination;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.observe.Outcome;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.concurrent.Future;
import java.util.ArrayDeque;

/**
 * A {@code CONNECT} request: parse the authority, dial, answer {@code 200 Connection established}, hand the
 * bytes the client sent after its request to the upstream first, then the relay takes over. The codec is
 * gone before the dial: bytes after the head belong to the tunnel.
 */
final class ConnectTunnel {
  private final HttpServerHandler handler;
  private final InboundContext context;
  private final RequestTarget target = new RequestTarget();
  /** Bytes after the CONNECT request, kept for the upstream. */
  private ArrayDeque<ByteBuf> early;

  ConnectTunnel(HttpServerHandler handler, InboundContext context) {
    this.handler = handler;
    this.context = context;
  }

  /** Dials the request's authority; the handler's phase is already TUNNEL and its codec gone. */
  void start(ChannelHandlerContext ctx, HttpRequest req) {
    if (!handler.authenticate(req)) {
      return;
    }
    String error = target.parseAuthority(req.uri());
    Destination dst = null;
    if (error == null) {
      try {
        dst = Destination.of(target.host(), target.port);
      } catch (IllegalArgumentException e) {
        error = e.getMessage();
      }
    }
    if (error != null) {
      handler.fail(400, Outcome.PROTOCOL_ERROR, error);
      return;
    }
    handler.closeUpstream();
    context.connect(ConnectRequest.of(context.connection(), dst).withPrincipal(handler.principal()))
        .addListener((Future<Upstream> f) -> {
          if (!handler.isTunnelling() || !ctx.channel().isActive()) {
            if (f.isSuccess()) {
              f.getNow().channel().close();
            }
            release();
            return;
          }
          if (f.isSuccess()) {
            established(ctx, f.getNow());
          } else {
            handler.dialFailed(f.cause());
          }
        });
  }

  /** Bytes the client pipelined after its CONNECT request (handed over by the removed codec). */
  void earlyBytes(ByteBuf buf) {
    if (early == null) {
      early = new ArrayDeque<>(2);
    }
    early.add(buf);
  }

  /** Whether no early bytes wait: reading on while dialing holds at most one read's worth. */
  boolean noEarlyBytes() {
    return early == null || early.isEmpty();
  }

  /** Releases early bytes that will never be sent. */
  void release() {
    if (early != null) {
      ByteBuf b;
      while ((b = early.poll()) != null) {
        b.release();
      }
    }
  }

  private void established(ChannelHandlerContext ctx, Upstream up) {
    ctx.writeAndFlush(ProxyHttp.connectEstablished());
    Channel ch = up.channel();
    // early bytes go first, then the relay takes over
    while (early != null && !early.isEmpty()) {
      ch.write(early.poll(), ch.voidPromise());
    }
    ch.flush();
    handler.startRelay(up);
  }
}
