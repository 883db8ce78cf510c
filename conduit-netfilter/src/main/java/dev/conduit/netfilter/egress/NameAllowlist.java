package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conduit.core.net.IpAddress;
import dev.conduit.core.net.IpPrefix;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The names of an egress allowlist, for the gateway's optional L7 check: each allowlisted domain with the
 * addresses the egress server resolved for it, the {@code *.suffix} wildcards, and the address and prefix
 * entries (which allow their destinations whatever name a flow carries). Immutable.
 *
 * <p>{@link #check} is the rule: a flow to a destination of an address or prefix entry passes whatever its
 * name; otherwise its TLS SNI or HTTP Host must be an allowlisted domain <em>and</em> the destination one of
 * that domain's addresses (so neither an allowed name sent to an unrelated address, domain fronting, nor another
 * name sent to an allowlisted shared address passes), or the name must be below a wildcard, and then the
 * destination must be one of the public addresses the gateway itself resolves the name to.
 */
public final class NameAllowlist {

  private static final NameAllowlist EMPTY = new NameAllowlist(new TreeMap<>(), new TreeMap<>(), new TreeSet<>(),
      new TreeMap<>());

  private final Map<String, Set<IpAddress>> domains;
  private final Map<String, Set<Integer>> wildcards; // suffix -> ports (empty: all)
  private final Set<IpPrefix> anyName;
  private final Map<IpPrefix, Set<Integer>> ports; // each pushed address or prefix -> its ports (empty: all)

  private NameAllowlist(TreeMap<String, Set<IpAddress>> domains, TreeMap<String, Set<Integer>> wildcards,
      TreeSet<IpPrefix> anyName, TreeMap<IpPrefix, Set<Integer>> ports) {
    this.domains = Collections.unmodifiableMap(domains);
    this.wildcards = Collections.unmodifiableMap(wildcards);
    this.anyName = Collections.unmodifiableSet(anyName);
    // every pushed address and prefix has its ports (empty: every port), also when read from the kept text
    domains.values().forEach(a -> a.forEach(ip -> ports.putIfAbsent(IpPrefix.parse(ip + "/" + ip.bits()), Set.of())));
    anyName.forEach(p -> ports.putIfAbsent(p, Set.of()));
    this.ports = Collections.unmodifiableMap(ports);
  }

  /** Returns the allowlist with no names and no addresses (every L7-checked flow is refused). */
  public static NameAllowlist empty() {
    return EMPTY;
  }

  /**
   * Returns the names an allowlist of addresses and prefixes alone implies: none, each entry passes whatever
   * name a flow carries (a gateway fed by its flags or a file, which hold no names).
   *
   * @param allowlist the addresses and prefixes
   * @return the name allowlist
   */
  public static NameAllowlist ofAddresses(Allowlist allowlist) {
    requireNonNull(allowlist, "allowlist");
    TreeMap<IpPrefix, Set<Integer>> ports = new TreeMap<>();
    allowlist.entries().forEach(p -> ports.put(p, Set.copyOf(allowlist.ports(p))));
    return new NameAllowlist(new TreeMap<>(), new TreeMap<>(), new TreeSet<>(allowlist.entries()), ports);
  }

