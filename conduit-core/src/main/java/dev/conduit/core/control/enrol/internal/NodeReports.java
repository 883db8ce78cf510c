package dev.conduit.core.control.enrol.internal;

import dev.conduit.core.control.enrol.EnrolmentException;
import dev.conduit.core.control.store.NodeRole;
import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** Checks what a node reports about itself: its host addresses and its tunnel server address. */
public final class NodeReports {

  /** The most addresses one node may report. */
  public static final int MAX_ADDRESSES = 64;

  private NodeReports() {}

  /** Returns the addresses in canonical form, refusing non-IPs and addresses no peer could reach it at. */
  public static List<String> addresses(List<String> reported) {
    if (reported.isEmpty() || reported.size() > MAX_ADDRESSES) {
      throw new EnrolmentException(400, "addresses: " + reported.size() + " (expected: 1-" + MAX_ADDRESSES
          + " IP addresses of the node)");
    }
    Set<String> out = new LinkedHashSet<>();
    for (String text : reported) {
      InetAddress address = parse(text, "addresses");
      if (address.isAnyLocalAddress() || address.isLoopbackAddress() || address.isMulticastAddress()) {
        throw new EnrolmentException(400, "addresses: '" + text
            + "' (expected: the node's own unicast addresses, not unspecified, loopback or multicast)");
      }
      out.add(NetUtil.toAddressString(address));
    }
    return new ArrayList<>(out);
  }

  /**
   * Returns the server address as {@code ip:port} ({@code [ip]:port} for IPv6), checking that its host is one of
   * {@code addresses} or unspecified (all of them); empty for a client-only node.
   */
  public static Optional<String> serverAddress(NodeRole role, Optional<String> text, List<String> addresses) {
    if (role == NodeRole.CLIENT) {
      return Optional.empty();
    }
    if (text.isEmpty() || text.get().isBlank()) {
      throw new EnrolmentException(400, "server_address: missing (expected: IP:PORT of the node's tunnel server, "
          + "for role " + role.text() + ")");
    }
    String value = text.get().trim();
    int colon = value.lastIndexOf(':');
    if (colon <= 0 || value.length() > 64) {
      throw new EnrolmentException(400, "server_address: '" + abbreviate(value) + "' (expected: IP:PORT)");
    }
    String host = value.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(value.substring(colon + 1));
    } catch (NumberFormatException e) {
      port = -1;
    }
    if (port < 1 || port > 65535) {
      throw new EnrolmentException(400, "server_address: '" + value + "' (expected: a port 1-65535)");
    }
    InetAddress address = parse(host, "server_address");
    String canonical = NetUtil.toAddressString(address);
    if (!address.isAnyLocalAddress() && !addresses.contains(canonical)) {
      throw new EnrolmentException(400, "server_address: " + canonical + " is not one of the reported addresses "
          + addresses);
    }
    return Optional.of(canonical.contains(":") ? "[" + canonical + "]:" + port : canonical + ":" + port);
  }

  private static InetAddress parse(String text, String what) {
    byte[] bytes = text == null ? null : NetUtil.createByteArrayFromIpAddressString(text.trim());
    if (bytes == null) {
      throw new EnrolmentException(400, what + ": '" + abbreviate(String.valueOf(text))
          + "' (expected: an IPv4 or IPv6 address)");
    }
    try {
      return InetAddress.getByAddress(bytes);
    } catch (UnknownHostException e) {
      throw new EnrolmentException(400, what + ": '" + text + "' (expected: an IPv4 or IPv6 address)");
    }
  }

  static String abbreviate(String text) {
    return text.length() <= 80 ? text : text.substring(0, 80) + "...";
  }
}
