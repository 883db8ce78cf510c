package dev.conduit.core.tunnel;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Destination;
import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Optional;

/**
 * One line of a tunnel client's forward table: which original destinations it
 * takes ({@code ip:port}, or {@code :port} for any address) and where the far end dials instead
 * ({@code dst_as}; empty means the original destination).
 *
 * @param address the original destination's address, or empty for {@code :port}
 * @param port the original destination's port, or 0 for any port (a mesh member's every address is captured,
 *     whatever the port)
 * @param rewriteTo the destination the tunnel server dials ({@code dst_as}), if any
 */
public record ForwardEntry(Optional<InetAddress> address, int port, Optional<Destination> rewriteTo) {

  /** Checks the components. */
  public ForwardEntry {
    requireNonNull(address, "address");
    requireNonNull(rewriteTo, "rewriteTo");
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port: " + port + " (expected: 1-65535, or 0 for any port)");
    }
  }

  /**
   * Parses the configuration's {@code dst} ({@code ":80"}, {@code "10.0.0.9:3306"}, {@code "[fd00::9]:3306"}) and
   * optional {@code dst_as} ({@code "127.0.0.1:80"}, {@code "db.internal:5432"}; null or blank for none).
   *
   * @throws IllegalArgumentException naming the malformed value
   */
  public static ForwardEntry parse(String dst, String dstAs) {
    requireNonNull(dst, "dst");
    String d = dst.trim();
    int colon = d.lastIndexOf(':');
    if (colon < 0 || colon == d.length() - 1) {
      throw new IllegalArgumentException("dst: " + dst + " (expected: :port or ip:port)");
    }
    int port;
    try {
      port = Integer.parseInt(d.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("dst: " + dst + " (expected: a numeric port)");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("dst: " + dst + " (expected: port 1-65535)");
    }
    Optional<InetAddress> address = Optional.empty();
    String host = d.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    if (!host.isEmpty()) {
      byte[] raw = NetUtil.createByteArrayFromIpAddressString(host);
      if (raw == null) {
        throw new IllegalArgumentException("dst: " + dst + " (expected: an IP address, not a name)");
      }
      try {
        address = Optional.of(InetAddress.getByAddress(raw));
      } catch (java.net.UnknownHostException e) {
        throw new IllegalArgumentException("dst: " + dst, e);
      }
    }
    Optional<Destination> rewrite = Optional.empty();
    if (dstAs != null && !dstAs.isBlank()) {
      try {
        rewrite = Optional.of(Destination.parse(dstAs.trim(), -1));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("dst_as: " + dstAs + " (expected: host:port): " + e.getMessage(), e);
      }
    }
    return new ForwardEntry(address, port, rewrite);
  }

  /** Whether a connection originally addressed to {@code original} is taken by this entry. */
  public boolean matches(InetSocketAddress original) {
    return (port == 0 || original.getPort() == port) && (address.isEmpty() || address.get().equals(original.getAddress()));
  }

  /** Where the tunnel server is asked to connect for {@code original}: {@code dst_as}, else the original. */
  public Destination destinationFor(InetSocketAddress original) {
    return rewriteTo.orElseGet(() -> Destination.of(original));
  }

  /** The configuration's notation: {@code :port} or {@code ip:port}, then {@code -> dst_as}. */
  @Override
  public String toString() {
    String p = port == 0 ? "*" : String.valueOf(port);
    String dst = address.map(a -> (a instanceof java.net.Inet6Address ? "[" + NetUtil.toAddressString(a) + "]"
        : NetUtil.toAddressString(a)) + ":" + p).orElse(":" + p);
    return dst + rewriteTo.map(r -> " -> " + r).orElse("");
  }
}
