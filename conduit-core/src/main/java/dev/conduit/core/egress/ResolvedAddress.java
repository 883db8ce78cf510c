package dev.conduit.core.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.net.IpAddress;
import java.time.Instant;
import java.util.Optional;

/**
 * An address a domain entry resolved to. An address that left the answers stays in grace until
 * {@code graceUntil}, and after that for as long as a gateway reports an established flow to it.
 *
 * @param address the address
 * @param firstSeen when it was first in an answer
 * @param lastSeen when it was last in an answer
 * @param graceUntil when it may go, if it left the answers
 */
public record ResolvedAddress(IpAddress address, Instant firstSeen, Instant lastSeen, Optional<Instant> graceUntil) {

  /** Checks the components. */
  public ResolvedAddress {
    requireNonNull(address, "address");
    requireNonNull(firstSeen, "firstSeen");
    requireNonNull(lastSeen, "lastSeen");
    requireNonNull(graceUntil, "graceUntil");
  }

  /** Returns {@code active} while the address is in the answers, {@code grace} after it left them. */
  public String state() {
    return graceUntil.isPresent() ? "grace" : "active";
  }
}
