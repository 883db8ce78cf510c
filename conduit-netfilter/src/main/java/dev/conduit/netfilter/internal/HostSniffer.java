package dev.conduit.netfilter.internal;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Finds the host name a client is about to talk to in the first bytes of its connection: the TLS
 * ClientHello's {@code server_name} or an HTTP/1.x request's {@code Host} header. Reads without
 * consuming (the bytes go upstream unchanged) and never looks past the given limit.
 */
public final class HostSniffer {

  /** What a look at the bytes so far says. */
  public sealed interface Result permits NeedMore, Found, NotFound {}

  /** The bytes so far are a prefix of something that may name a host: read more. */
  public record NeedMore() implements Result {}

  /** A host name was found (lower case, without port). */
  public record Found(String host) implements Result {}

  /** No host name: not TLS or HTTP, no SNI / Host, an IP literal, or malformed. */
  public record NotFound(String why) implements Result {}

  private static final NeedMore NEED_MORE = new NeedMore();
  private static final int TLS_HANDSHAKE = 22;
  private static final int CLIENT_HELLO = 1;
  private static final int SERVER_NAME = 0;

  private HostSniffer() {}

  /**
   * Looks at {@code buf}'s readable bytes (not consumed).
   *
   * @param buf the bytes the client sent so far
   * @param limit the most bytes worth looking at; at or beyond it, NeedMore becomes NotFound
   * @return the result
   */
  public static Result sniff(ByteBuf buf, int limit) {
    int n = Math.min(buf.readableBytes(), limit);
    if (n == 0) {
      return NEED_MORE;
    }
    int first = buf.getUnsignedByte(buf.readerIndex());
    Result r;
    if (first == TLS_HANDSHAKE) {
      r = tls(buf, buf.readerIndex(), n);
    } else if (first >= 'A' && first <= 'Z') {
      r = http(buf, buf.readerIndex(), n);
    } else {
      return new NotFound("neither TLS nor HTTP");
    }
    if (r instanceof NeedMore && n >= limit) {
      return new NotFound("no host within the first " + limit + " bytes");
    }
    return r;
  }

  // ---- TLS: records of type 22 carry the handshake; the ClientHello may span several records

  private static Result tls(ByteBuf buf, int start, int n) {
    byte[] handshake = new byte[n];
    int have = 0;
    int pos = start;
    int end = start + n;
    while (true) {
      if (end - pos < 5) {
        return have >= 4 ? clientHello(handshake, have) : NEED_MORE;
      }
      if (buf.getUnsignedByte(pos) != TLS_HANDSHAKE) {
        return new NotFound("TLS record is not a handshake");
      }
      if (buf.getUnsignedByte(pos + 1) != 3) {
        return new NotFound("not TLS (record version)");
      }
      int length = buf.getUnsignedShort(pos + 3);
      int available = Math.min(length, end - pos - 5);
      buf.getBytes(pos + 5, handshake, have, available);
      have += available;
      Result r = clientHello(handshake, have);
      if (!(r instanceof NeedMore) || available < length) {
        return r;
      }
      pos += 5 + length;
    }
  }

  private static Result clientHello(byte[] h, int have) {
    if (have < 4) {
      return NEED_MORE;
    }
    if ((h[0] & 0xff) != CLIENT_HELLO) {
      return new NotFound("first TLS handshake message is not a ClientHello");
    }
    int length = ((h[1] & 0xff) << 16) | ((h[2] & 0xff) << 8) | (h[3] & 0xff);
    if (have < 4 + length) {
      return NEED_MORE;
    }
    try {
      return serverName(h, 4, 4 + length);
    } catch (IndexOutOfBoundsException e) {
      return new NotFound("malformed ClientHello");
    }
  }

