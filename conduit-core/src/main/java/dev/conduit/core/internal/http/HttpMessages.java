package dev.conduit.core.internal.http;

import dev.conduit.core.internal.overload.OverloadManager;
import dev.conduit.core.internal.proxy.ProxyHttp;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * {@code Via}, Basic credentials, and the error responses conduit's HTTP proxy writes itself; the rules it shares
 * with the MITM proxy are in {@link ProxyHttp}.
 */
final class HttpMessages {
  static final AsciiString VIA_10 = AsciiString.cached("1.0 conduit");
  static final AsciiString VIA_11 = AsciiString.cached("1.1 conduit");

  private HttpMessages() {}

  /** Appends conduit to the {@code Via} header. */
  static void addVia(HttpHeaders headers, boolean http10) {
    String via = headers.get(HttpHeaderNames.VIA);
    AsciiString ours = http10 ? VIA_10 : VIA_11;
    if (via == null) {
      headers.set(HttpHeaderNames.VIA, ours);
    } else {
      headers.set(HttpHeaderNames.VIA, via + ", " + ours);
    }
  }

  /**
   * Decodes {@code Basic base64(user:password)}.
   *
   * @return user and password, or {@code null} when absent or malformed
   */
  static String[] basicCredentials(String header) {
    if (header == null || header.length() < 7 || !header.regionMatches(true, 0, "Basic ", 0, 6)) {
      return null;
    }
    byte[] decoded;
    try {
      decoded = Base64.getDecoder().decode(header.substring(6).trim());
    } catch (IllegalArgumentException e) {
      return null;
    }
    String text = new String(decoded, StandardCharsets.UTF_8);
    int colon = text.indexOf(':');
    if (colon < 0) {
      return null;
    }
    return new String[] {text.substring(0, colon), text.substring(colon + 1)};
  }

  /**
   * A complete error response with a short {@code text/plain} body and {@code Connection: close},
   * written raw (the codec is gone by then).
   *
   * @param extraHeaders header lines without line ends, already safe
   */
  static ByteBuf errorResponse(ByteBufAllocator alloc, int status, String body, String... extraHeaders) {
    if (OverloadManager.memoryShort()) {
      return presetErrorResponse(status);
    }
    try {
      return detailedErrorResponse(alloc, status, body, extraHeaders);
    } catch (OutOfMemoryError e) {
      // direct memory is short: the reply must not need any
      return presetErrorResponse(status);
    }
  }

  private static final int[] PRESET_STATUSES = {400, 403, 405, 407, 408, 414, 431, 502, 503, 504};
  private static final ByteBuf[] PRESETS = new ByteBuf[PRESET_STATUSES.length];

  static {
    for (int i = 0; i < PRESET_STATUSES.length; i++) {
      int status = PRESET_STATUSES[i];
      String extra = status == 503 ? "Retry-After: 5\r\n" + ProxyHttp.proxyStatus("proxy_internal_response", "conduit is overloaded")
          + "\r\n" : "";
      byte[] bytes = ("HTTP/1.1 " + status + " " + reason(status) + "\r\n"
          + "Content-Type: text/plain; charset=utf-8\r\n"
          + "Content-Length: " + (reason(status).length() + 1) + "\r\n"
          + "Connection: close\r\n"
          + "Via: 1.1 conduit\r\n"
          + extra
          + "\r\n" + reason(status) + "\n").getBytes(StandardCharsets.ISO_8859_1);
      ByteBuf direct = Unpooled.directBuffer(bytes.length).writeBytes(bytes);
      PRESETS[i] = Unpooled.unreleasableBuffer(direct);
    }
  }

  /**
   * An error response allocated when the class loaded: the status line, {@code Connection: close} and the
   * reason as body; {@code 503} also says {@code Retry-After} and that conduit is overloaded. Writing it
   * needs no memory (the returned buffer is a duplicate whose release does nothing).
   */
  static ByteBuf presetErrorResponse(int status) {
    for (int i = 0; i < PRESET_STATUSES.length; i++) {
      if (PRESET_STATUSES[i] == status) {
        return PRESETS[i].duplicate();
      }
    }
    return PRESETS[PRESET_STATUSES.length - 3].duplicate(); // 502
  }

  private static ByteBuf detailedErrorResponse(ByteBufAllocator alloc, int status, String body, String... extraHeaders) {
    byte[] text = (ProxyHttp.sanitize(body) + "\n").getBytes(StandardCharsets.UTF_8);
    StringBuilder sb = new StringBuilder(256)
        .append("HTTP/1.1 ").append(status).append(' ').append(reason(status)).append("\r\n")
        .append("Content-Type: text/plain; charset=utf-8\r\n")
        .append("Content-Length: ").append(text.length).append("\r\n")
        .append("Connection: close\r\n")
        .append("Via: 1.1 conduit\r\n");
    for (String h : extraHeaders) {
      sb.append(h).append("\r\n");
    }
    sb.append("\r\n");
    byte[] head = sb.toString().getBytes(StandardCharsets.ISO_8859_1);
    ByteBuf buf = alloc.buffer(head.length + text.length);
    buf.writeBytes(head).writeBytes(text);
    return buf;
  }

  static String reason(int status) {
    return switch (status) {
      case 200 -> "Connection established";
      case 400 -> "Bad Request";
      case 403 -> "Forbidden";
      case 405 -> "Method Not Allowed";
      case 407 -> "Proxy Authentication Required";
      case 408 -> "Request Timeout";
      case 414 -> "URI Too Long";
      case 431 -> "Request Header Fields Too Large";
      case 502 -> "Bad Gateway";
      case 503 -> "Service Unavailable";
      case 504 -> "Gateway Timeout";
      default -> "Error";
    };
  }
}
