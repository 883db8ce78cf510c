package dev.conduit.core.internal.tls;

import dev.conduit.core.pki.PeerGuard;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.Future;
import javax.net.ssl.SSLHandshakeException;
import io.netty.handler.ssl.SslHandler;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLPeerUnverifiedException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Asks a {@link PeerGuard} about the peer of a completed TLS handshake. */
public final class PeerGuards {
  private static final Logger log = LoggerFactory.getLogger(PeerGuards.class);

  private PeerGuards() {}

  /**
   * Once {@code ssl}'s handshake succeeds, asks {@code guard} about the server; a refused one gets the handler
   * after {@code ssl} (the hop's proxy handshake) an {@link SSLHandshakeException} saying why, which fails the
   * dial, and the connection closes.
   */
  public static void refuseOnHandshake(PeerGuard guard, SslHandler ssl) {
    ssl.handshakeFuture().addListener((Future<Channel> f) -> {
      if (!f.isSuccess()) {
        return;
      }
      Channel ch = f.getNow();
      if (!admit(guard, ssl, ch)) {
        ChannelHandlerContext ctx = ch.pipeline().context(ssl);
        if (ctx != null) {
          ctx.fireExceptionCaught(refused());
        }
        ch.close();
      }
    });
  }

  /** The error of a dial whose server the guard refused. */
  public static SSLHandshakeException refused() {
    return new SSLHandshakeException("server certificate refused by the peer guard (revoked or denied)");
  }

  /**
   * Returns whether {@code guard} admits the peer of {@code ssl}'s completed handshake on {@code channel}; a peer
   * without a certificate, or a guard that throws, is refused.
   */
  public static boolean admit(PeerGuard guard, SslHandler ssl, Channel channel) {
    Certificate[] chain;
    try {
      chain = ssl.engine().getSession().getPeerCertificates();
    } catch (SSLPeerUnverifiedException e) {
      return false;
    }
    if (chain.length == 0 || !(chain[0] instanceof X509Certificate leaf)) {
      return false;
    }
    try {
      return guard.admit(leaf, channel);
    } catch (RuntimeException e) {
      log.warn("peer guard {} failed ({}); the peer is refused", guard, e.toString());
      return false;
    }
  }
}
