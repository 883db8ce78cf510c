package dev.conduit.core.pki;

import static java.util.Objects.requireNonNull;

import io.netty.util.NetUtil;
import java.net.IDN;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;

/**
 * One subject alternative name of a certificate: a DNS name, an IP address or a URI (e.g. a SPIFFE-like
 * identity {@code spiffe://conduit/node/a}). Instances are validated and normalised: DNS names are lower-case
 * ASCII (IDNs converted with punycode) without a trailing dot, IP addresses are in canonical text form.
 *
 * @param type what kind of name this is
 * @param value the normalised name
 */
public record SubjectAlternativeName(Type type, String value) {

  /** The kinds of subject alternative names conduit issues and reads. */
  public enum Type {
    /** {@code dNSName}; may be a wildcard such as {@code *.example.com}. */
    DNS,
    /** {@code iPAddress}, IPv4 or IPv6. */
    IP,
    /** {@code uniformResourceIdentifier}. */
    URI
  }

  /** Validates the components; prefer the factory methods, which also normalise. */
  public SubjectAlternativeName {
    requireNonNull(type, "type");
    requireNonNull(value, "value");
  }

  /**
   * A DNS name; a single leading wildcard label ({@code *.example.com}) is allowed.
   *
   * @throws IllegalArgumentException if {@code name} is not a valid host name
   */
  public static SubjectAlternativeName dns(String name) {
    return new SubjectAlternativeName(Type.DNS, normaliseDnsName(name, true));
  }

  /**
   * An IP address given as a literal ({@code 192.0.2.1}, {@code 2001:db8::1}, also {@code [2001:db8::1]});
   * never resolved.
   *
   * @throws IllegalArgumentException if {@code address} is not an IP literal
   */
  public static SubjectAlternativeName ip(String address) {
    requireNonNull(address, "address");
    byte[] bytes = ipBytes(address);
    if (bytes == null) {
      throw new IllegalArgumentException("ip: " + quote(address) + " (expected: an IPv4 or IPv6 literal)");
    }
    return new SubjectAlternativeName(Type.IP, ipToString(bytes));
  }

  /**
   * An absolute URI such as {@code spiffe://conduit/node/a}.
   *
   * @throws IllegalArgumentException if {@code uri} is not an absolute URI
   */
  public static SubjectAlternativeName uri(String uri) {
    requireNonNull(uri, "uri");
    try {
      URI parsed = new URI(uri);
      if (!parsed.isAbsolute() || uri.isBlank()) {
        throw new IllegalArgumentException("uri: " + quote(uri) + " (expected: an absolute URI with a scheme)");
      }
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("uri: " + quote(uri) + " (" + e.getReason() + ")", e);
    }
    return new SubjectAlternativeName(Type.URI, uri);
  }

  /**
   * Parses a name given on a command line: {@code DNS:x}, {@code IP:x} and {@code URI:x} prefixes are honoured;
   * without a prefix an IP literal becomes {@link Type#IP}, a string containing {@code "://"} a {@link Type#URI}
   * and anything else a {@link Type#DNS} name.
   */
  public static SubjectAlternativeName parse(String text) {
    requireNonNull(text, "text");
    String trimmed = text.trim();
    int colon = trimmed.indexOf(':');
    if (colon > 0) {
      String prefix = trimmed.substring(0, colon).toUpperCase(Locale.ROOT);
      String rest = trimmed.substring(colon + 1);
      switch (prefix) {
        case "DNS":
          return dns(rest);
        case "IP":
          return ip(rest);
        case "URI":
          return uri(rest);
        default:
          break;
      }
    }
    if (ipBytes(trimmed) != null) {
      return ip(trimmed);
    }
    if (trimmed.contains("://")) {
      return uri(trimmed);
    }
    return dns(trimmed);
  }

  /** Returns {@code TYPE:value}, the form {@link #parse(String)} reads back. */
  @Override
  public String toString() {
    return type + ":" + value;
  }

  /** Returns the address bytes if {@code text} is an IP literal (brackets allowed), else {@code null}. */
  static byte[] ipBytes(String text) {
    String literal = text.length() > 2 && text.startsWith("[") && text.endsWith("]")
        ? text.substring(1, text.length() - 1) : text;
    return NetUtil.createByteArrayFromIpAddressString(literal);
  }

  /** Returns the canonical text form (RFC 5952 for IPv6) of an address; never resolves anything. */
  static String ipToString(byte[] bytes) {
    try {
      return NetUtil.toAddressString(InetAddress.getByAddress(bytes));
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("ip: " + bytes.length + " bytes (expected: 4 or 16)", e);
    }
  }

  static String normaliseDnsName(String name, boolean allowWildcard) {
    requireNonNull(name, "name");
    String ascii;
    try {
      ascii = IDN.toASCII(name.trim(), IDN.ALLOW_UNASSIGNED).toLowerCase(Locale.ROOT);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("dns name: " + quote(name) + " (" + e.getMessage() + ")", e);
    }
    if (ascii.endsWith(".")) {
      ascii = ascii.substring(0, ascii.length() - 1);
    }
    if (ascii.isEmpty() || ascii.length() > 253) {
      throw new IllegalArgumentException("dns name: " + quote(name) + " (expected: 1-253 characters)");
    }
    String[] labels = ascii.split("\\.", -1);
    for (int i = 0; i < labels.length; i++) {
      String label = labels[i];
      if (i == 0 && label.equals("*") && labels.length > 1) {
        if (!allowWildcard) {
          throw new IllegalArgumentException("dns name: " + quote(name) + " (wildcards are not allowed here)");
        }
        continue;
      }
      if (!isValidLabel(label)) {
        throw new IllegalArgumentException("dns name: " + quote(name)
            + " (expected: labels of 1-63 letters, digits, '-' or '_', optionally a leading '*.')");
      }
    }
    return ascii;
  }

  private static boolean isValidLabel(String label) {
    if (label.isEmpty() || label.length() > 63 || label.startsWith("-") || label.endsWith("-")) {
      return false;
    }
    for (int i = 0; i < label.length(); i++) {
      char c = label.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  static String quote(String text) {
    return "\"" + text + "\"";
  }
}
