package dev.conduit.core.mesh;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.control.store.NodeRole;
import java.net.InetAddress;
import java.util.List;
import java.util.Optional;

/**
 * One approved member of the mesh as the manager publishes it.
 *
 * @param name the node's name
 * @param identity its certificate identity ({@code spiffe://<trust-domain>/node/<name>})
 * @param role what it runs
 * @param addresses its host addresses, IPv4 and IPv6: connections to any of them are tunnelled to it
 * @param serverAddress its tunnel server's {@code ip:port}, when it runs one
 */
public record MeshMember(String name, String identity, NodeRole role, List<InetAddress> addresses,
    Optional<String> serverAddress) {

  /** Checks and copies the components. */
  public MeshMember {
    requireNonNull(name, "name");
    requireNonNull(identity, "identity");
    requireNonNull(role, "role");
    addresses = List.copyOf(requireNonNull(addresses, "addresses"));
    requireNonNull(serverAddress, "serverAddress");
  }

  /** Whether other members can tunnel to it: it runs a server and published its address. */
  public boolean acceptsTunnels() {
    return role != NodeRole.CLIENT && serverAddress.isPresent();
  }
}
