package dev.conduit.core.net;

/**
 * What an address is, after the IANA IPv4 and IPv6 special-purpose address registries (RFC 6890 and
 * its updates). Only {@link #PUBLIC} addresses are reachable on the internet.
 */
public enum AddressCategory {
  /** Globally reachable unicast. */
  PUBLIC,
  /** {@code 0.0.0.0}, {@code ::}. */
  UNSPECIFIED,
  /** {@code 127.0.0.0/8}, {@code ::1}. */
  LOOPBACK,
  /** RFC 1918 ({@code 10/8}, {@code 172.16/12}, {@code 192.168/16}) and unique local {@code fc00::/7}. */
  PRIVATE,
  /** Shared address space for carrier-grade NAT, {@code 100.64.0.0/10} (RFC 6598). */
  SHARED,
  /** {@code 169.254.0.0/16} (cloud metadata lives here), {@code fe80::/10}. */
  LINK_LOCAL,
  /** {@code 192.0.2/24}, {@code 198.51.100/24}, {@code 203.0.113/24}, {@code 2001:db8::/32}, {@code 3fff::/20}. */
  DOCUMENTATION,
  /** Benchmarking, {@code 198.18.0.0/15} (RFC 2544). */
  BENCHMARKING,
  /** {@code 224.0.0.0/4}, {@code ff00::/8}. */
  MULTICAST,
  /** {@code 255.255.255.255}. */
  BROADCAST,
  /**
   * Reserved, unallocated or protocol-specific: {@code 0/8}, {@code 192.0.0/24} (but for its two global
   * addresses), {@code 192.88.99/24}, {@code 240/4}, {@code 100::/64}, {@code 2001::/23} (but for its
   * global blocks), {@code 5f00::/16}, and IPv6 outside {@code 2000::/3}.
   */
  RESERVED,
  /**
   * An IPv6 transition form (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo) carrying a public IPv4
   * address: reachable only through the IPv4 address, which is what an allowlist should name.
   */
  TRANSITION
}
