package dev.conduit.core;

import static java.util.Objects.requireNonNull;

import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.jspecify.annotations.Nullable;

/**
 * Where a client wants to go: a host name or IP literal and a port, as the client asked for it.
 *
 * <p>Host names are kept unresolved so that routing rules can match domains and upstream proxies
 * can resolve names themselves. IPv6 literals are stored without brackets.
 *
 * @param host a host name or an IP literal (IPv6 without brackets), never empty
 * @param port 1-65535
 */
public record Destination(String host, int port) {

  /** Checks the components. */
  public Destination {
    requireNonNull(host, "host");
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    if (host.isEmpty()) {
      throw new IllegalArgumentException("host: empty (expected: a host name or an IP address)");
    }
    if (host.length() > 255) {
      throw new IllegalArgumentException("host: " + host.length() + " characters (expected: at most 255)");
    }
    for (int i = 0; i < host.length(); i++) {
      char c = host.charAt(i);
      // these would end up in request lines and headers of upstream proxies (CONNECT host:port)
      if (c <= 0x20 || c == 0x7f || c == '/' || c == '\\' || c == '@' || c == '?' || c == '#' || c == '[' || c == ']') {
        throw new IllegalArgumentException("host: \"" + printable(host) + "\" (expected: a host name or an IP address)");
      }
    }
    if (host.indexOf(':') >= 0 && !NetUtil.isValidIpV6Address(host)) {
      throw new IllegalArgumentException("host: " + host + " (expected: a host name or an IP address; IPv6 as [v6]:port)");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port: " + port + " (expected: 1-65535)");
    }
  }

  private static String printable(String s) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length() && i < 64; i++) {
      char c = s.charAt(i);
      b.append(c < 0x20 || c == 0x7f ? String.format("\\x%02x", (int) c) : String.valueOf(c));
    }
    return s.length() > 64 ? b + "..." : b.toString();
  }

  /** A destination for {@code host} and {@code port}. */
  public static Destination of(String host, int port) {
    return new Destination(host, port);
  }

  /** A destination for an address; uses its IP literal when resolved, else its host name. */
  public static Destination of(InetSocketAddress address) {
    requireNonNull(address, "address");
    InetAddress ip = address.getAddress();
    String host = ip != null ? NetUtil.toAddressString(ip) : address.getHostString();
    return new Destination(host, address.getPort());
  }

  /**
   * Parses {@code host:port}, {@code [v6]:port} or, when {@code defaultPort} is positive, a bare
   * host.
   *
   * @throws IllegalArgumentException with a message naming the bad part
   */
  public static Destination parse(String text, int defaultPort) {
    Object[] hp = split(text, defaultPort, 1);
    return new Destination((String) hp[0], (Integer) hp[1]);
  }

  /** Parses a bind address {@code ip:port}, {@code [v6]:port}; port 0 picks a free port. */
  static InetSocketAddress parseBindAddress(String text) {
    Object[] hp = split(text, -1, 0);
    String host = (String) hp[0];
    byte[] ip = NetUtil.createByteArrayFromIpAddressString(host);
    if (ip == null && !host.equals("localhost")) {
      throw new IllegalArgumentException("listen address: " + text + " (expected: an IP address and port, such as 127.0.0.1:8080)");
    }
    try {
      return new InetSocketAddress(ip == null ? InetAddress.getLoopbackAddress() : InetAddress.getByAddress(ip), (Integer) hp[1]);
    } catch (java.net.UnknownHostException e) {
      throw new IllegalArgumentException("listen address: " + text, e);
    }
  }

  private static Object[] split(String text, int defaultPort, int minPort) {
    requireNonNull(text, "text");
    String s = text.trim();
    String host;
    int port = defaultPort;
    if (s.startsWith("[")) {
      int end = s.indexOf(']');
      if (end < 0) {
        throw new IllegalArgumentException("address: " + text + " (expected: [IPv6]:port)");
      }
      host = s.substring(1, end);
      String rest = s.substring(end + 1);
      if (!rest.isEmpty()) {
        if (!rest.startsWith(":")) {
          throw new IllegalArgumentException("address: " + text + " (expected: [IPv6]:port)");
        }
        port = parsePort(rest.substring(1), text, minPort);
      }
    } else {
      int colon = s.lastIndexOf(':');
      if (colon >= 0 && s.indexOf(':') == colon) {
        host = s.substring(0, colon);
        port = parsePort(s.substring(colon + 1), text, minPort);
      } else if (colon >= 0) {
        // several colons and no brackets: a bare IPv6 literal
        host = s;
      } else {
        host = s;
      }
    }
    if (port < minPort) {
      throw new IllegalArgumentException("address: " + text + " (expected: host:port)");
    }
    if (host.isEmpty()) {
      throw new IllegalArgumentException("address: " + text + " (expected: host:port)");
    }
    return new Object[] {host, port};
  }

  private static int parsePort(String s, String text, int minPort) {
    int port;
    try {
      port = Integer.parseInt(s);
    } catch (NumberFormatException e) {
      port = -1;
    }
    if (port < minPort || port > 65535) {
      throw new IllegalArgumentException("port: " + s + " in " + text + " (expected: " + minPort + "-65535)");
    }
    return port;
  }

  /** Whether the host is an IPv4 or IPv6 literal. */
  public boolean isIpLiteral() {
    return NetUtil.isValidIpV4Address(host) || NetUtil.isValidIpV6Address(host);
  }

  /** The IP address when the host is a literal, else {@code null}. */
  public @Nullable InetAddress ipAddress() {
    byte[] bytes = NetUtil.createByteArrayFromIpAddressString(host);
    if (bytes == null) {
      return null;
    }
    try {
      return InetAddress.getByAddress(bytes);
    } catch (java.net.UnknownHostException e) {
      return null;
    }
  }

  /** An unresolved socket address, so that nothing resolves the name by accident. */
  public InetSocketAddress toUnresolvedAddress() {
    InetAddress ip = ipAddress();
    return ip != null ? new InetSocketAddress(ip, port) : InetSocketAddress.createUnresolved(host, port);
  }

  /** {@code host:port}, with brackets around IPv6 literals. */
  @Override
  public String toString() {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }
}
