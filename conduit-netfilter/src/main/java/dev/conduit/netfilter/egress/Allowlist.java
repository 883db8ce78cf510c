package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.net.AddressClassification;
import dev.conduit.core.net.AddressClassifier;
import dev.conduit.core.net.IpAddress;
import dev.conduit.core.net.IpPrefix;
import dev.conduit.core.net.IpPrefixSet;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The addresses and prefixes an egress gateway lets the protected networks reach, IPv4 and IPv6, each on
 * every port or on the TCP/UDP destination ports it lists. Every entry is public (after
 * {@link AddressClassifier}) unless it lies in the explicitly allowed special-purpose space; names are never
 * accepted here (the egress server resolves them). An entry added twice keeps the union of its ports, and
 * every port when either addition allows every port. Immutable.
 */
public final class Allowlist {

  /** The most entries an allowlist holds; also the most (entry, port) pairs. */
  public static final int MAX_ENTRIES = 1_000_000;

  private static final Allowlist EMPTY = new Allowlist(new TreeMap<>());
  private static final SortedSet<Integer> ANY_PORT = Collections.emptySortedSet();

  private final Map<IpPrefix, SortedSet<Integer>> ports; // empty set: every port
  private final Set<IpPrefix> entries;

  private Allowlist(TreeMap<IpPrefix, SortedSet<Integer>> ports) {
    this.ports = Collections.unmodifiableMap(ports);
    this.entries = Collections.unmodifiableSet(ports.keySet());
  }

  /** Returns the empty allowlist (enforce mode then forwards nothing new from the protected networks). */
  public static Allowlist empty() {
    return EMPTY;
  }

  /**
   * Returns a builder that refuses non-public entries outside {@code allowedSpecial}.
   *
   * @param allowedSpecial special-purpose space that may be allowlisted all the same (e.g. a lab's
   *     {@code 198.18.0.0/15}); empty for none
   * @return the builder
   */
  public static Builder builder(IpPrefixSet allowedSpecial) {
    return new Builder(requireNonNull(allowedSpecial, "allowedSpecial"));
  }

