package dev.conduit.netfilter.egress.internal;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.net.IpPrefix;
import dev.conduit.netfilter.egress.Allowlist;
import java.util.Collections;
import java.util.Map;
import java.util.NavigableSet;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * The elements an allowlist installs in the gateway's sets: prefixes allowed on every port (sets
 * {@code allow4_*}, {@code allow6_*}) and (prefix, port) pairs (sets {@code allow4p_*}, {@code allow6p_*},
 * keyed {@code addr . inet_service}). No two elements of a set overlap, as interval sets require: a prefix
 * absorbs the prefixes inside it with the same port, and a prefix allowed on every port absorbs every
 * pair inside it.
 *
 * @param anyPort prefixes allowed on every port
 * @param ports (prefix, port) pairs, outside every {@code anyPort} prefix
 */
public record AllowlistElements(Set<IpPrefix> anyPort, Set<PortElement> ports) {

  /** No elements. */
  public static final AllowlistElements EMPTY = new AllowlistElements(Set.of(), Set.of());

  /**
   * One (prefix, destination port) element.
   *
   * @param prefix the address or prefix
   * @param port the TCP/UDP port
   */
  public record PortElement(IpPrefix prefix, int port) implements Comparable<PortElement> {

    /**
     * Validates.
     *
     * @param prefix the address or prefix
     * @param port the port, 1-65535
     */
    public PortElement {
      requireNonNull(prefix, "prefix");
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("port: " + port + " (expected: 1-65535)");
      }
    }

    /** By prefix, then port. */
    @Override
    public int compareTo(PortElement o) {
      int c = prefix.compareTo(o.prefix);
      return c != 0 ? c : Integer.compare(port, o.port);
    }

    /** Returns the element as nft writes it, e.g. {@code 198.51.100.0/24 . 443}. */
    @Override
    public String toString() {
      return EgressNft.element(prefix) + " . " + port;
    }
  }

  /**
   * Copies and sorts.
   *
   * @param anyPort prefixes allowed on every port
   * @param ports (prefix, port) pairs
   */
  public AllowlistElements {
    anyPort = Collections.unmodifiableSortedSet(new TreeSet<>(anyPort));
    ports = Collections.unmodifiableSortedSet(new TreeSet<>(ports));
  }

  /**
   * Computes the elements of an allowlist.
   *
   * @param allowlist the allowlist
   * @return its elements
   */
  public static AllowlistElements of(Allowlist allowlist) {
    requireNonNull(allowlist, "allowlist");
    TreeSet<IpPrefix> any = new TreeSet<>();
    Map<Integer, TreeSet<IpPrefix>> byPort = new TreeMap<>();
    for (IpPrefix p : allowlist.entries()) {
      SortedSet<Integer> ports = allowlist.ports(p);
      if (ports.isEmpty()) {
        any.add(p);
      } else {
        ports.forEach(port -> byPort.computeIfAbsent(port, k -> new TreeSet<>()).add(p));
      }
    }
    NavigableSet<IpPrefix> anyPort = outermost(any);
    TreeSet<PortElement> pairs = new TreeSet<>();
    byPort.forEach((port, prefixes) -> {
      for (IpPrefix p : outermost(prefixes)) {
        if (!covered(anyPort, p)) {
          pairs.add(new PortElement(p, port));
        }
      }
    });
    return new AllowlistElements(anyPort, pairs);
  }

  /** The prefixes not inside another one of the set. */
  private static NavigableSet<IpPrefix> outermost(NavigableSet<IpPrefix> prefixes) {
    TreeSet<IpPrefix> out = new TreeSet<>();
    IpPrefix last = null;
    for (IpPrefix p : prefixes) { // by address, shorter first: a container precedes its contents
      if (last != null && last.contains(p)) {
        continue;
      }
      out.add(p);
      last = p;
    }
    return out;
  }

  /** Whether a prefix lies in one of a set of disjoint prefixes (the one at or before it, if any). */
  private static boolean covered(NavigableSet<IpPrefix> disjoint, IpPrefix p) {
    IpPrefix floor = disjoint.floor(p);
    return floor != null && floor.contains(p);
  }

  /**
   * Returns the elements of one family.
   *
   * @param ipv4 the family
   * @return the elements with IPv4 (or IPv6) prefixes
   */
  public AllowlistElements family(boolean ipv4) {
    return new AllowlistElements(
        anyPort.stream().filter(p -> p.isIpv4() == ipv4).collect(Collectors.toCollection(TreeSet::new)),
        ports.stream().filter(e -> e.prefix().isIpv4() == ipv4).collect(Collectors.toCollection(TreeSet::new)));
  }

  /** Returns e.g. {@code AllowlistElements[3 any-port, 4 port]}. */
  @Override
  public String toString() {
    return "AllowlistElements[" + anyPort.size() + " any-port, " + ports.size() + " port]";
  }
}