  private static Result serverName(byte[] h, int pos, int end) {
    pos += 2 + 32; // client_version, random
    pos += 1 + u8(h, pos, end); // session_id
    pos += 2 + u16(h, pos, end); // cipher_suites
    pos += 1 + u8(h, pos, end); // compression_methods
    if (pos == end) {
      return new NotFound("ClientHello without extensions");
    }
    int extensionsEnd = pos + 2 + u16(h, pos, end);
    check(extensionsEnd, end);
    pos += 2;
    while (pos + 4 <= extensionsEnd) {
      int type = u16(h, pos, end);
      int length = u16(h, pos + 2, end);
      int body = pos + 4;
      check(body + length, extensionsEnd);
      if (type == SERVER_NAME) {
        int listEnd = body + 2 + u16(h, body, end);
        check(listEnd, body + length);
        int p = body + 2;
        while (p + 3 <= listEnd) {
          int nameType = u8(h, p, end);
          int nameLength = u16(h, p + 1, end);
          check(p + 3 + nameLength, listEnd);
          if (nameType == 0) {
            return hostName(new String(h, p + 3, nameLength, StandardCharsets.US_ASCII), "SNI");
          }
          p += 3 + nameLength;
        }
        return new NotFound("server_name without host_name");
      }
      pos = body + length;
    }
    return new NotFound("ClientHello without server_name");
  }

  private static int u8(byte[] h, int pos, int end) {
    check(pos + 1, end);
    return h[pos] & 0xff;
  }

  private static int u16(byte[] h, int pos, int end) {
    check(pos + 2, end);
    return ((h[pos] & 0xff) << 8) | (h[pos + 1] & 0xff);
  }

  private static void check(int needed, int end) {
    if (needed > end) {
      throw new IndexOutOfBoundsException();
    }
  }

  // ---- HTTP/1.x: request line, then headers up to the empty line

  private static Result http(ByteBuf buf, int start, int n) {
    int end = start + n;
    // the method token: upper-case letters, then a space
    int p = start;
    while (p < end && p - start < 16) {
      int c = buf.getUnsignedByte(p);
      if (c == ' ') {
        break;
      }
      if (c < 'A' || c > 'Z') {
        return new NotFound("not an HTTP request line");
      }
      p++;
    }
    if (p == end) {
      return NEED_MORE;
    }
    if (buf.getUnsignedByte(p) != ' ') {
      return new NotFound("not an HTTP request line");
    }
    int lineStart = -1;
    for (int i = p; i < end; i++) {
      if (buf.getUnsignedByte(i) != '\n') {
        continue;
      }
      if (lineStart >= 0) {
        int lineEnd = i > lineStart && buf.getUnsignedByte(i - 1) == '\r' ? i - 1 : i;
        if (lineEnd == lineStart) {
          return new NotFound("HTTP request without Host");
        }
        String line = buf.toString(lineStart, lineEnd - lineStart, StandardCharsets.ISO_8859_1);
        int colon = line.indexOf(':');
        if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase("host")) {
          return hostName(stripPort(line.substring(colon + 1).trim()), "Host");
        }
      }
      lineStart = i + 1;
    }
    return NEED_MORE;
  }

  private static String stripPort(String authority) {
    if (authority.startsWith("[")) {
      int close = authority.indexOf(']');
      return close < 0 ? authority : authority.substring(1, close);
    }
    int colon = authority.lastIndexOf(':');
    return colon >= 0 && authority.indexOf(':') == colon ? authority.substring(0, colon) : authority;
  }

  private static Result hostName(String raw, String source) {
    String host = raw.endsWith(".") ? raw.substring(0, raw.length() - 1) : raw;
    if (host.isEmpty() || host.length() > 253) {
      return new NotFound(source + " is empty or too long");
    }
    boolean digitsAndDots = true;
    for (int i = 0; i < host.length(); i++) {
      char c = host.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '-' || c == '.' || c == '_';
      if (!ok) {
        // ':' means an IPv6 literal, anything else is not a DNS name: route by IP only
        return new NotFound(source + " is not a host name");
      }
      digitsAndDots &= (c >= '0' && c <= '9') || c == '.';
    }
    if (digitsAndDots) {
      return new NotFound(source + " is an IPv4 literal");
    }
    return new Found(host.toLowerCase(Locale.ROOT));
  }
}
