package dev.conduit.core.net;

import static java.util.Objects.requireNonNull;

import java.math.BigInteger;

/**
 * An IP network in CIDR notation, e.g. {@code 198.51.100.0/24} or {@code 2001:db8::/32}: an address
 * whose bits after the prefix length are zero. Immutable.
 *
 * @param address the network address (host bits zero)
 * @param length the prefix length, 0-32 for IPv4 and 0-128 for IPv6
 */
public record IpPrefix(IpAddress address, int length) implements Comparable<IpPrefix> {

  /**
   * Validates.
   *
   * @param address the network address
   * @param length the prefix length
   * @throws IllegalArgumentException when the length is out of range or host bits are set
   */
  public IpPrefix {
    requireNonNull(address, "address");
    if (length < 0 || length > address.bits()) {
      throw new IllegalArgumentException(
          "prefix length: " + length + " (expected: 0-" + address.bits() + ")");
    }
    IpAddress network = masked(address, length);
    if (!network.equals(address)) {
      throw new IllegalArgumentException("prefix: " + address + "/" + length
          + " has host bits set (expected: " + network + "/" + length + ")");
    }
  }

  private static IpAddress masked(IpAddress address, int length) {
    byte[] b = address.bytes();
    for (int bit = length; bit < b.length * 8; bit++) {
      b[bit / 8] &= (byte) ~(0x80 >>> (bit % 8));
    }
    return IpAddress.ofBytes(b);
  }

  /**
   * Returns the network of the given length that contains an address (host bits cleared).
   *
   * @param address the address
   * @param length the prefix length
   * @return the network
   */
  public static IpPrefix containing(IpAddress address, int length) {
    requireNonNull(address, "address");
    if (length < 0 || length > address.bits()) {
      throw new IllegalArgumentException(
          "prefix length: " + length + " (expected: 0-" + address.bits() + ")");
    }
    return new IpPrefix(masked(address, length), length);
  }

  /**
   * Parses {@code address/length}, or a bare address as a single-address prefix ({@code /32} or
   * {@code /128}). The address is parsed as strictly as {@link IpAddress#parse}; the length is decimal
   * without leading zeros; host bits must be zero.
   *
   * @param text the CIDR text
   * @return the prefix
   * @throws IllegalArgumentException when the text is not a CIDR
   */
  public static IpPrefix parse(String text) {
    requireNonNull(text, "text");
    int slash = text.indexOf('/');
    IpAddress address = IpAddress.parse(slash < 0 ? text : text.substring(0, slash));
    if (slash < 0) {
      return containing(address, address.bits());
    }
    String bits = text.substring(slash + 1);
    if (!bits.matches("0|[1-9]\\d{0,2}")) {
      throw new IllegalArgumentException("prefix: " + IpAddress.shorten(text)
          + " (expected: address/length, e.g. 198.51.100.0/24)");
    }
    return new IpPrefix(address, Integer.parseInt(bits));
  }

  /** Returns whether this is an IPv4 prefix. */
  public boolean isIpv4() {
    return address.isIpv4();
  }

  /** Returns the first address as a number. */
  BigInteger first() {
    return address.toBigInteger();
  }

  /** Returns the last address as a number. */
  BigInteger last() {
    return first().add(BigInteger.ONE.shiftLeft(address.bits() - length)).subtract(BigInteger.ONE);
  }

  /**
   * Returns whether the address lies in this prefix.
   *
   * @param candidate the address
   * @return whether it is inside
   */
  public boolean contains(IpAddress candidate) {
    requireNonNull(candidate, "candidate");
    return candidate.isIpv4() == isIpv4() && masked(candidate, length).equals(address);
  }

  /**
   * Returns whether the other prefix lies wholly in this one.
   *
   * @param other the other prefix
   * @return whether it is inside
   */
  public boolean contains(IpPrefix other) {
    requireNonNull(other, "other");
    return other.length >= length && contains(other.address);
  }

  /** Returns {@code address/length}. */
  @Override
  public String toString() {
    return address + "/" + length;
  }

  /** By address, then shorter prefixes first. */
  @Override
  public int compareTo(IpPrefix other) {
    int c = address.compareTo(other.address);
    return c != 0 ? c : Integer.compare(length, other.length);
  }
}
