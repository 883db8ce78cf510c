package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.net.IpPrefix;

/**
 * The kernel's counters of one allowlisted address or prefix: what the protected networks sent to it
 * ({@code out}) and received from it ({@code in}), IP headers included.
 *
 * @param prefix the allowlist entry
 * @param outPackets packets forwarded to it
 * @param outBytes bytes forwarded to it
 * @param inPackets packets forwarded from it
 * @param inBytes bytes forwarded from it
 */
public record AddressCounters(IpPrefix prefix, long outPackets, long outBytes, long inPackets,
    long inBytes) {

  /**
   * Validates.
   *
   * @param prefix the allowlist entry
   * @param outPackets packets forwarded to it
   * @param outBytes bytes forwarded to it
   * @param inPackets packets forwarded from it
   * @param inBytes bytes forwarded from it
   */
  public AddressCounters {
    requireNonNull(prefix, "prefix");
  }

  /** Returns the entry as a label: the address for a single address, the CIDR otherwise. */
  public String label() {
    return prefix.length() == prefix.address().bits() ? prefix.address().toString() : prefix.toString();
  }
}