  /**
   * Reads the names of a state the egress server pushed: each address or prefix resource names, in its
   * {@code entries}, the entries that allow it (a domain, or the address or prefix itself); each
   * {@code *.suffix} resource is a wildcard. A resource without {@code entries} allows its address whatever
   * the name.
   *
   * @param resources the pushed resources by key
   * @return the name allowlist
   * @throws IllegalArgumentException naming a key that is neither an address, a prefix nor a wildcard
   */
  public static NameAllowlist fromPushedState(Map<String, JsonNode> resources) {
    requireNonNull(resources, "resources");
    TreeMap<String, Set<IpAddress>> domains = new TreeMap<>();
    TreeMap<String, Set<Integer>> wildcards = new TreeMap<>();
    TreeSet<IpPrefix> anyName = new TreeSet<>();
    TreeMap<IpPrefix, Set<Integer>> ports = new TreeMap<>();
    for (Map.Entry<String, JsonNode> r : resources.entrySet()) {
      String key = r.getKey();
      if (isWildcard(key)) {
        wildcards.put(suffix(key), pushedPorts(r.getValue()));
        continue;
      }
      IpPrefix prefix = IpPrefix.parse(key);
      ports.put(prefix, pushedPorts(r.getValue()));
      JsonNode entries = r.getValue() == null ? null : r.getValue().get("entries");
      if (entries == null || !entries.isArray() || entries.isEmpty()) {
        anyName.add(prefix);
        continue;
      }
      for (JsonNode e : entries) {
        String entry = e.asText();
        if (IpAddress.isLiteral(entry) || entry.indexOf('/') >= 0) {
          anyName.add(prefix);
        } else if (!isWildcard(entry) && prefix.length() == prefix.address().bits()) {
          domains.computeIfAbsent(canonical(entry), n -> new TreeSet<>()).add(prefix.address());
        }
      }
    }
    domains.replaceAll((n, a) -> Collections.unmodifiableSet(a));
    return new NameAllowlist(domains, wildcards, anyName, ports);
  }

  /** A pushed value's ports, as the address allowlist reads them (absent or empty: every port). */
  private static Set<Integer> pushedPorts(JsonNode value) {
    JsonNode ports = value == null ? null : value.get("ports");
    if (ports == null || !ports.isArray()) {
      return Set.of();
    }
    TreeSet<Integer> out = new TreeSet<>();
    for (JsonNode p : ports) {
      if (!p.isInt() || p.asInt() < 1 || p.asInt() > 65535) {
        throw new IllegalArgumentException("ports: " + p + " (expected: 1-65535)");
      }
      out.add(p.asInt());
    }
    return Collections.unmodifiableSet(out);
  }

  /**
   * Returns whether a pushed resource key is a wildcard ({@code *.suffix}) rather than an address or prefix.
   *
   * @param key the key
   * @return whether it is a wildcard
   */
  public static boolean isWildcard(String key) {
    return requireNonNull(key, "key").startsWith("*.") && key.length() > 2;
  }

  private static String suffix(String wildcard) {
    return canonical(wildcard.substring(2));
  }

  private static String canonical(String name) {
    String n = name.strip().toLowerCase(Locale.ROOT);
    return n.endsWith(".") ? n.substring(0, n.length() - 1) : n;
  }

  /** Returns each allowlisted domain with its addresses, in name order. */
  public Map<String, Set<IpAddress>> domains() {
    return domains;
  }

  /** Returns the wildcards as {@code *.suffix}, in suffix order. */
  public List<String> wildcards() {
    List<String> out = new ArrayList<>();
    wildcards.keySet().forEach(s -> out.add("*." + s));
    return Collections.unmodifiableList(out);
  }

  /** Returns the address and prefix entries: their destinations pass whatever name a flow carries. */
  public Set<IpPrefix> anyName() {
    return anyName;
  }

  /**
   * Returns whether a destination and port pass whatever name a flow to them carries (an address or prefix
   * entry holds the address, on that port): the L7 check then reads nothing.
   *
   * @param destination the flow's original destination
   * @param port its port
   * @return whether any name passes
   */
  public boolean allowsAnyName(IpAddress destination, int port) {
    requireNonNull(destination, "destination");
    return anyName.stream().anyMatch(p -> p.contains(destination) && portOf(p, port));
  }

  /**
   * Returns whether the pushed state lets a destination be reached on a port: some address or prefix holding it
   * allows every port or that one (the rule the gateway's address sets enforce).
   *
   * @param destination the destination
   * @param port the port
   * @return whether the port is allowed there
   */
  public boolean allowsPort(IpAddress destination, int port) {
    requireNonNull(destination, "destination");
    return ports.entrySet().stream().anyMatch(e -> e.getKey().contains(destination)
        && (e.getValue().isEmpty() || e.getValue().contains(port)));
  }

  private boolean portOf(IpPrefix key, int port) {
    Set<Integer> allowed = ports.get(key);
    return allowed == null || allowed.isEmpty() || allowed.contains(port);
  }

