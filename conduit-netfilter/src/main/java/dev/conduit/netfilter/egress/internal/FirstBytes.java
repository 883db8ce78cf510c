package dev.conduit.netfilter.egress.internal;

import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Reads the server name from the first bytes a client sent, for the egress gateway's L7 check: the SNI of a
 * TLS ClientHello (its first record) or the Host of an HTTP/1 request (its header block). Says when more
 * bytes are needed to decide, so the caller reads on up to its limit.
 */
public final class FirstBytes {

  /** What the first bytes are. */
  public enum Kind {
    /** Not enough bytes yet to tell, or to find the name. */
    NEED_MORE,
    /** A TLS handshake record. */
    TLS,
    /** An HTTP/1 request. */
    HTTP,
    /** Something else: neither TLS nor HTTP/1. */
    OTHER
  }

  /**
   * What was found.
   *
   * @param kind the protocol, or {@link Kind#NEED_MORE}
   * @param name the server name (lower case, no trailing dot), empty when the protocol carries none
   */
  public record Result(Kind kind, Optional<String> name) {}

  private static final Result NEED_MORE = new Result(Kind.NEED_MORE, Optional.empty());
  private static final Result OTHER = new Result(Kind.OTHER, Optional.empty());

  private FirstBytes() {}

  /**
   * Reads the first bytes.
   *
   * @param b the bytes received so far
   * @param complete whether no more bytes will be read (the limit is reached): then the result is never
   *     {@link Kind#NEED_MORE}
   * @return what they are, with the name where found
   */
  public static Result read(byte[] b, boolean complete) {
    if (b.length == 0) {
      return complete ? OTHER : NEED_MORE;
    }
    if (b[0] == 0x16) {
      if (b.length < 5) {
        return complete ? new Result(Kind.TLS, Optional.empty()) : NEED_MORE;
      }
      if (b[1] != 0x03) {
        return OTHER;
      }
      int record = 5 + (((b[3] & 0xff) << 8) | (b[4] & 0xff));
      if (b.length < record && !complete) {
        return NEED_MORE;
      }
      // the ClientHello must fit its first record: read across a record boundary, the next record's header
      // would be taken for handshake bytes, and a crafted hello could show a name the server never sees
      int handshake = b.length >= 9 ? 4 + (((b[6] & 0xff) << 16) | ((b[7] & 0xff) << 8) | (b[8] & 0xff)) : -1;
      if (handshake < 0 || handshake > record - 5) {
        return new Result(Kind.TLS, Optional.empty());
      }
      return new Result(Kind.TLS, ServerName.sni(java.util.Arrays.copyOf(b, Math.min(b.length, record))));
    }
    if (!looksLikeMethod(b)) {
      return OTHER;
    }
    int end = headerEnd(b);
    if (end < 0 && !complete) {
      return NEED_MORE;
    }
    return new Result(Kind.HTTP, httpName(b, end < 0 ? b.length : end));
  }

  /**
   * The server an HTTP/1 request names, as the origin would read it: the Host header, or the authority of an
   * absolute-form or authority-form request target (which wins over Host at the origin). None when they
   * differ or when there are several Host headers (an origin or CDN might route by another one).
   */
  private static Optional<String> httpName(byte[] b, int length) {
    String head = new String(b, 0, Math.min(b.length, length), StandardCharsets.ISO_8859_1);
    int hosts = 0;
    for (String line : head.split("\r\n")) {
      if (line.regionMatches(true, 0, "host:", 0, 5)) {
        hosts++;
      }
    }
    if (hosts > 1) {
      return Optional.empty();
    }
    Optional<String> host = ServerName.httpHost(b, length);
    int lineEnd = head.indexOf("\r\n");
    String[] requestLine = (lineEnd < 0 ? head : head.substring(0, lineEnd)).split(" ");
    if (requestLine.length < 2 || requestLine[1].startsWith("/") || requestLine[1].equals("*")) {
      return host;
    }
    String target = requestLine[1];
    int scheme = target.indexOf("://");
    String authority = scheme >= 0 ? target.substring(scheme + 3) : target;
    int slash = authority.indexOf('/');
    authority = slash >= 0 ? authority.substring(0, slash) : authority;
    authority = authority.substring(authority.lastIndexOf('@') + 1);
    String name;
    if (authority.startsWith("[")) {
      int close = authority.indexOf(']');
      name = close > 0 ? authority.substring(1, close) : "";
    } else {
      int colon = authority.indexOf(':');
      name = colon >= 0 ? authority.substring(0, colon) : authority;
    }
    Optional<String> fromTarget = ServerName.httpHost(("GET / HTTP/1.1\r\nHost: "
        + (name.contains(":") ? "[" + name + "]" : name) + "\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1));
    if (fromTarget.isEmpty() || (host.isPresent() && !host.equals(fromTarget))) {
      return Optional.empty();
    }
    return fromTarget;
  }

  /** Whether the bytes start like an HTTP/1 request line: up to 7 upper-case letters, then a space. */
  private static boolean looksLikeMethod(byte[] b) {
    int n = Math.min(b.length, 8);
    for (int i = 0; i < n; i++) {
      byte c = b[i];
      if (c == ' ') {
        return i >= 3;
      }
      if (c < 'A' || c > 'Z') {
        return false;
      }
    }
    return n < 8; // still reading the method
  }

  private static int headerEnd(byte[] b) {
    byte[] crlf2 = "\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
    outer:
    for (int i = 0; i + 4 <= b.length; i++) {
      for (int j = 0; j < 4; j++) {
        if (b[i + j] != crlf2[j]) {
          continue outer;
        }
      }
      return i + 4;
    }
    return -1;
  }
}
