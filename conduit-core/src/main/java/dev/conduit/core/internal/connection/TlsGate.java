package dev.conduit.core.internal.connection;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.Listener;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.internal.tls.PeerGuards;
import dev.conduit.core.pki.PeerIdentity;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds a TLS listener's protocol back until the handshake succeeds: then records the verified peer
 * identity and installs the protocol; a failed handshake closes the connection before any request
 * is read, so an unauthenticated peer never reaches a destination.
 */
final class TlsGate extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(TlsGate.class);

  private final Listener listener;
  private final ConnectionState state;

  private TlsGate(Listener listener, ConnectionState state) {
    this.listener = listener;
    this.state = state;
  }

  /** Adds the TLS handler at the head and the gate at the tail; false if the channel was closed. */
  static boolean install(Channel ch, Listener listener, ConnectionState state, long handshakeTimeoutMillis) {
    SslContext context;
    try {
      context = listener.tls().orElseThrow().get();
    } catch (RuntimeException e) {
      log.warn("[{}] listener {}: no TLS context: {}", state.connection().id(), listener.name(), e.toString());
      state.outcome(Outcome.PROTOCOL_ERROR, "no TLS context: " + e.getMessage());
      ch.close();
      return false;
    }
    if (context == null || context.isClient()) {
      log.warn("[{}] listener {}: the TLS supplier gave {} (expected: a server context)", state.connection().id(),
          listener.name(), context == null ? "null" : "a client context");
      state.outcome(Outcome.PROTOCOL_ERROR, "no server TLS context");
      ch.close();
      return false;
    }
    SslHandler ssl = context.newHandler(ch.alloc());
    ssl.setHandshakeTimeoutMillis(handshakeTimeoutMillis);
    ch.pipeline().addFirst(ConduitPipeline.TLS, ssl);
    ch.pipeline().addLast(ConduitPipeline.TLS_GATE, new TlsGate(listener, state));
    return true;
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (!(evt instanceof SslHandshakeCompletionEvent done)) {
      ctx.fireUserEventTriggered(evt);
      return;
    }
    if (!done.isSuccess()) {
      Throwable c = done.cause();
      log.debug("[{}] TLS handshake failed: {}", state.connection().id(), c.toString());
      state.outcome(Outcome.AUTH_FAILED, "TLS handshake failed: " + c.getMessage());
      ctx.close();
      return;
    }
    SslHandler ssl = (SslHandler) ctx.pipeline().get(ConduitPipeline.TLS);
    PeerIdentity.of(ssl.engine().getSession()).ifPresent(id -> state.tlsPeer(id.value()));
    if (listener.peerGuard().isPresent() && !PeerGuards.admit(listener.peerGuard().get(), ssl, ctx.channel())) {
      state.outcome(Outcome.AUTH_FAILED, "TLS peer refused by the peer guard (revoked or denied)");
      ctx.close();
      return;
    }
    ctx.pipeline().remove(this);
    // installed synchronously, so a request decrypted in the same read reaches the protocol
    ListenerInitializer.initProtocol(ctx.channel(), listener, state);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    // nothing is decrypted before the handshake completes; drop anything else defensively
    io.netty.util.ReferenceCountUtil.release(msg);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    // handshake errors are reported by the completion event; anything else ends the connection
    log.debug("[{}] TLS error: {}", state.connection().id(), cause.toString());
    state.outcome(Outcome.AUTH_FAILED, "TLS error: " + cause.getMessage());
    ctx.close();
  }
}
