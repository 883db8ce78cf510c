package dev.conduit.core;

import static java.util.Objects.requireNonNull;

import java.net.InetSocketAddress;
import java.time.Instant;

/**
 * What is known about a downstream connection when it is accepted.
 *
 * @param id unique within the process, carried by every log line about the connection
 * @param listener the name of the listener that accepted it
 * @param protocol the inbound protocol: the listener's ({@code http}, {@code socks}, ...), or on a mixed listener
 *     the one detected from the first byte ({@code http} or {@code socks}; {@code mixed} until a byte arrived)
 * @param client the client's address
 * @param local the local address the client connected to
 * @param accepted when it was accepted
 */
public record ConnectionInfo(
    String id, String listener, String protocol, InetSocketAddress client, InetSocketAddress local, Instant accepted) {

  /** Checks the components. */
  public ConnectionInfo {
    requireNonNull(id, "id");
    requireNonNull(listener, "listener");
    requireNonNull(protocol, "protocol");
    requireNonNull(client, "client");
    requireNonNull(local, "local");
    requireNonNull(accepted, "accepted");
  }
}
