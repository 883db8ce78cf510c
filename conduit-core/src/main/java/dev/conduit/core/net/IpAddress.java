package dev.conduit.core.net;

import static java.util.Objects.requireNonNull;

import java.math.BigInteger;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;

/**
 * An IPv4 or IPv6 address as plain bytes, parsed strictly and never resolved. Unlike {@link
 * InetAddress#getByName}, {@link #parse} refuses the forms {@code inet_aton} accepts ({@code 127.1},
 * {@code 2130706433}, {@code 0x7f.1}, {@code 0177.0.0.1}) and keeps IPv6 forms that embed an IPv4
 * address ({@code ::ffff:127.0.0.1}) as IPv6, so that {@link AddressClassifier} can see what they
 * carry. Immutable; equal when the bytes are equal.
 */
public final class IpAddress implements Comparable<IpAddress> {

  private final byte[] bytes;

  private IpAddress(byte[] bytes) {
    this.bytes = bytes;
  }

  /**
   * Returns the address with these bytes.
   *
   * @param bytes 4 bytes (IPv4) or 16 bytes (IPv6), copied
   * @return the address
   */
  public static IpAddress ofBytes(byte[] bytes) {
    requireNonNull(bytes, "bytes");
    if (bytes.length != 4 && bytes.length != 16) {
      throw new IllegalArgumentException("bytes: " + bytes.length + " bytes (expected: 4 or 16)");
    }
    return new IpAddress(bytes.clone());
  }

  /**
   * Returns the address of a JDK address. An {@link Inet6Address} stays IPv6; the JDK has already
   * turned IPv4-mapped literals into {@link Inet4Address} when it parsed them.
   *
   * @param address the address
   * @return the address
   */
  public static IpAddress of(InetAddress address) {
    requireNonNull(address, "address");
    return new IpAddress(address.getAddress());
  }

  /**
   * Parses an IP literal: IPv4 as four decimal numbers 0-255 without leading zeros, IPv6 in RFC 4291
   * text form (optionally in brackets, optionally ending with a dotted quad), without a zone.
   *
   * @param text the literal
   * @return the address
   * @throws IllegalArgumentException when the text is not such a literal
   */
  public static IpAddress parse(String text) {
    requireNonNull(text, "text");
    String t = text;
    if (t.length() > 2 && t.startsWith("[") && t.endsWith("]")) {
      t = t.substring(1, t.length() - 1);
    }
    byte[] b = t.indexOf(':') >= 0 ? parseV6(t) : parseV4(t);
    if (b == null) {
      throw new IllegalArgumentException("address: " + shorten(text)
          + " (expected: an IPv4 literal like 192.0.2.1 or an IPv6 literal like 2001:db8::1)");
    }
    return new IpAddress(b);
  }

