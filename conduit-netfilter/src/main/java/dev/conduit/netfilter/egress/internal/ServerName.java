package dev.conduit.netfilter.egress.internal;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Optional;

/**
 * Finds the server a flow's first payload names: the SNI of a TLS ClientHello or the Host of an HTTP/1
 * request. Works on a prefix of the payload (one packet): what lies beyond it is not looked for. Only
 * names made of letters, digits, dots, hyphens and underscores, up to 253 characters, are returned.
 */
public final class ServerName {

  private ServerName() {}

  /**
   * Returns the server name of a TLS ClientHello the bytes start.
   *
   * @param b the payload prefix
   * @return the name, or empty
   */
  public static Optional<String> sni(byte[] b) {
    // record: type 22, version (2), length (2); handshake: type 1, length (3), version (2), random (32)
    if (b.length < 43 || b[0] != 0x16 || b[1] != 0x03 || b[5] != 0x01) {
      return Optional.empty();
    }
    int p = 5 + 4 + 2 + 32;
    p = skip(b, p, 1); // session id
    p = skip(b, p, 2); // cipher suites
    p = skip(b, p, 1); // compression methods
    if (p < 0 || p + 2 > b.length) {
      return Optional.empty();
    }
    int end = Math.min(b.length, p + 2 + u16(b, p));
    p += 2;
    while (p + 4 <= end) {
      int type = u16(b, p);
      int length = u16(b, p + 2);
      p += 4;
      if (type == 0) { // server_name: list length (2), name type (1), name length (2), name
        if (p + 5 > b.length || b[p + 2] != 0) {
          return Optional.empty();
        }
        int nameLength = u16(b, p + 3);
        if (p + 5 + nameLength > b.length) {
          return Optional.empty();
        }
        return name(new String(b, p + 5, nameLength, StandardCharsets.ISO_8859_1));
      }
      p += length;
    }
    return Optional.empty();
  }

  /**
   * Returns the Host header of an HTTP/1 request the bytes start (without a port).
   *
   * @param b the payload prefix
   * @return the host, or empty
   */
  public static Optional<String> httpHost(byte[] b) {
    return httpHost(b, 4096);
  }

  /**
   * Returns the Host header of an HTTP/1 request in the first {@code length} bytes (without a port).
   *
   * @param b the payload prefix
   * @param length how many of its bytes to look at
   * @return the host, or empty
   */
  public static Optional<String> httpHost(byte[] b, int length) {
    String text = new String(b, 0, Math.min(b.length, length), StandardCharsets.ISO_8859_1);
    int lineEnd = text.indexOf("\r\n");
    if (lineEnd < 0 || !text.substring(0, lineEnd).matches("[A-Z]{3,7} \\S+ HTTP/1\\.[01]")) {
      return Optional.empty();
    }
    int p = lineEnd + 2;
    while (p < text.length()) {
      int e = text.indexOf("\r\n", p);
      if (e <= p) {
        return Optional.empty(); // end of the headers, or beyond what was logged
      }
      String line = text.substring(p, e);
      if (line.regionMatches(true, 0, "host:", 0, 5)) {
        String host = line.substring(5).strip();
        if (host.startsWith("[")) {
          int close = host.indexOf(']');
          return close > 0 ? name(host.substring(1, close)) : Optional.empty();
        }
        int colon = host.indexOf(':');
        return name(colon < 0 ? host : host.substring(0, colon));
      }
      p = e + 2;
    }
    return Optional.empty();
  }

  private static Optional<String> name(String s) {
    String n = s.toLowerCase(Locale.ROOT);
    if (n.endsWith(".")) {
      n = n.substring(0, n.length() - 1);
    }
    return !n.isEmpty() && n.length() <= 253 && n.matches("[a-z0-9._:-]+") ? Optional.of(n) : Optional.empty();
  }

  private static int skip(byte[] b, int p, int lengthBytes) {
    if (p < 0 || p + lengthBytes > b.length) {
      return -1;
    }
    int length = lengthBytes == 1 ? b[p] & 0xff : u16(b, p);
    return p + lengthBytes + length;
  }

  private static int u16(byte[] b, int p) {
    return ((b[p] & 0xff) << 8) | (b[p + 1] & 0xff);
  }
}