  /**
   * Returns the ports a wildcard allows (empty: every port).
   *
   * @param wildcard {@code *.suffix}
   * @return the ports
   */
  public Set<Integer> wildcardPorts(String wildcard) {
    Set<Integer> p = wildcards.get(suffix(requireNonNull(wildcard, "wildcard")));
    return p == null ? Set.of() : p;
  }

  /**
   * Returns the wildcard a name is below, if any ({@code a.example.org} is below {@code *.example.org};
   * {@code example.org} is not).
   *
   * @param name the name, any case, trailing dot or not
   * @return the wildcard as {@code *.suffix}
   */
  public Optional<String> wildcardOf(String name) {
    String n = canonical(requireNonNull(name, "name"));
    for (int dot = n.indexOf('.'); dot >= 0; dot = n.indexOf('.', dot + 1)) {
      if (wildcards.containsKey(n.substring(dot + 1))) {
        return Optional.of("*." + n.substring(dot + 1));
      }
    }
    return Optional.empty();
  }

  /**
   * Checks a flow by its server name, original destination and port (see the class comment for the rule; the
   * port must be one the entry allows, as for the gateway's address sets).
   *
   * @param name the TLS SNI or HTTP Host, empty when the flow carried none
   * @param destination the flow's original destination
   * @param port its port
   * @return the verdict
   */
  public Verdict check(Optional<String> name, IpAddress destination, int port) {
    requireNonNull(name, "name");
    requireNonNull(destination, "destination");
    if (allowsAnyName(destination, port)) {
      return new Verdict(Verdict.Kind.ALLOWED, destination + " is allowlisted as an address");
    }
    if (name.isEmpty()) {
      return new Verdict(Verdict.Kind.DENIED, "no server name (TLS SNI or HTTP Host) for " + destination);
    }
    String n = canonical(name.get());
    Set<IpAddress> addresses = domains.get(n);
    if (addresses != null && addresses.contains(destination)) {
      return allowsPort(destination, port) ? new Verdict(Verdict.Kind.ALLOWED, n + " resolves to " + destination)
          : new Verdict(Verdict.Kind.DENIED, "port " + port + " is not allowlisted for " + n + " at " + destination);
    }
    Optional<String> wildcard = wildcardOf(n);
    if (wildcard.isPresent()) {
      Set<Integer> allowed = wildcardPorts(wildcard.get());
      return allowed.isEmpty() || allowed.contains(port)
          ? new Verdict(Verdict.Kind.RESOLVE, n + " is below " + wildcard.get())
          : new Verdict(Verdict.Kind.DENIED, "port " + port + " is not allowlisted for " + wildcard.get());
    }
    if (addresses != null) {
      return new Verdict(Verdict.Kind.DENIED, destination + " is not an address of " + n);
    }
    return new Verdict(Verdict.Kind.DENIED, n + " is not allowlisted");
  }

  /**
   * What {@link #check} decided.
   *
   * @param kind allowed, denied, or to decide by the gateway's own resolution of the name (a wildcard)
   * @param reason why, in a few words
   */
  public record Verdict(Kind kind, String reason) {

    /** The decision. */
    public enum Kind {
      /** The flow passes. */
      ALLOWED,
      /** The flow is refused. */
      DENIED,
      /** The name is below a wildcard: the destination must be one of the addresses it resolves to. */
      RESOLVE
    }

    /**
     * Validates.
     *
     * @param kind the decision
     * @param reason why
     */
    public Verdict {
      requireNonNull(kind, "kind");
      requireNonNull(reason, "reason");
    }
  }

