package dev.conduit.core.internal.http;

/**
 * The parts of a proxy request's target: the absolute form {@code http://host:port/path?query} of
 * forwarded requests, or the authority form {@code host:port} of {@code CONNECT}. Mutable and
 * reused per connection, so parsing a request allocates only the strings it must.
 */
final class RequestTarget {
  private String uri;
  private int hostStart;
  private int hostEnd;
  private int authorityStart;
  private int authorityEnd;
  /** The port, explicit or the scheme's default. */
  int port;
  /** The origin form to send upstream: path and query, at least {@code /}. */
  String path;
  /** Whether the absolute form had no path and no query ({@code OPTIONS http://host} means {@code OPTIONS *}). */
  boolean emptyPath;

  /**
   * Parses an absolute-form target ({@code http://} or {@code ws://}).
   *
   * @return {@code null} when valid, else why not
   */
  String parseAbsolute(String uri) {
    int schemeEnd = uri.indexOf("://");
    if (schemeEnd < 0) {
      return uri.startsWith("/") || uri.equals("*")
          ? "origin-form request target " + clip(uri) + " (a proxy needs an absolute URI such as http://host/path)"
          : "malformed request target " + clip(uri);
    }
    int defaultPort;
    if (schemeEnd == 4 && uri.regionMatches(true, 0, "http", 0, 4)) {
      defaultPort = 80;
    } else if (schemeEnd == 2 && uri.regionMatches(true, 0, "ws", 0, 2)) {
      defaultPort = 80;
    } else {
      return "unsupported scheme in " + clip(uri) + " (expected: http://; use CONNECT for TLS)";
    }
    int start = schemeEnd + 3;
    int end = start;
    int len = uri.length();
    while (end < len) {
      char c = uri.charAt(end);
      if (c == '/' || c == '?' || c == '#') {
        break;
      }
      end++;
    }
    String error = parseAuthority(uri, start, end, defaultPort);
    if (error != null) {
      return error;
    }
    int fragment = uri.indexOf('#', end);
    int pathEnd = fragment < 0 ? len : fragment;
    emptyPath = end == pathEnd;
    if (end == pathEnd) {
      path = "/";
    } else if (uri.charAt(end) == '?') {
      path = "/" + uri.substring(end, pathEnd);
    } else {
      path = uri.substring(end, pathEnd);
    }
    return null;
  }

  /**
   * Parses an authority-form target {@code host:port} (the port is required).
   *
   * @return {@code null} when valid, else why not
   */
  String parseAuthority(String uri) {
    path = null;
    return parseAuthority(uri, 0, uri.length(), -1);
  }

  private String parseAuthority(String uri, int start, int end, int defaultPort) {
    if (start == end) {
      return "missing host in " + clip(uri);
    }
    for (int i = start; i < end; i++) {
      char c = uri.charAt(i);
      if (c == '@') {
        return "user information in " + clip(uri) + " (not accepted)";
      }
      if (c <= ' ' || c >= 0x7f) {
        return "malformed host in " + clip(uri);
      }
    }
    int hostStart = start;
    int hostEnd;
    int portStart;
    if (uri.charAt(start) == '[') {
      int close = uri.indexOf(']', start);
      if (close < 0 || close >= end) {
        return "malformed IPv6 address in " + clip(uri);
      }
      hostStart = start + 1;
      hostEnd = close;
      if (close + 1 == end) {
        portStart = -1;
      } else if (uri.charAt(close + 1) == ':') {
        portStart = close + 2;
      } else {
        return "malformed authority in " + clip(uri);
      }
    } else {
      int colon = uri.lastIndexOf(':', end - 1);
      if (colon >= start) {
        if (uri.indexOf(':', start) != colon) {
          return "malformed authority in " + clip(uri) + " (IPv6 addresses need brackets)";
        }
        hostEnd = colon;
        portStart = colon + 1;
      } else {
        hostEnd = end;
        portStart = -1;
      }
    }
    if (hostStart == hostEnd) {
      return "missing host in " + clip(uri);
    }
    int p;
    if (portStart < 0 || portStart == end) {
      if (defaultPort < 0) {
        return "missing port in " + clip(uri) + " (expected: host:port)";
      }
      p = defaultPort;
    } else {
      p = 0;
      if (end - portStart > 5) {
        return "bad port in " + clip(uri) + " (expected: 1-65535)";
      }
      for (int i = portStart; i < end; i++) {
        char c = uri.charAt(i);
        if (c < '0' || c > '9') {
          return "bad port in " + clip(uri) + " (expected: 1-65535)";
        }
        p = p * 10 + (c - '0');
      }
      if (p < 1 || p > 65535) {
        return "bad port in " + clip(uri) + " (expected: 1-65535)";
      }
    }
    this.uri = uri;
    this.hostStart = hostStart;
    this.hostEnd = hostEnd;
    this.authorityStart = start;
    this.authorityEnd = end;
    port = p;
    return null;
  }

  /** The host, without brackets for IPv6 literals. */
  String host() {
    return uri.substring(hostStart, hostEnd);
  }

  /** {@code host[:port]} as the client wrote it: the {@code Host} header to send. */
  String authority() {
    return authorityStart == 0 && authorityEnd == uri.length() ? uri : uri.substring(authorityStart, authorityEnd);
  }

  /** Whether the authority equals {@code other}, ignoring case, without making a string. */
  boolean authorityEquals(String other) {
    int n = authorityEnd - authorityStart;
    return other != null && other.length() == n && uri.regionMatches(true, authorityStart, other, 0, n);
  }

  /** Shortens client-supplied text for error messages. */
  static String clip(String s) {
    return s.length() > 100 ? s.substring(0, 100) + "..." : s;
  }
}
