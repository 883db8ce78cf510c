package dev.conduit.core;

import static java.util.Objects.requireNonNull;

import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A decoded request to reach a destination, made by an inbound protocol and given to the router.
 *
 * @param connection the downstream connection the request came on
 * @param destination where the client wants to go
 * @param principal the authenticated user or peer identity, if any
 * @param sniffedHost a host name learned by peeking at the payload (TLS SNI, HTTP Host) in
 *     transparent mode, if any; rules match it like a domain destination
 */
public record ConnectRequest(
    ConnectionInfo connection, Destination destination, Optional<String> principal, Optional<String> sniffedHost) {

  /** Checks the components. */
  public ConnectRequest {
    requireNonNull(connection, "connection");
    requireNonNull(destination, "destination");
    requireNonNull(principal, "principal");
    requireNonNull(sniffedHost, "sniffedHost");
  }

  /** A request without principal or sniffed host. */
  public static ConnectRequest of(ConnectionInfo connection, Destination destination) {
    return new ConnectRequest(connection, destination, Optional.empty(), Optional.empty());
  }

  /** This request with a principal ({@code null}: none). */
  public ConnectRequest withPrincipal(@Nullable String value) {
    return new ConnectRequest(connection, destination, Optional.ofNullable(value), sniffedHost);
  }

  /** This request with another destination. */
  public ConnectRequest withDestination(Destination value) {
    return new ConnectRequest(connection, value, principal, sniffedHost);
  }

  /** This request with a host name learned by sniffing ({@code null}: none). */
  public ConnectRequest withSniffedHost(@Nullable String value) {
    return new ConnectRequest(connection, destination, principal, Optional.ofNullable(value));
  }
}
