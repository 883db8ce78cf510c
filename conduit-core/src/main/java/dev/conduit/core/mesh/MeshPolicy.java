package dev.conduit.core.mesh;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.control.enrol.MeshIdentity;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.net.PortRange;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Which groups of mesh nodes may reach which ports of which others, pushed with the membership and enforced by each
 * server on its tunnel listener as conduit's ordinary rules with a {@code principal} (the peer certificate's identity,
 * {@code spiffe://<trust-domain>/node/<name>}). Without a policy a server keeps its own rules (by default: its own
 * host, any port, for any member); with one, a tunnel reaches the server's host only on ports an {@code allow}
 * grants to the client's group.
 *
 * <pre>{@code
 * MeshPolicy policy = MeshPolicy.builder()
 *     .group("apps", "web-1", "web-2").group("db", "mysql-1")
 *     .allow("apps-to-mysql", "apps", "db", "3306")
 *     .build();
 * // manager: publish policy.resources() with the membership (MembershipPublisher)
 * // node: conduit.update(MeshPolicy.of(state).serverRouter(router, "tunnel-server", "mysql-1", identity, addrs), outs)
 * }</pre>
 *
 * <p>Pushed resources: {@code group/<name>} {@code {name, nodes}} and {@code policy/<name>}
 * {@code {name, from, to, ports}}.
 */
public final class MeshPolicy {

  private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

  /**
   * One grant: members of group {@code from} may reach {@code ports} on the hosts of the members of group {@code to}.
   *
   * @param name the grant's name (rule {@code policy-<name>})
   * @param from the clients' group
   * @param to the servers' group
   * @param ports the ports ({@code 3306}, {@code 8000-8099}); empty: any
   */
  public record Allow(String name, String from, String to, List<PortRange> ports) {
    /** Checks and copies. */
    public Allow {
      MeshIdentity.checkName(requireNonNull(name, "name"));
      requireNonNull(from, "from");
      requireNonNull(to, "to");
      ports = List.copyOf(requireNonNull(ports, "ports"));
    }
  }

  private final Map<String, Set<String>> groups;
  private final List<Allow> allows;
  private final boolean denyAll;

  private MeshPolicy(Map<String, Set<String>> groups, List<Allow> allows, boolean denyAll) {
    this.groups = groups;
    this.allows = allows;
    this.denyAll = denyAll;
  }

  /** Returns a builder. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns the policy a membership state carries (empty when it carries none). */
  public static MeshPolicy of(PushState state) {
    requireNonNull(state, "state");
    Builder b = builder();
    List<Allow> allows = new ArrayList<>();
    for (Map.Entry<String, JsonNode> e : new TreeMap<>(state.resources()).entrySet()) {
      JsonNode v = e.getValue();
      if (e.getKey().startsWith("group/")) {
        List<String> nodes = new ArrayList<>();
        v.path("nodes").forEach(n -> nodes.add(n.asText()));
        b.group(v.path("name").asText(), nodes.toArray(String[]::new));
      } else if (e.getKey().startsWith("policy/")) {
        List<PortRange> ports = new ArrayList<>();
        v.path("ports").forEach(p -> ports.add(PortRange.parse(p.asText())));
        allows.add(new Allow(v.path("name").asText(), v.path("from").asText(), v.path("to").asText(), ports));
      }
    }
    allows.forEach(a -> b.allows.add(a));
    return b.buildUnchecked();
  }

  /** Returns whether the policy grants nothing (servers then keep their own rules). */
  public boolean isEmpty() {
    return allows.isEmpty() && !denyAll;
  }

  /** A policy that grants nothing and is not empty: servers refuse every tunnel (used when one is unreadable). */
  static MeshPolicy denyAll() {
    return new MeshPolicy(Map.of(), List.of(), true);
  }

  /** Returns the groups and their node names. */
  public Map<String, Set<String>> groups() {
    return groups;
  }

  /** Returns the grants, in order. */
  public List<Allow> allows() {
    return allows;
  }

  /** Returns the resources to push with the membership. */
  public Map<String, ObjectNode> resources() {
    Map<String, ObjectNode> out = new LinkedHashMap<>();
    groups.forEach((name, nodes) -> {
      ObjectNode o = JSON.objectNode().put("name", name);
      nodes.forEach(o.putArray("nodes")::add);
      out.put("group/" + name, o);
    });
    for (Allow a : allows) {
      ObjectNode o = JSON.objectNode().put("name", a.name()).put("from", a.from()).put("to", a.to());
      a.ports().forEach(p -> o.withArray("ports").add(p.toString()));
      out.put("policy/" + a.name(), o);
    }
    return out;
  }

  /**
   * Returns the rules that node {@code localNode}'s tunnel listener {@code listener} applies: one
   * {@code policy-<name>} rule per grant to one of its groups, allowing the grant's clients (by principal) to its own
   * host on the grant's ports, and a final {@code policy-deny} rule rejecting everything else on the listener.
   *
   * @param localAddresses this host's addresses (IPs); loopback is always included
   */
  public List<Rule> serverRules(String listener, String localNode, MeshIdentity identity, List<String> localAddresses) {
    requireNonNull(identity, "identity");
    return serverRules(listener, localNode, identity::node, localAddresses);
  }

