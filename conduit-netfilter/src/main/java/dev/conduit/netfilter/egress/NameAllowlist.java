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

  private static final NameAllowlist EMPTY = new NameAllowlist(new TreeMap<>(), new TreeSet<>(), new TreeSet<>());

  private final Map<String, Set<IpAddress>> domains;
  private final Set<String> wildcards;
  private final Set<IpPrefix> anyName;
  private final Map<IpPrefix, Set<Integer>> ports; // the address and prefix resources allowed on some ports only

  private NameAllowlist(TreeMap<String, Set<IpAddress>> domains, TreeSet<String> wildcards,
      TreeSet<IpPrefix> anyName) {
    this(domains, wildcards, anyName, new TreeMap<>());
  }

  private NameAllowlist(TreeMap<String, Set<IpAddress>> domains, TreeSet<String> wildcards,
      TreeSet<IpPrefix> anyName, TreeMap<IpPrefix, Set<Integer>> ports) {
    this.domains = Collections.unmodifiableMap(domains);
    this.wildcards = Collections.unmodifiableSet(wildcards);
    this.anyName = Collections.unmodifiableSet(anyName);
    ports.replaceAll((p, only) -> Collections.unmodifiableSet(new TreeSet<>(only)));
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
    allowlist.entries().stream().filter(p -> !allowlist.ports(p).isEmpty())
        .forEach(p -> ports.put(p, allowlist.ports(p)));
    return new NameAllowlist(new TreeMap<>(), new TreeSet<>(), new TreeSet<>(allowlist.entries()), ports);
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
    TreeSet<String> wildcards = new TreeSet<>();
    TreeSet<IpPrefix> anyName = new TreeSet<>();
    TreeMap<IpPrefix, Set<Integer>> ports = new TreeMap<>();
    for (Map.Entry<String, JsonNode> r : resources.entrySet()) {
      String key = r.getKey();
      if (isWildcard(key)) {
        wildcards.add(suffix(key));
        continue;
      }
      IpPrefix prefix = IpPrefix.parse(key);
      JsonNode only = r.getValue() == null ? null : r.getValue().get("ports");
      if (only != null && only.isArray() && !only.isEmpty()) { // empty: every port
        TreeSet<Integer> numbers = new TreeSet<>();
        only.forEach(n -> numbers.add(n.asInt()));
        ports.put(prefix, numbers);
      }
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
    wildcards.forEach(s -> out.add("*." + s));
    return Collections.unmodifiableList(out);
  }

  /** Returns the address and prefix entries: their destinations pass whatever name a flow carries. */
  public Set<IpPrefix> anyName() {
    return anyName;
  }

  /**
   * Returns whether a destination passes whatever name a flow to it carries (an address or prefix entry
   * holds it): the L7 check then reads nothing.
   *
   * @param destination the flow's original destination
   * @return whether any name passes
   */
  public boolean allowsAnyName(IpAddress destination) {
    requireNonNull(destination, "destination");
    return anyName.stream().anyMatch(p -> p.contains(destination));
  }

  /**
   * Returns whether a destination port passes the address and prefix entries' ports: yes when no entry
   * holds the destination (a wildcard's addresses) or one allows every port or that port; no when every
   * entry holding it lists other ports only (the forward chain's rule, which a checked flow never meets).
   *
   * @param destination the flow's original destination
   * @param port its TCP port
   * @return whether the port passes
   */
  public boolean allowsPort(IpAddress destination, int port) {
    requireNonNull(destination, "destination");
    boolean restricted = false;
    for (Map.Entry<IpPrefix, Set<Integer>> e : ports.entrySet()) {
      if (e.getKey().contains(destination)) {
        if (e.getValue().contains(port)) {
          return true;
        }
        restricted = true;
      }
    }
    if (!restricted) {
      return true;
    }
    // another entry holding it on every port
    return anyName.stream().anyMatch(p -> p.contains(destination) && !ports.containsKey(p))
        || domains.values().stream().anyMatch(a -> a.contains(destination))
            && !ports.containsKey(IpPrefix.containing(destination, destination.bits()));
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
      if (wildcards.contains(n.substring(dot + 1))) {
        return Optional.of("*." + n.substring(dot + 1));
      }
    }
    return Optional.empty();
  }

  /**
   * Checks a flow by its server name and original destination (see the class comment for the rule).
   *
   * @param name the TLS SNI or HTTP Host, empty when the flow carried none
   * @param destination the flow's original destination
   * @return the verdict
   */
  public Verdict check(Optional<String> name, IpAddress destination) {
    requireNonNull(name, "name");
    requireNonNull(destination, "destination");
    if (allowsAnyName(destination)) {
      return new Verdict(Verdict.Kind.ALLOWED, destination + " is allowlisted as an address");
    }
    if (name.isEmpty()) {
      return new Verdict(Verdict.Kind.DENIED, "no server name (TLS SNI or HTTP Host) for " + destination);
    }
    String n = canonical(name.get());
    Set<IpAddress> addresses = domains.get(n);
    if (addresses != null && addresses.contains(destination)) {
      return new Verdict(Verdict.Kind.ALLOWED, n + " resolves to " + destination);
    }
    Optional<String> wildcard = wildcardOf(n);
    if (wildcard.isPresent()) {
      return new Verdict(Verdict.Kind.RESOLVE, n + " is below " + wildcard.get());
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
   * wildcard ({@code wildcard *.SUFFIX}) and address entry ({@code any ADDRESS|CIDR}), and one per address or
   * prefix allowed on some ports only ({@code ports ADDRESS|CIDR PORT,PORT}).
   */
  public String toText() {
    StringBuilder s = new StringBuilder();
    domains.forEach((n, addresses) -> {
      s.append("domain ").append(n);
      addresses.forEach(a -> s.append(' ').append(a));
      s.append('\n');
    });
    wildcards().forEach(w -> s.append("wildcard ").append(w).append('\n'));
    anyName.forEach(p -> s.append("any ").append(p.length() == p.address().bits() ? p.address() : p).append('\n'));
    ports.forEach((p, only) -> s.append("ports ").append(p.length() == p.address().bits() ? p.address() : p)
        .append(' ').append(only.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(",")))
        .append('\n'));
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
    TreeSet<String> wildcards = new TreeSet<>();
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
            if (f.length != 2 || !isWildcard(f[1])) {
              throw new IllegalArgumentException("expected: wildcard *.SUFFIX");
            }
            wildcards.add(suffix(f[1]));
          }
          case "any" -> {
            if (f.length != 2) {
              throw new IllegalArgumentException("expected: any ADDRESS|CIDR");
            }
            anyName.add(IpPrefix.parse(f[1]));
          }
          case "ports" -> {
            if (f.length != 3) {
              throw new IllegalArgumentException("expected: ports ADDRESS|CIDR PORT[,PORT...]");
            }
            TreeSet<Integer> numbers = new TreeSet<>();
            for (String n : f[2].split(",")) {
              numbers.add(Integer.parseInt(n));
            }
            ports.put(IpPrefix.parse(f[1]), numbers);
          }
          default -> throw new IllegalArgumentException("expected: domain, wildcard, any or ports");
        }
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("line " + number + ": " + e.getMessage(), e);
      }
    }
    return new NameAllowlist(domains, wildcards, anyName, ports);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof NameAllowlist other && domains.equals(other.domains) && wildcards.equals(other.wildcards)
        && anyName.equals(other.anyName) && ports.equals(other.ports);
  }

  @Override
  public int hashCode() {
    return ((domains.hashCode() * 31 + wildcards.hashCode()) * 31 + anyName.hashCode()) * 31 + ports.hashCode();
  }

  /** Returns e.g. {@code NameAllowlist[2 domains, 1 wildcards, 3 address entries]}. */
  @Override
  public String toString() {
    return "NameAllowlist[" + domains.size() + " domains, " + wildcards.size() + " wildcards, " + anyName.size()
        + " address entries]";
  }
}