  /**
   * Returns the names as {@link #parse} reads them: one line per domain ({@code domain NAME ADDRESS...}),
   * wildcard ({@code wildcard *.SUFFIX [PORT,...]}), address entry ({@code any ADDRESS|CIDR}) and address or
   * prefix limited to some ports ({@code ports ADDRESS|CIDR PORT,...}).
   */
  public String toText() {
    StringBuilder s = new StringBuilder();
    domains.forEach((n, addresses) -> {
      s.append("domain ").append(n);
      addresses.forEach(a -> s.append(' ').append(a));
      s.append('\n');
    });
    wildcards.forEach((w, p) -> s.append("wildcard *.").append(w).append(portsText(p)).append('\n'));
    anyName.forEach(p -> s.append("any ").append(text(p)).append('\n'));
    ports.forEach((p, allowed) -> {
      if (!allowed.isEmpty()) {
        s.append("ports ").append(text(p)).append(portsText(allowed)).append('\n');
      }
    });
    return s.toString();
  }

  private static String text(IpPrefix p) {
    return p.length() == p.address().bits() ? p.address().toString() : p.toString();
  }

  private static String portsText(Set<Integer> ports) {
    StringBuilder s = new StringBuilder();
    ports.forEach(p -> s.append(s.length() == 0 ? " " : ",").append(p));
    return s.toString();
  }

  /**
   * Parses the form {@link #toText} writes; blank lines and {@code #} comments are ignored.
   *
   * @param text the text
   * @return the names
   * @throws IllegalArgumentException naming the first bad line
   */
  public static NameAllowlist parse(String text) {
    requireNonNull(text, "text");
    TreeMap<String, Set<IpAddress>> domains = new TreeMap<>();
    TreeMap<String, Set<Integer>> wildcards = new TreeMap<>();
    TreeSet<IpPrefix> anyName = new TreeSet<>();
    TreeMap<IpPrefix, Set<Integer>> ports = new TreeMap<>();
    int number = 0;
    for (String line : text.split("\n", -1)) {
      number++;
      String l = line.strip();
      if (l.isEmpty() || l.startsWith("#")) {
        continue;
      }
      String[] f = l.split("\\s+");
      try {
        switch (f[0]) {
          case "domain" -> {
            TreeSet<IpAddress> addresses = new TreeSet<>();
            for (int i = 2; i < f.length; i++) {
              addresses.add(IpAddress.parse(f[i]));
            }
            if (f.length < 3) {
              throw new IllegalArgumentException("a domain without addresses");
            }
            domains.put(canonical(f[1]), Collections.unmodifiableSet(addresses));
          }
          case "wildcard" -> {
            if (f.length < 2 || f.length > 3 || !isWildcard(f[1])) {
              throw new IllegalArgumentException("expected: wildcard *.SUFFIX [PORT,...]");
            }
            wildcards.put(suffix(f[1]), f.length == 3 ? parsePorts(f[2]) : Set.of());
          }
          case "ports" -> {
            if (f.length != 3) {
              throw new IllegalArgumentException("expected: ports ADDRESS|CIDR PORT,...");
            }
            ports.put(IpPrefix.parse(f[1]), parsePorts(f[2]));
          }
          case "any" -> {
            if (f.length != 2) {
              throw new IllegalArgumentException("expected: any ADDRESS|CIDR");
            }
            anyName.add(IpPrefix.parse(f[1]));
          }
          default -> throw new IllegalArgumentException("expected: domain, wildcard, any or ports");
        }
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("line " + number + ": " + e.getMessage(), e);
      }
    }
    return new NameAllowlist(domains, wildcards, anyName, ports);
  }

  private static Set<Integer> parsePorts(String text) {
    TreeSet<Integer> out = new TreeSet<>();
    for (String p : text.split(",")) {
      int port = Integer.parseInt(p);
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("port: " + port + " (expected: 1-65535)");
      }
      out.add(port);
    }
    return Collections.unmodifiableSet(out);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof NameAllowlist other && domains.equals(other.domains) && wildcards.equals(other.wildcards)
        && anyName.equals(other.anyName) && ports.equals(other.ports);
  }

  @Override
  public int hashCode() {
    return (domains.hashCode() * 31 + wildcards.hashCode()) * 31 + anyName.hashCode();
  }

  /** Returns e.g. {@code NameAllowlist[2 domains, 1 wildcards, 3 address entries]}. */
  @Override
  public String toString() {
    return "NameAllowlist[" + domains.size() + " domains, " + wildcards.size() + " wildcards, " + anyName.size()
        + " address entries]";
  }
}
