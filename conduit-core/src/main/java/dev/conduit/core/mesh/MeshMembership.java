package dev.conduit.core.mesh;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.control.store.NodeRole;
import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mesh as a node sees it at one version of the manager's state ({@link MembershipState}): the approved members
 * by name, the identities that are denied (revoked nodes) and the revoked certificate serials.
 *
 * @param version the state version
 * @param members the approved members by name (sorted)
 * @param deniedIdentities identities of revoked nodes, refused whatever certificate they show
 * @param revokedSerials serials (lower-case hex) of revoked certificates not yet expired
 * @param policy which groups of members may reach which ports of which others (empty: none published)
 */
public record MeshMembership(long version, Map<String, MeshMember> members, Set<String> deniedIdentities,
    Set<String> revokedSerials, MeshPolicy policy) {

  private static final Logger log = LoggerFactory.getLogger(MeshMembership.class);

  /** Checks and copies the components. */
  public MeshMembership {
    members = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(new TreeMap<>(requireNonNull(members,
        "members"))));
    deniedIdentities = Set.copyOf(requireNonNull(deniedIdentities, "deniedIdentities"));
    revokedSerials = Set.copyOf(requireNonNull(revokedSerials, "revokedSerials"));
    requireNonNull(policy, "policy");
  }

  /** A membership without a policy. */
  public MeshMembership(long version, Map<String, MeshMember> members, Set<String> deniedIdentities,
      Set<String> revokedSerials) {
    this(version, members, deniedIdentities, revokedSerials, MeshPolicy.builder().build());
  }

  /**
   * Reads the membership from a pushed state. A malformed entry is skipped with a WARN (the others still apply), so
   * one bad record from a newer manager never empties the mesh.
   */
  public static MeshMembership of(PushState state) {
    requireNonNull(state, "state");
    Map<String, MeshMember> members = new TreeMap<>();
    Set<String> denied = new TreeSet<>();
    Set<String> serials = new TreeSet<>();
    state.resources().forEach((key, value) -> {
      try {
        if (key.startsWith("node/")) {
          MeshMember m = member(value);
          members.put(m.name(), m);
        } else if (key.startsWith("denied/")) {
          denied.add(text(value, "identity"));
        } else if (key.startsWith("revoked/")) {
          serials.add(text(value, "serial"));
        }
      } catch (IllegalArgumentException e) {
        log.warn("mesh: membership entry {} skipped: {}", key, e.getMessage());
      }
    });
    MeshPolicy policy;
    try {
      policy = MeshPolicy.of(state);
    } catch (IllegalArgumentException e) {
      // a server that cannot read the policy refuses every tunnel rather than fall back to allowing them all
      log.warn("mesh: the policy is unreadable ({}); tunnels to this node are refused until it is fixed",
          e.getMessage());
      policy = MeshPolicy.denyAll();
    }
    return new MeshMembership(state.version(), members, denied, serials, policy);
  }

  /** Returns the members other than {@code self}. */
  public List<MeshMember> peersOf(String self) {
    List<MeshMember> peers = new ArrayList<>();
    members.forEach((name, m) -> {
      if (!name.equals(self)) {
        peers.add(m);
      }
    });
    return peers;
  }

  /** Returns the member named {@code name}, if it is one. */
  public Optional<MeshMember> member(String name) {
    return Optional.ofNullable(members.get(name));
  }

  private static MeshMember member(JsonNode o) {
    List<InetAddress> addresses = new ArrayList<>();
    for (JsonNode a : o.path("addresses")) {
      byte[] raw = NetUtil.createByteArrayFromIpAddressString(a.asText());
      if (raw == null) {
        throw new IllegalArgumentException("addresses: " + a.asText() + " (expected: IP addresses)");
      }
      try {
        addresses.add(InetAddress.getByAddress(raw));
      } catch (UnknownHostException e) {
        throw new IllegalArgumentException("addresses: " + a.asText(), e);
      }
    }
    Optional<String> server = o.hasNonNull("server_address") ? Optional.of(o.get("server_address").asText())
        : Optional.empty();
    return new MeshMember(text(o, "name"), text(o, "identity"), NodeRole.parse(text(o, "role")), addresses, server);
  }

  private static String text(JsonNode o, String field) {
    JsonNode n = o.get(field);
    if (n == null || !n.isTextual() || n.asText().isBlank()) {
      throw new IllegalArgumentException(field + ": missing (expected: text)");
    }
    return n.asText();
  }

  /** Describes the membership by version and member names. */
  @Override
  public String toString() {
    return "MeshMembership{version=" + version + ", members=" + members.keySet() + ", denied=" + deniedIdentities.size()
        + "}";
  }
}
