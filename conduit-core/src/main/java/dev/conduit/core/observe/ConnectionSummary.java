package dev.conduit.core.observe;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.Destination;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;

/**
 * Everything about a closed downstream connection, for access logs and metrics.
 *
 * @param connection the connection
 * @param principal the authenticated principal, if any
 * @param destination the last destination requested, if any
 * @param rule the routing rule that matched, if routed
 * @param outbound the outbound used, if dialed
 * @param dialed the address dialed (destination or first hop), if dialed
 * @param bytesFromClient bytes read from the client
 * @param bytesToClient bytes written to the client
 * @param requests requests served (1 for tunnels; the count for HTTP keep-alive)
 * @param negotiation time from accept to the first decoded request
 * @param dial time spent dialing
 * @param total time from accept to close
 * @param outcome how it ended
 * @param detail a short reason, empty when OK
 */
public record ConnectionSummary(
    ConnectionInfo connection,
    Optional<String> principal,
    Optional<Destination> destination,
    Optional<String> rule,
    Optional<String> outbound,
    Optional<InetSocketAddress> dialed,
    long bytesFromClient,
    long bytesToClient,
    int requests,
    Duration negotiation,
    Duration dial,
    Duration total,
    Outcome outcome,
    String detail) {

  /** Checks the components. */
  public ConnectionSummary {
    requireNonNull(connection, "connection");
    requireNonNull(principal, "principal");
    requireNonNull(destination, "destination");
    requireNonNull(rule, "rule");
    requireNonNull(outbound, "outbound");
    requireNonNull(dialed, "dialed");
    requireNonNull(negotiation, "negotiation");
    requireNonNull(dial, "dial");
    requireNonNull(total, "total");
    requireNonNull(outcome, "outcome");
    requireNonNull(detail, "detail");
  }
}
