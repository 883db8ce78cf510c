package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.net.IpAddress;

/**
 * A destination outside the allowlist that the protected networks tried to reach, with the number of
 * new flows (first packets, retries included) to it: what enforce mode dropped, or what report-only
 * mode would have dropped. The kernel forgets a destination an hour after its last attempt.
 *
 * @param destination the address
 * @param packets first packets of flows to it
 * @param bytes their bytes
 */
public record DeniedDestination(IpAddress destination, long packets, long bytes) {

  /**
   * Validates.
   *
   * @param destination the address
   * @param packets first packets of flows to it
   * @param bytes their bytes
   */
  public DeniedDestination {
    requireNonNull(destination, "destination");
  }
}
