package dev.conduit.core.control.push;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.pki.PeerIdentity;
import java.net.InetSocketAddress;
import java.util.Optional;

/**
 * An agent asking to open a push channel, as a {@link PushAuthorizer} sees it before the WebSocket upgrade.
 *
 * @param remoteAddress the agent's address
 * @param certificateIdentity the identity in the client certificate the TLS handshake verified (first URI SAN,
 *     else DNS SAN, else CN), if the agent presented one
 * @param bearerToken the token of an {@code Authorization: Bearer} header, if any (masked in {@link #toString()})
 */
public record PushPeer(InetSocketAddress remoteAddress, Optional<PeerIdentity> certificateIdentity,
    Optional<String> bearerToken) {

  /** Checks the components. */
  public PushPeer {
    requireNonNull(remoteAddress, "remoteAddress");
    requireNonNull(certificateIdentity, "certificateIdentity");
    requireNonNull(bearerToken, "bearerToken");
  }

  /** Describes the peer with the token masked. */
  @Override
  public String toString() {
    return "PushPeer{remoteAddress=" + remoteAddress + ", certificateIdentity=" + certificateIdentity.orElse(null)
        + ", bearerToken=" + (bearerToken.isPresent() ? "****" : "none") + "}";
  }
}
