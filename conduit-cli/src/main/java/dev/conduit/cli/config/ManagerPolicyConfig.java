package dev.conduit.cli.config;

import dev.conduit.core.mesh.MeshPolicy;
import java.util.List;
import java.util.Map;

/**
 * {@code conduit_manager.policy} in {@code manager.yaml}: which groups of nodes may reach which ports of which others,
 * pushed with the membership and enforced by every server on its tunnel listener.
 *
 * <pre>{@code
 * conduit_manager:
 *   policy:
 *     groups:
 *       apps: [web-1, web-2]
 *       db: [mysql-1]
 *     allow:
 *       - {name: apps-to-mysql, from: apps, to: db, ports: ["3306"]}
 * }</pre>
 */
final class ManagerPolicyConfig {
  private static final List<String> KEYS = List.of("groups", "allow");
  private static final List<String> ALLOW = List.of("name", "from", "to", "ports");

  private ManagerPolicyConfig() {}

  /** Reads the policy section (absent: an empty policy, servers keep their own rules). */
  static MeshPolicy parse(ConfigNode node) {
    MeshPolicy.Builder b = MeshPolicy.builder();
    if (node == null || node.isNull()) {
      return b.build();
    }
    Map<String, ConfigNode> policy = node.mapping(KEYS);
    ConfigNode groups = policy.get("groups");
    if (groups != null && !groups.isNull()) {
      for (String name : groups.keys()) {
        ConfigNode members = groups.mapping(groups.keys()).get(name);
        List<String> nodes = members.strings();
        members.convert(() -> b.group(name, nodes.toArray(String[]::new)));
      }
    }
    ConfigNode allow = policy.get("allow");
    if (allow != null && !allow.isNull()) {
      for (ConfigNode item : allow.sequence()) {
        Map<String, ConfigNode> a = item.mapping(ALLOW);
        for (String required : List.of("name", "from", "to")) {
          if (a.get(required) == null || a.get(required).isNull()) {
            throw item.error("missing '" + required + "' (expected: name, from, to and optional ports)");
          }
        }
        List<String> ports = a.get("ports") == null || a.get("ports").isNull() ? List.of() : a.get("ports").strings();
        item.convert(() -> b.allow(a.get("name").string(), a.get("from").string(), a.get("to").string(),
            ports.toArray(String[]::new)));
      }
    }
    return node.convert(b::build);
  }
}
