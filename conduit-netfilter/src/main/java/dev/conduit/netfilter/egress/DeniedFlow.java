package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.net.IpAddress;
import java.time.Instant;
import java.util.Optional;

/**
 * Flows from the protected networks to one destination and port outside the allowlist, as the gateway's
 * {@link FlowLog} saw their first packets: how many, when last, and the server name their first payload
 * carried where the gateway could see it (report-only mode lets the flow start, so its TLS ClientHello or
 * HTTP request passes through the gateway).
 *
 * @param destination the address
 * @param port the TCP port, 0 when the flows were not TCP or their port was not seen
 * @param sni the TLS server name of the last ClientHello seen
 * @param host the HTTP Host of the last request seen
 * @param count flows (first packets) seen
 * @param lastSeen when the last was seen
 */
public record DeniedFlow(IpAddress destination, int port, Optional<String> sni, Optional<String> host,
    long count, Instant lastSeen) {

  /**
   * Validates.
   *
   * @param destination the address
   * @param port the TCP port, 0 when unknown
   * @param sni the TLS server name
   * @param host the HTTP Host
   * @param count flows seen
   * @param lastSeen when the last was seen
   */
  public DeniedFlow {
    requireNonNull(destination, "destination");
    requireNonNull(sni, "sni");
    requireNonNull(host, "host");
    requireNonNull(lastSeen, "lastSeen");
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port: " + port + " (expected: 0-65535)");
    }
  }
}
