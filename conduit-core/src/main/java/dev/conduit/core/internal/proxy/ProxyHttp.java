package dev.conduit.core.internal.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * What every HTTP forward proxy of conduit does alike (the HTTP proxy in core, the MITM caching proxy):
 * hop-by-hop headers removed, including those the {@code Connection} header names; the reply that opens a
 * {@code CONNECT} tunnel; RFC 9209 {@code Proxy-Status} errors with text that cannot split headers.
 */
public final class ProxyHttp {
  /** The {@code Proxy-Connection} header some clients send instead of {@code Connection}. */
  public static final AsciiString PROXY_CONNECTION = AsciiString.cached("proxy-connection");

  /** {@code Connection: close} was present. */
  public static final int CLOSE = 1;
  /** {@code Connection: keep-alive} (or {@code Proxy-Connection: keep-alive}) was present. */
  public static final int KEEP_ALIVE = 2;
  /** {@code Connection: upgrade} was present. */
  public static final int UPGRADE = 4;

  private static final AsciiString[] HOP_BY_HOP = {
    HttpHeaderNames.CONNECTION, HttpHeaderNames.KEEP_ALIVE, PROXY_CONNECTION, HttpHeaderNames.PROXY_AUTHORIZATION,
    HttpHeaderNames.PROXY_AUTHENTICATE, HttpHeaderNames.TE, HttpHeaderNames.TRAILER, HttpHeaderNames.UPGRADE,
  };

  private static final byte[] CONNECT_ESTABLISHED =
      "HTTP/1.1 200 Connection established\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

  private ProxyHttp() {}

  /**
   * Removes hop-by-hop headers: the fixed list and every header the {@code Connection} header
   * names. {@code Transfer-Encoding} stays: the codecs decode it and encode the body afresh.
   *
   * @param proxyConnection whether {@code Proxy-Connection} counts as {@code Connection} (requests)
   * @return the {@link #CLOSE}, {@link #KEEP_ALIVE} and {@link #UPGRADE} options found
   */
  public static int removeHopByHop(HttpHeaders headers, boolean proxyConnection) {
    int options = 0;
    if (headers.contains(HttpHeaderNames.CONNECTION)) {
      List<String> values = headers.getAll(HttpHeaderNames.CONNECTION);
      for (int i = 0; i < values.size(); i++) {
        options |= connectionOptions(headers, values.get(i), true);
      }
    }
    if (proxyConnection) {
      String value = headers.get(PROXY_CONNECTION);
      if (value != null) {
        options |= connectionOptions(headers, value, false);
      }
    }
    for (AsciiString name : HOP_BY_HOP) {
      headers.remove(name);
    }
    return options;
  }

  private static int connectionOptions(HttpHeaders headers, String value, boolean removeNamed) {
    int options = 0;
    int len = value.length();
    int start = 0;
    while (start < len) {
      int comma = value.indexOf(',', start);
      int end = comma < 0 ? len : comma;
      int s = start;
      int e = end;
      while (s < e && value.charAt(s) <= ' ') {
        s++;
      }
      while (e > s && value.charAt(e - 1) <= ' ') {
        e--;
      }
      int n = e - s;
      if (n == 5 && value.regionMatches(true, s, "close", 0, 5)) {
        options |= CLOSE;
      } else if (n == 10 && value.regionMatches(true, s, "keep-alive", 0, 10)) {
        options |= KEEP_ALIVE;
      } else if (n == 7 && value.regionMatches(true, s, "upgrade", 0, 7)) {
        options |= UPGRADE;
      } else if (n > 0 && removeNamed && !(n == 17 && value.regionMatches(true, s, "transfer-encoding", 0, 17))) {
        headers.remove(value.substring(s, e));
      }
      start = end + 1;
    }
    return options;
  }

  /** Whether a comma-separated header value holds {@code token}, ignoring case and spaces. */
  public static boolean hasToken(String value, String token) {
    if (value == null) {
      return false;
    }
    int len = value.length();
    int start = 0;
    while (start < len) {
      int comma = value.indexOf(',', start);
      int end = comma < 0 ? len : comma;
      int s = start;
      int e = end;
      while (s < e && value.charAt(s) <= ' ') {
        s++;
      }
      while (e > s && value.charAt(e - 1) <= ' ') {
        e--;
      }
      if (e - s == token.length() && value.regionMatches(true, s, token, 0, token.length())) {
        return true;
      }
      start = end + 1;
    }
    return false;
  }

  /** {@code HTTP/1.1 200 Connection established} and the empty line: the tunnel is open (a new buffer each call). */
  public static ByteBuf connectEstablished() {
    return Unpooled.wrappedBuffer(CONNECT_ESTABLISHED);
  }

  /** An RFC 9209 {@code Proxy-Status} header line, without its line end. */
  public static String proxyStatus(String errorType, String details) {
    return "Proxy-Status: " + proxyStatusValue(errorType, details);
  }

  /** The value of an RFC 9209 {@code Proxy-Status} header: conduit, the error type and the details, quoted. */
  public static String proxyStatusValue(String errorType, String details) {
    return "conduit; error=" + errorType + "; details=\"" + sanitize(details).replace("\\", "\\\\")
        .replace("\"", "\\\"") + "\"";
  }

  /** Drops control characters and non-ASCII, so client-supplied text cannot split headers; at most 300 characters. */
  public static String sanitize(String s) {
    if (s == null) {
      return "";
    }
    StringBuilder sb = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean ok = c >= 0x20 && c < 0x7f;
      if (!ok && sb == null) {
        sb = new StringBuilder(s.length()).append(s, 0, i);
      }
      if (sb != null) {
        sb.append(ok ? c : '?');
      }
    }
    String out = sb == null ? s : sb.toString();
    return out.length() > 300 ? out.substring(0, 300) + "..." : out;
  }
}
