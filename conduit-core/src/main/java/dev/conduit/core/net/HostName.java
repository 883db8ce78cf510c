package dev.conduit.core.net;

import static java.util.Objects.requireNonNull;

import java.net.IDN;
import java.util.Locale;

/**
 * A host name or IP literal in conduit's one canonical spelling, so that routing rules, the
 * interception list, netfilter plans and the egress guard judge a host the same way: trimmed,
 * lower case, without trailing dots, IPv6 literals without brackets, and international names in
 * their ASCII (punycode) form — {@code Bücher.Example.} and {@code xn--bcher-kva.example} are one
 * host.
 *
 * @param value the canonical spelling
 */
public record HostName(String value) {

  /** Validates that {@code value} is already canonical; prefer {@link #of(String)}. */
  public HostName {
    requireNonNull(value, "value");
    if (value.isEmpty() || !value.equals(normalize(value))) {
      throw new IllegalArgumentException("host: " + value + " (expected: a canonical name; use HostName.of)");
    }
  }

  /**
   * Parses a host name or IP literal.
   *
   * @throws IllegalArgumentException when the name is empty, too long or not a valid DNS name
   */
  public static HostName of(String host) {
    requireNonNull(host, "host");
    String h = normalize(host);
    if (h.isEmpty()) {
      throw new IllegalArgumentException("host: empty (expected: a DNS name or IP literal such as example.com)");
    }
    if (h.indexOf(':') < 0 && (h.length() > 253 || h.contains("..") || h.startsWith(".") || !isAscii(h)
        || h.chars().anyMatch(c -> c <= ' ' || c == '/' || c == '@' || c == '\\'))) {
      throw new IllegalArgumentException("host: " + host + " (expected: a DNS name such as example.com)");
    }
    return new HostName(h);
  }

  /**
   * The canonical spelling of {@code host}, never throwing: names that are not valid international
   * names keep their lower-case form (and so match nothing configured in punycode). Cheap for ASCII
   * names, which is what arrives on the wire; safe to call per request.
   */
  public static String normalize(String host) {
    String h = host.trim();
    if (h.length() > 1 && h.charAt(0) == '[' && h.charAt(h.length() - 1) == ']') {
      return h.substring(1, h.length() - 1).toLowerCase(Locale.ROOT);
    }
    int end = h.length();
    while (end > 0 && h.charAt(end - 1) == '.') {
      end--;
    }
    h = h.substring(0, end).toLowerCase(Locale.ROOT);
    if (isAscii(h) || h.indexOf(':') >= 0) {
      return h;
    }
    try {
      return IDN.toASCII(h, IDN.ALLOW_UNASSIGNED).toLowerCase(Locale.ROOT);
    } catch (IllegalArgumentException notAnIdn) {
      return h;
    }
  }

  /** Whether {@code host} (any spelling) is this host. */
  public boolean is(String host) {
    return value.equals(normalize(host));
  }

  private static boolean isAscii(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) >= 0x80) {
        return false;
      }
    }
    return true;
  }

  @Override
  public String toString() {
    return value;
  }
}