  /**
   * Parses an allowlist file: one address or CIDR per line, optionally followed by its ports
   * ({@code 198.51.100.7 443,8443}; none: every port); blank lines and {@code #} comments are
   * ignored. Every bad line is reported, with its number, in one exception.
   *
   * @param text the file's text
   * @param allowedSpecial special-purpose space that may be allowlisted
   * @return the allowlist
   * @throws IllegalArgumentException listing every bad line
   */
  public static Allowlist parse(String text, IpPrefixSet allowedSpecial) {
    requireNonNull(text, "text");
    Builder b = builder(allowedSpecial);
    List<String> problems = new ArrayList<>();
    int number = 0;
    for (String line : text.split("\n", -1)) {
      number++;
      int hash = line.indexOf('#');
      String entry = (hash >= 0 ? line.substring(0, hash) : line).strip();
      if (entry.isEmpty()) {
        continue;
      }
      try {
        b.entry(entry);
      } catch (IllegalArgumentException e) {
        problems.add("line " + number + ": " + e.getMessage());
      }
    }
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException(String.join("; ", problems.subList(0, Math.min(20, problems.size())))
          + (problems.size() > 20 ? "; and " + (problems.size() - 20) + " more" : ""));
    }
    return b.build();
  }

  /**
   * Validates the address or CIDR of one entry (without its ports) as {@link Builder#entry(String)} would,
   * without building anything.
   *
   * @param entry the entry text
   * @param allowedSpecial special-purpose space that may be allowlisted
   * @return the prefix
   * @throws IllegalArgumentException when the entry is malformed or not public
   */
  public static IpPrefix validate(String entry, IpPrefixSet allowedSpecial) {
    requireNonNull(entry, "entry");
    requireNonNull(allowedSpecial, "allowedSpecial");
    if (entry.length() > 64) {
      throw new IllegalArgumentException("entry: " + entry.substring(0, 64) + "... (" + entry.length()
          + " chars; expected: an IPv4 or IPv6 address or CIDR)");
    }
    IpPrefix prefix;
    try {
      prefix = IpPrefix.parse(entry);
    } catch (IllegalArgumentException e) {
      if (entry.matches("([A-Za-z0-9_-]+\\.)*[A-Za-z][A-Za-z0-9-]*\\.?")) {
        throw new IllegalArgumentException("entry: " + entry + " is a name (expected: an IPv4 or IPv6"
            + " address or CIDR; names are resolved by the egress server)", e);
      }
      throw new IllegalArgumentException("entry: " + e.getMessage(), e);
    }
    if (allowed(prefix, allowedSpecial)) {
      return prefix;
    }
    if (prefix.length() == prefix.address().bits()) {
      AddressClassification c = AddressClassifier.classify(prefix.address());
      throw new IllegalArgumentException("entry: " + entry + " is " + describe(c)
          + " (expected: a public address)");
    }
    throw new IllegalArgumentException("entry: " + entry + " covers non-public addresses, e.g. "
        + firstNonPublic(prefix, allowedSpecial) + " (expected: a prefix of public addresses only)");
  }

  private static boolean allowed(IpPrefix prefix, IpPrefixSet allowedSpecial) {
    if (allowedSpecial.containsAll(prefix) || AddressClassifier.isPublic(prefix)) {
      return true;
    }
    boolean single = prefix.length() == prefix.address().bits();
    return !single && AddressClassifier.publicSpace().union(allowedSpecial).containsAll(prefix);
  }

  private static String describe(AddressClassification c) {
    String what = c.category().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    return c.embedding().map(e -> what + " (" + e.name().toLowerCase(java.util.Locale.ROOT)
        .replace('_', '-') + " form of " + c.embeddedIpv4().map(IpAddress::toString).orElse("?") + ")")
        .orElse(what);
  }

  private static String firstNonPublic(IpPrefix prefix, IpPrefixSet allowedSpecial) {
    IpPrefixSet outside = IpPrefixSet.of(List.of(prefix)).subtract(AddressClassifier.publicSpace())
        .subtract(allowedSpecial);
    List<IpPrefix> p = outside.prefixes();
    if (p.isEmpty()) {
      return prefix.address().toString();
    }
    IpAddress first = p.get(0).address();
    return first + " (" + describe(AddressClassifier.classify(first)) + ")";
  }

  /** Returns the entries, IPv4 first, each family in address order. */
  public Set<IpPrefix> entries() {
    return entries;
  }

  /**
   * Returns the destination ports an entry allows.
   *
   * @param entry an entry
   * @return its ports, ascending; empty when it allows every port (or is no entry)
   */
  public SortedSet<Integer> ports(IpPrefix entry) {
    return ports.getOrDefault(requireNonNull(entry, "entry"), ANY_PORT);
  }

  /** Returns the number of entries. */
  public int size() {
    return entries.size();
  }

  /**
   * Returns the entries not inside another entry, ports aside ({@code 198.51.100.0/24} absorbs
   * {@code 198.51.100.7}): the address space the allowlist reaches on some port.
   */
  public Set<IpPrefix> effectiveEntries() {
    TreeSet<IpPrefix> out = new TreeSet<>();
    IpPrefix last = null;
    for (IpPrefix p : entries) { // sorted by address, shorter first: a container precedes its contents
      if (last != null && last.isIpv4() == p.isIpv4() && last.contains(p)) {
        continue;
      }
      out.add(p);
      last = p;
    }
    return out;
  }

  /**
   * Returns whether an address is allowlisted on some port.
   *
   * @param address the address
   * @return whether an entry contains it
   */
  public boolean allows(IpAddress address) {
    requireNonNull(address, "address");
    return entries.stream().anyMatch(p -> p.contains(address));
  }

  /**
   * Returns whether an address is allowlisted on a TCP/UDP destination port.
   *
   * @param address the address
   * @param port the destination port
   * @return whether an entry contains it on every port or lists the port
   */
  public boolean allows(IpAddress address, int port) {
    requireNonNull(address, "address");
    return ports.entrySet().stream().anyMatch(e -> e.getKey().contains(address)
        && (e.getValue().isEmpty() || e.getValue().contains(port)));
  }

  /** Returns the entries one per line, the form {@link #parse} reads ({@code 198.51.100.7 443,8443}). */
  public String toText() {
    StringBuilder s = new StringBuilder();
    ports.forEach((p, only) -> {
      s.append(p.length() == p.address().bits() ? p.address().toString() : p.toString());
      String sep = " ";
      for (int port : only) {
        s.append(sep).append(port);
        sep = ",";
      }
      s.append('\n');
    });
    return s.toString();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Allowlist other && ports.equals(other.ports);
  }

  @Override
  public int hashCode() {
    return ports.hashCode();
  }

  /** Returns e.g. {@code Allowlist[3 entries]}. */
  @Override
  public String toString() {
    return "Allowlist[" + entries.size() + " entries]";
  }

  /** Builds an {@link Allowlist}, validating each entry as it is added. */
  public static final class Builder {
    private final IpPrefixSet allowedSpecial;
    private final TreeMap<IpPrefix, SortedSet<Integer>> entries = new TreeMap<>();
    private long portPairs;

    private Builder(IpPrefixSet allowedSpecial) {
      this.allowedSpecial = allowedSpecial;
    }

    /**
     * Adds an address or CIDR, optionally followed by its ports.
     *
     * @param entry e.g. {@code 203.0.113.7} (refused: documentation), {@code 8.8.8.8},
     *     {@code 2606:4700::/32}, {@code 8.8.8.8 53} or {@code 2606:4700::/32 443,8443}
     * @return this builder
     * @throws IllegalArgumentException when the entry is malformed or not public
     */
    public Builder entry(String entry) {
      requireNonNull(entry, "entry");
      String[] parts = entry.strip().split("\\s+", 3);
      if (parts.length == 3) {
        throw new IllegalArgumentException("entry: " + shorten(entry) + " (expected: an address or CIDR,"
            + " optionally followed by ports such as 443,8443)");
      }
      IpPrefix prefix = validate(parts[0], allowedSpecial);
      return entry(prefix, parts.length == 2 ? parsePorts(parts[1]) : List.of());
    }

    /**
     * Adds a prefix on every port, validated as {@link #entry(String)} does.
     *
     * @param prefix the prefix
     * @return this builder
     */
    public Builder entry(IpPrefix prefix) {
      return entry(prefix, List.of());
    }

    /**
     * Adds a prefix on some TCP/UDP destination ports, validated as {@link #entry(String)} does.
     *
     * @param prefix the prefix
     * @param ports ports 1-65535; empty for every port
     * @return this builder
     */
    public Builder entry(IpPrefix prefix, Collection<Integer> ports) {
      requireNonNull(prefix, "prefix");
      requireNonNull(ports, "ports");
      if (!allowed(prefix, allowedSpecial)) {
        validate(prefix.toString(), allowedSpecial); // throws with the reason
      }
      for (int port : ports) {
        checkPort(port);
      }
      SortedSet<Integer> had = entries.get(prefix);
      if (had == null && entries.size() >= MAX_ENTRIES) {
        throw new IllegalArgumentException("allowlist: more than " + MAX_ENTRIES + " entries");
      }
      SortedSet<Integer> next;
      if (ports.isEmpty() || (had != null && had.isEmpty())) {
        next = ANY_PORT; // every port wins over some ports
      } else {
        next = new TreeSet<>(ports);
        if (had != null) {
          next.addAll(had);
        }
      }
      long pairs = portPairs - (had == null ? 0 : had.size()) + next.size();
      if (pairs > MAX_ENTRIES) {
        throw new IllegalArgumentException("allowlist: more than " + MAX_ENTRIES + " (entry, port) pairs");
      }
      portPairs = pairs;
      entries.put(prefix, next.isEmpty() ? ANY_PORT : Collections.unmodifiableSortedSet(next));
      return this;
    }

    /**
     * Adds every entry of another allowlist with its ports.
     *
     * @param other the allowlist
     * @return this builder
     */
    public Builder entries(Allowlist other) {
      requireNonNull(other, "other").ports.forEach(this::entry);
      return this;
    }

    /**
     * Adds every entry.
     *
     * @param all the entries
     * @return this builder
     */
    public Builder entries(Collection<String> all) {
      requireNonNull(all, "all").forEach(this::entry);
      return this;
    }

    /** Returns the allowlist. */
    public Allowlist build() {
      return entries.isEmpty() ? EMPTY : new Allowlist(new TreeMap<>(entries));
    }

    private static List<Integer> parsePorts(String text) {
      if (text.length() > 512) {
        throw new IllegalArgumentException("ports: " + shorten(text) + " (expected: at most 512 chars)");
      }
      List<Integer> out = new ArrayList<>();
      for (String p : text.split(",", -1)) {
        if (!p.matches("\\d{1,5}")) {
          throw new IllegalArgumentException("ports: " + shorten(p) + " (expected: port numbers 1-65535"
              + " separated by commas, e.g. 443,8443)");
        }
        out.add(checkPort(Integer.parseInt(p)));
      }
      return out;
    }

    private static int checkPort(int port) {
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("ports: " + port + " (expected: 1-65535)");
      }
      return port;
    }

    private static String shorten(String text) {
      return text.length() > 64 ? text.substring(0, 64) + "..." : text;
    }
  }
}
