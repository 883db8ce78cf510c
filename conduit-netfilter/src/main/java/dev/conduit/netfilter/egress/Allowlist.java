package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.net.AddressClassification;
import dev.conduit.core.net.AddressClassifier;
import dev.conduit.core.net.IpAddress;
import dev.conduit.core.net.IpPrefix;
import dev.conduit.core.net.IpPrefixSet;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The addresses and prefixes an egress gateway lets the protected networks reach, IPv4 and IPv6.
 * Every entry is public (after {@link AddressClassifier}) unless it lies in the explicitly allowed
 * special-purpose space; names are never accepted here (the egress server resolves them). Immutable.
 */
public final class Allowlist {

  /** The most entries an allowlist holds. */
  public static final int MAX_ENTRIES = 1_000_000;

  private static final Allowlist EMPTY = new Allowlist(new TreeSet<>());

  private final Set<IpPrefix> entries;

  private Allowlist(TreeSet<IpPrefix> entries) {
    this.entries = java.util.Collections.unmodifiableSet(entries);
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
   * Parses an allowlist file: one address or CIDR per line; blank lines and {@code #} comments are
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
   * Validates one entry as {@link Builder#entry(String)} would, without building anything.
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

  /** Returns the number of entries. */
  public int size() {
    return entries.size();
  }

  /**
   * Returns the entries the gateway installs: those not inside another entry (a set element per
   * prefix, so {@code 198.51.100.0/24} absorbs {@code 198.51.100.7}).
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
   * Returns whether an address is allowlisted.
   *
   * @param address the address
   * @return whether an entry contains it
   */
  public boolean allows(IpAddress address) {
    requireNonNull(address, "address");
    return entries.stream().anyMatch(p -> p.contains(address));
  }

  /** Returns the entries one per line, the form {@link #parse} reads. */
  public String toText() {
    StringBuilder s = new StringBuilder();
    entries.forEach(p -> s.append(p.length() == p.address().bits() ? p.address().toString() : p.toString())
        .append('\n'));
    return s.toString();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Allowlist other && entries.equals(other.entries);
  }

  @Override
  public int hashCode() {
    return entries.hashCode();
  }

  /** Returns e.g. {@code Allowlist[3 entries]}. */
  @Override
  public String toString() {
    return "Allowlist[" + entries.size() + " entries]";
  }

  /** Builds an {@link Allowlist}, validating each entry as it is added. */
  public static final class Builder {
    private final IpPrefixSet allowedSpecial;
    private final TreeSet<IpPrefix> entries = new TreeSet<>();

    private Builder(IpPrefixSet allowedSpecial) {
      this.allowedSpecial = allowedSpecial;
    }

    /**
     * Adds an address or CIDR.
     *
     * @param entry e.g. {@code 203.0.113.7} (refused: documentation), {@code 8.8.8.8},
     *     {@code 2606:4700::/32}
     * @return this builder
     * @throws IllegalArgumentException when the entry is malformed or not public
     */
    public Builder entry(String entry) {
      return entry(validate(entry, allowedSpecial));
    }

    /**
     * Adds a prefix, validated as {@link #entry(String)} does.
     *
     * @param prefix the prefix
     * @return this builder
     */
    public Builder entry(IpPrefix prefix) {
      requireNonNull(prefix, "prefix");
      if (!allowed(prefix, allowedSpecial)) {
        validate(prefix.toString(), allowedSpecial); // throws with the reason
      }
      if (entries.size() >= MAX_ENTRIES && !entries.contains(prefix)) {
        throw new IllegalArgumentException("allowlist: more than " + MAX_ENTRIES + " entries");
      }
      entries.add(prefix);
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
      return entries.isEmpty() ? EMPTY : new Allowlist(new TreeSet<>(entries));
    }
  }
}