  /**
   * Returns whether the text is a literal {@link #parse} accepts.
   *
   * @param text the text
   * @return whether it parses
   */
  public static boolean isLiteral(String text) {
    try {
      parse(text);
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  static String shorten(String text) {
    return text.length() <= 80 ? text : text.substring(0, 80) + "... (" + text.length() + " chars)";
  }

  private static byte[] parseV4(String t) {
    String[] parts = t.split("\\.", -1);
    if (parts.length != 4) {
      return null;
    }
    byte[] b = new byte[4];
    for (int i = 0; i < 4; i++) {
      int v = decimalOctet(parts[i]);
      if (v < 0) {
        return null;
      }
      b[i] = (byte) v;
    }
    return b;
  }

  private static int decimalOctet(String s) {
    if (s.isEmpty() || s.length() > 3 || (s.length() > 1 && s.charAt(0) == '0')) {
      return -1;
    }
    int v = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      v = v * 10 + (c - '0');
    }
    return v <= 255 ? v : -1;
  }

  private static byte[] parseV6(String t) {
    if (t.length() > 45) {
      return null;
    }
    byte[] tail = null;
    int lastColon = t.lastIndexOf(':');
    if (t.indexOf('.', lastColon) >= 0) {
      tail = parseV4(t.substring(lastColon + 1));
      if (tail == null) {
        return null;
      }
      t = t.substring(0, lastColon + 1) + "0:0"; // placeholder groups, overwritten below
    }
    int gap = t.indexOf("::");
    if (gap >= 0 && t.indexOf("::", gap + 1) >= 0) {
      return null;
    }
    int[] head = groups(gap < 0 ? t : t.substring(0, gap));
    int[] rest = gap < 0 ? new int[0] : groups(t.substring(gap + 2));
    if (head == null || rest == null) {
      return null;
    }
    int count = head.length + rest.length;
    if ((gap < 0 && count != 8) || (gap >= 0 && count > 7)) {
      return null;
    }
    byte[] b = new byte[16];
    for (int i = 0; i < head.length; i++) {
      b[2 * i] = (byte) (head[i] >> 8);
      b[2 * i + 1] = (byte) head[i];
    }
    for (int i = 0; i < rest.length; i++) {
      int at = 8 - rest.length + i;
      b[2 * at] = (byte) (rest[i] >> 8);
      b[2 * at + 1] = (byte) rest[i];
    }
    if (tail != null) {
      System.arraycopy(tail, 0, b, 12, 4);
    }
    return b;
  }

  private static int[] groups(String s) {
    if (s.isEmpty()) {
      return new int[0];
    }
    String[] parts = s.split(":", -1);
    int[] g = new int[parts.length];
    for (int i = 0; i < parts.length; i++) {
      String p = parts[i];
      if (p.isEmpty() || p.length() > 4) {
        return null;
      }
      for (int j = 0; j < p.length(); j++) {
        if (Character.digit(p.charAt(j), 16) < 0) {
          return null;
        }
      }
      g[i] = Integer.parseInt(p, 16);
    }
    return g;
  }

  /** Returns whether this is an IPv4 address. */
  public boolean isIpv4() {
    return bytes.length == 4;
  }

  /** Returns the number of bits: 32 or 128. */
  public int bits() {
    return bytes.length * 8;
  }

  /** Returns a copy of the bytes (4 or 16). */
  public byte[] bytes() {
    return bytes.clone();
  }

  /** Returns the address as an unsigned number. */
  public BigInteger toBigInteger() {
    return new BigInteger(1, bytes);
  }

  static IpAddress fromBigInteger(BigInteger value, int bits) {
    byte[] raw = value.toByteArray();
    byte[] b = new byte[bits / 8];
    int n = Math.min(raw.length, b.length);
    System.arraycopy(raw, raw.length - n, b, b.length - n, n);
    return new IpAddress(b);
  }

  /**
   * Returns the JDK address. For an IPv4-mapped IPv6 address this is an {@link Inet6Address} all the
   * same (the JDK's own conversion would hand back an {@link Inet4Address}).
   */
  public InetAddress toInetAddress() {
    try {
      return isIpv4() ? InetAddress.getByAddress(bytes) : Inet6Address.getByAddress(null, bytes, -1);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  int byteAt(int i) {
    return bytes[i] & 0xff;
  }

  /** Returns {@code 192.0.2.1}, or the RFC 5952 form of an IPv6 address, e.g. {@code 2001:db8::1}. */
  @Override
  public String toString() {
    if (isIpv4()) {
      return byteAt(0) + "." + byteAt(1) + "." + byteAt(2) + "." + byteAt(3);
    }
    int[] g = new int[8];
    for (int i = 0; i < 8; i++) {
      g[i] = (byteAt(2 * i) << 8) | byteAt(2 * i + 1);
    }
    int bestStart = -1;
    int bestLength = 1;
    for (int i = 0; i < 8; ) {
      if (g[i] != 0) {
        i++;
        continue;
      }
      int j = i;
      while (j < 8 && g[j] == 0) {
        j++;
      }
      if (j - i > bestLength) {
        bestStart = i;
        bestLength = j - i;
      }
      i = j;
    }
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        s.append("::");
        i += bestLength - 1;
        continue;
      }
      if (s.length() > 0 && s.charAt(s.length() - 1) != ':') {
        s.append(':');
      }
      s.append(Integer.toHexString(g[i]));
    }
    return s.toString();
  }

  /** IPv4 before IPv6, then by value. */
  @Override
  public int compareTo(IpAddress other) {
    if (bytes.length != other.bytes.length) {
      return Integer.compare(bytes.length, other.bytes.length);
    }
    return Arrays.compareUnsigned(bytes, other.bytes);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof IpAddress other && Arrays.equals(bytes, other.bytes);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(bytes);
  }
}
