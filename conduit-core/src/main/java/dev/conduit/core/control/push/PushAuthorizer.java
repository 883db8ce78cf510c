package dev.conduit.core.control.push;

import java.util.Optional;

/**
 * Decides whether a {@link PushPeer} may open a push channel, and under which agent identity. Called on an event
 * loop during the WebSocket upgrade: it must not block (look tokens and identities up in memory).
 *
 * <p>The identity names the agent in {@link PushServer#agents()}; a second connection under the same identity
 * replaces the first, so give every agent its own.
 */
@FunctionalInterface
public interface PushAuthorizer {

  /**
   * Returns the agent identity to admit {@code peer} under, or empty to refuse it (HTTP 403, or 401 when it
   * presented neither a certificate nor a token).
   */
  Optional<String> authorize(PushPeer peer);

  /**
   * Returns an authorizer that admits every peer with a verified client certificate under its certificate
   * identity, and refuses bearer tokens.
   */
  static PushAuthorizer certificateIdentity() {
    return peer -> peer.certificateIdentity().map(Object::toString);
  }
}
