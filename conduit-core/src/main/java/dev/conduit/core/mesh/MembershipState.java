package dev.conduit.core.mesh;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.control.store.ControlStore;
import dev.conduit.core.control.store.NodeRecord;
import dev.conduit.core.control.store.NodeState;
import dev.conduit.core.control.store.RevokedCertificate;
import dev.conduit.core.control.store.StoreException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The mesh membership as the push channel carries it, read from a {@link ControlStore} at one state version:
 * <ul>
 *   <li>{@code node/<name>}: every approved node, {@code {name, identity, role, addresses, server_address}};</li>
 *   <li>{@code denied/<name>}: every revoked node, {@code {name, identity}}: peers refuse its identity whatever
 *       certificate it shows;</li>
 *   <li>{@code revoked/<serial>}: every revoked certificate not yet expired, {@code {serial, node, not_after}}.</li>
 * </ul>
 * Pending nodes are not members. A removed node disappears from the state, so agents remove it too.
 */
public final class MembershipState {

  private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

  private MembershipState() {}

  /**
   * Reads the membership at the store's current version; retries when a change lands while reading, so the
   * version and the resources always match.
   *
   * @throws StoreException if the store fails, or keeps changing during ten attempts
   */
  public static PushState read(ControlStore store) {
    return read(store, Map.of());
  }

  /**
   * As {@link #read(ControlStore)}, with {@code extra} resources added (e.g. a {@link MeshPolicy}'s
   * {@code group/} and {@code policy/} entries); the store's own keys win.
   *
   * @throws StoreException if the store fails, or keeps changing during ten attempts
   */
  public static PushState read(ControlStore store, Map<String, ? extends JsonNode> extra) {
    requireNonNull(store, "store");
    requireNonNull(extra, "extra");
    for (int attempt = 0; attempt < 10; attempt++) {
      long before = store.version();
      List<NodeRecord> nodes = store.nodes();
      List<RevokedCertificate> revoked = store.revokedCertificates(Instant.now());
      if (store.version() == before) {
        Map<String, JsonNode> all = new LinkedHashMap<>(extra);
        all.putAll(resources(nodes, revoked));
        return PushState.of(before, all);
      }
    }
    throw new StoreException("membership: the store kept changing while it was read (ten attempts)");
  }

  static Map<String, ObjectNode> resources(List<NodeRecord> nodes, List<RevokedCertificate> revoked) {
    Map<String, ObjectNode> out = new LinkedHashMap<>();
    for (NodeRecord n : nodes) {
      if (n.state() == NodeState.APPROVED) {
        ObjectNode o = JSON.objectNode().put("name", n.name()).put("identity", n.identity())
            .put("role", n.role().text());
        n.addresses().forEach(o.putArray("addresses")::add);
        n.serverAddress().ifPresent(s -> o.put("server_address", s));
        out.put("node/" + n.name(), o);
      } else if (n.state() == NodeState.REVOKED) {
        out.put("denied/" + n.name(), JSON.objectNode().put("name", n.name()).put("identity", n.identity()));
      }
    }
    for (RevokedCertificate c : revoked) {
      out.put("revoked/" + c.serial(), JSON.objectNode().put("serial", c.serial()).put("node", c.nodeName())
          .put("not_after", c.notAfter().toString()));
    }
    return out;
  }
}
