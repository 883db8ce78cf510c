package dev.conduit.netfilter;

import static java.util.Objects.requireNonNull;

import dev.conduit.netfilter.internal.InetFormat;
import java.net.Inet4Address;
import java.net.InetAddress;

/**
 * An IP network in CIDR notation, e.g. {@code 198.18.0.0/15} or {@code fd00::/8}. The address is
 * normalised to the network address (host bits cleared).
 *
 * @param address the network address
 * @param prefixLength the prefix length (0-32 for IPv4, 0-128 for IPv6)
 */
public record IpNetwork(InetAddress address, int prefixLength) {

  /**
   * Validates and normalises.
   *
   * @param address the network address
   * @param prefixLength the prefix length
   */
  public IpNetwork {
    requireNonNull(address, "address");
    int max = address instanceof Inet4Address ? 32 : 128;
    if (prefixLength < 0 || prefixLength > max) {
      throw new IllegalArgumentException(
          "prefixLength: " + prefixLength + " (expected: 0-" + max + ")");
    }
    byte[] bytes = address.getAddress();
    for (int bit = prefixLength; bit < bytes.length * 8; bit++) {
      bytes[bit / 8] &= (byte) ~(0x80 >>> (bit % 8));
    }
    address = Addresses.fromBytes(bytes);
  }

  /**
   * Parses {@code "198.18.0.0/15"}, {@code "fd00::/8"} or a bare address (a /32 or /128 network).
   * Only IP literals are accepted; host names are never resolved.
   *
   * @param cidr the text
   * @return the network
   * @throws IllegalArgumentException when the text is not a CIDR
   */
  public static IpNetwork parse(String cidr) {
    requireNonNull(cidr, "cidr");
    int slash = cidr.indexOf('/');
    InetAddress address = Addresses.parse(slash < 0 ? cidr : cidr.substring(0, slash));
    int max = address instanceof Inet4Address ? 32 : 128;
    if (slash < 0) {
      return new IpNetwork(address, max);
    }
    String bits = cidr.substring(slash + 1);
    if (!bits.matches("\\d{1,3}")) {
      throw new IllegalArgumentException("cidr: " + cidr + " (expected: address/prefix-length)");
    }
    return new IpNetwork(address, Integer.parseInt(bits));
  }

  /** Returns the family of this network. */
  public IpFamily family() {
    return address instanceof Inet4Address ? IpFamily.IPV4 : IpFamily.IPV6;
  }

  /** Returns the CIDR text, e.g. {@code 198.18.0.0/15}. */
  @Override
  public String toString() {
    return InetFormat.format(address) + "/" + prefixLength;
  }
}
