package dev.conduit.netfilter;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.regex.Pattern;

/** IP literal parsing that never resolves names. */
final class Addresses {

  private static final Pattern IPV4 =
      Pattern.compile("((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)");
  private static final Pattern IPV6 = Pattern.compile("[0-9a-fA-F:.]+");

  private Addresses() {}

  static InetAddress parse(String text) {
    String t = text.trim();
    if (t.startsWith("[") && t.endsWith("]")) {
      t = t.substring(1, t.length() - 1);
    }
    boolean literal = IPV4.matcher(t).matches() || (t.indexOf(':') >= 0 && IPV6.matcher(t).matches());
    if (!literal) {
      throw new IllegalArgumentException("address: " + text + " (expected: an IPv4 or IPv6 literal)");
    }
    try {
      return InetAddress.getByName(t);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("address: " + text + " (expected: an IPv4 or IPv6 literal)", e);
    }
  }

  static InetAddress fromBytes(byte[] bytes) {
    try {
      return InetAddress.getByAddress(bytes);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }
}
