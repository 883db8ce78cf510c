package dev.conduit.core.pki;

import io.netty.channel.Channel;
import java.security.cert.X509Certificate;

/**
 * Decides, after a TLS handshake verified the peer's certificate against the trust roots, whether that peer may
 * use the connection, and may end the connection later when the peer is no longer admitted (a revoked
 * certificate, a removed mesh member). conduit asks it on a tunnel listener's connections
 * ({@link dev.conduit.core.Listener.Builder#peerGuard}) and on a hop's connections to its servers
 * ({@link dev.conduit.core.outbound.Hop.Builder#peerGuard}); {@link PeerDenyList} is the deny list the mesh uses.
 *
 * <p>Called on the connection's event loop: it must not block.
 */
@FunctionalInterface
public interface PeerGuard {

  /**
   * Returns whether the peer whose verified leaf certificate is {@code certificate} may use {@code channel}; a
   * refused connection is closed before any request is read or sent. A guard that admits may keep
   * {@code channel} to close it when the peer is denied later (and must forget it when it closes).
   *
   * @param certificate the peer's verified leaf certificate
   * @param channel the TLS connection
   * @return whether the peer is admitted
   */
  boolean admit(X509Certificate certificate, Channel channel);
}
