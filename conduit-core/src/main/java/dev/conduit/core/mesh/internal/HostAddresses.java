package dev.conduit.core.mesh.internal;

import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.TreeSet;

/** The host's own addresses, as a mesh node reports them. */
public final class HostAddresses {

  private HostAddresses() {}

  /**
   * Returns the addresses of the interfaces that are up, IPv4 and IPv6, sorted: loopback, link-local, multicast
   * and wildcard addresses left out (no other host can reach them).
   *
   * @throws SocketException if the interfaces cannot be listed
   */
  public static List<String> detect() throws SocketException {
    TreeSet<String> found = new TreeSet<>();
    for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
      if (!nic.isUp() || nic.isLoopback()) {
        continue;
      }
      for (InetAddress a : Collections.list(nic.getInetAddresses())) {
        if (a.isLoopbackAddress() || a.isLinkLocalAddress() || a.isMulticastAddress() || a.isAnyLocalAddress()) {
          continue;
        }
        found.add(NetUtil.toAddressString(a));
      }
    }
    return new ArrayList<>(found);
  }
}