  /**
   * As {@link #serverRules(String, String, MeshIdentity, List)}, with each node's identity from {@code identityOf}
   * (e.g. the members' published identities); a node it maps to null is left out.
   */
  public List<Rule> serverRules(String listener, String localNode, java.util.function.Function<String, String> identityOf,
      List<String> localAddresses) {
    requireNonNull(listener, "listener");
    requireNonNull(localNode, "localNode");
    requireNonNull(identityOf, "identityOf");
    requireNonNull(localAddresses, "localAddresses");
    List<Rule> rules = new ArrayList<>();
    for (Allow a : allows) {
      if (!members(a.to()).contains(localNode)) {
        continue;
      }
      Set<String> clients = members(a.from());
      if (clients.isEmpty()) {
        continue;
      }
      Rule.Builder r = Rule.builder("policy-" + a.name()).listener(listener).decision(RouteDecision.direct())
          .destinationCidr("127.0.0.0/8").destinationCidr("::1/128").domain("localhost");
      localAddresses.forEach(r::destinationCidr);
      boolean any = false;
      for (String n : clients) {
        String id = identityOf.apply(n);
        if (id != null) { // a node that is not a member (pending, revoked, removed) gets nothing
          r.principal(id);
          any = true;
        }
      }
      if (!any) {
        continue;
      }
      a.ports().forEach(p -> r.portRange(p.first(), p.last()));
      rules.add(r.build());
    }
    rules.add(Rule.builder("policy-deny").listener(listener)
        .decision(RouteDecision.reject("not allowed by the mesh policy")).build());
    return rules;
  }

  /**
   * Returns {@code current} with the rules on {@code listener} replaced by {@link #serverRules} (the others kept, in
   * order), or {@code current} itself when the policy is empty. Hand it to
   * {@link dev.conduit.core.Conduit#update}: new tunnels follow it at once.
   */
  public Router serverRouter(Router current, String listener, String localNode, MeshIdentity identity,
      List<String> localAddresses) {
    requireNonNull(current, "current");
    if (isEmpty()) {
      return current;
    }
    Router.Builder b = Router.builder().defaultDecision(current.defaultDecision());
    boolean placed = false;
    for (Rule r : current.rules()) {
      if (r.listeners().contains(listener)) {
        if (!placed) {
          serverRules(listener, localNode, identity, localAddresses).forEach(b::rule);
          placed = true;
        }
      } else {
        b.rule(r);
      }
    }
    if (!placed) {
      serverRules(listener, localNode, identity, localAddresses).forEach(b::rule);
    }
    return b.build();
  }

  private Set<String> members(String group) {
    return groups.getOrDefault(group, Set.of());
  }

  @Override
  public String toString() {
    return "MeshPolicy[groups=" + groups.keySet() + ", allows=" + allows.size() + "]";
  }

  /** Builds a {@link MeshPolicy}. */
  public static final class Builder {
    private final Map<String, Set<String>> groups = new LinkedHashMap<>();
    private final List<Allow> allows = new ArrayList<>();

    private Builder() {}

    /** Defines (or extends) a group of node names. */
    public Builder group(String name, String... nodes) {
      MeshIdentity.checkName(requireNonNull(name, "name"));
      Set<String> set = groups.computeIfAbsent(name, k -> new LinkedHashSet<>());
      for (String n : nodes) {
        set.add(MeshIdentity.checkName(requireNonNull(n, "node")));
      }
      return this;
    }

    /** Lets group {@code from} reach {@code ports} ({@code "3306"}, {@code "8000-8099"}; none: any) on group {@code to}. */
    public Builder allow(String name, String from, String to, String... ports) {
      List<PortRange> ranges = new ArrayList<>();
      for (String p : ports) {
        ranges.add(PortRange.parse(p));
      }
      allows.add(new Allow(name, from, to, ranges));
      return this;
    }

    /**
     * Builds the policy.
     *
     * @throws IllegalArgumentException if a grant names an undefined group, or two grants share a name
     */
    public MeshPolicy build() {
      Set<String> names = new LinkedHashSet<>();
      for (Allow a : allows) {
        if (!names.add(a.name())) {
          throw new IllegalArgumentException("policy " + a.name() + ": defined twice (expected: unique names)");
        }
        for (String g : List.of(a.from(), a.to())) {
          if (!groups.containsKey(g)) {
            throw new IllegalArgumentException("policy " + a.name() + ": group " + g + " is not defined (expected "
                + "one of " + groups.keySet() + ")");
          }
        }
      }
      return buildUnchecked();
    }

    private MeshPolicy buildUnchecked() {
      Map<String, Set<String>> copy = new LinkedHashMap<>();
      groups.forEach((k, v) -> copy.put(k, Set.copyOf(v)));
      return new MeshPolicy(java.util.Collections.unmodifiableMap(copy), List.copyOf(allows), false);
    }
  }
}
