package dev.conduit.core.net;

import static java.util.Objects.requireNonNull;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;

/**
 * An immutable set of IPv4 and IPv6 addresses, built from prefixes, with union, subtraction and
 * complement. {@link #prefixes()} lists the set as the fewest prefixes that cover it exactly (what a
 * routing table or an ipset needs). The families never mix: IPv4 prefixes only ever cover IPv4
 * addresses.
 */
public final class IpPrefixSet {

  private static final IpPrefixSet EMPTY = new IpPrefixSet(List.of(), List.of());

  // sorted, disjoint, non-adjacent inclusive ranges per family
  private final List<Range> v4;
  private final List<Range> v6;

  private record Range(BigInteger first, BigInteger last) {}

  private IpPrefixSet(List<Range> v4, List<Range> v6) {
    this.v4 = v4;
    this.v6 = v6;
  }

  /** Returns the empty set. */
  public static IpPrefixSet empty() {
    return EMPTY;
  }

  /** Returns every address: {@code 0.0.0.0/0} and {@code ::/0}. */
  public static IpPrefixSet all() {
    return of(List.of(IpPrefix.parse("0.0.0.0/0"), IpPrefix.parse("::/0")));
  }

  /**
   * Returns the set of these prefixes.
   *
   * @param prefixes the prefixes, overlapping or not
   * @return the set
   */
  public static IpPrefixSet of(Collection<IpPrefix> prefixes) {
    requireNonNull(prefixes, "prefixes");
    List<Range> a = new ArrayList<>();
    List<Range> b = new ArrayList<>();
    for (IpPrefix p : prefixes) {
      requireNonNull(p, "prefix");
      (p.isIpv4() ? a : b).add(new Range(p.first(), p.last()));
    }
    return new IpPrefixSet(normalise(a), normalise(b));
  }

  /**
   * Parses prefixes with {@link IpPrefix#parse} and returns their set.
   *
   * @param prefixes CIDR texts
   * @return the set
   */
  public static IpPrefixSet parse(String... prefixes) {
    return of(Arrays.stream(prefixes).map(IpPrefix::parse).toList());
  }

  private static List<Range> normalise(List<Range> ranges) {
    ranges.sort(Comparator.comparing(Range::first));
    List<Range> out = new ArrayList<>();
    for (Range r : ranges) {
      if (!out.isEmpty()) {
        Range prev = out.get(out.size() - 1);
        if (r.first.compareTo(prev.last.add(BigInteger.ONE)) <= 0) {
          out.set(out.size() - 1, new Range(prev.first, prev.last.max(r.last)));
          continue;
        }
      }
      out.add(r);
    }
    return Collections.unmodifiableList(out);
  }

  /**
   * Returns the addresses in this set or in the other.
   *
   * @param other the other set
   * @return the union
   */
  public IpPrefixSet union(IpPrefixSet other) {
    requireNonNull(other, "other");
    List<Range> a = new ArrayList<>(v4);
    a.addAll(other.v4);
    List<Range> b = new ArrayList<>(v6);
    b.addAll(other.v6);
    return new IpPrefixSet(normalise(a), normalise(b));
  }

  /**
   * Returns the addresses in this set that are not in the other.
   *
   * @param other the addresses to remove
   * @return the difference
   */
  public IpPrefixSet subtract(IpPrefixSet other) {
    requireNonNull(other, "other");
    return new IpPrefixSet(subtract(v4, other.v4), subtract(v6, other.v6));
  }

  private static List<Range> subtract(List<Range> from, List<Range> remove) {
    List<Range> out = new ArrayList<>();
    for (Range r : from) {
      BigInteger start = r.first;
      for (Range cut : remove) {
        if (cut.last.compareTo(start) < 0 || cut.first.compareTo(r.last) > 0) {
          continue;
        }
        if (cut.first.compareTo(start) > 0) {
          out.add(new Range(start, cut.first.subtract(BigInteger.ONE)));
        }
        start = cut.last.add(BigInteger.ONE);
        if (start.compareTo(r.last) > 0) {
          break;
        }
      }
      if (start.compareTo(r.last) <= 0) {
        out.add(new Range(start, r.last));
      }
    }
    return Collections.unmodifiableList(out);
  }

  /** Returns every address not in this set, in both families. */
  public IpPrefixSet complement() {
    return all().subtract(this);
  }

  /** Returns the IPv4 part of this set. */
  public IpPrefixSet ipv4() {
    return new IpPrefixSet(v4, List.of());
  }

  /** Returns the IPv6 part of this set. */
  public IpPrefixSet ipv6() {
    return new IpPrefixSet(List.of(), v6);
  }

  /** Returns whether the set holds no address. */
  public boolean isEmpty() {
    return v4.isEmpty() && v6.isEmpty();
  }

  /**
   * Returns whether the address is in the set.
   *
   * @param address the address
   * @return whether it is in the set
   */
  public boolean contains(IpAddress address) {
    requireNonNull(address, "address");
    BigInteger value = address.toBigInteger();
    return find(address.isIpv4() ? v4 : v6, value, value);
  }

  /**
   * Returns whether every address of the prefix is in the set.
   *
   * @param prefix the prefix
   * @return whether it is wholly in the set
   */
  public boolean containsAll(IpPrefix prefix) {
    requireNonNull(prefix, "prefix");
    return find(prefix.isIpv4() ? v4 : v6, prefix.first(), prefix.last());
  }

  private static boolean find(List<Range> ranges, BigInteger first, BigInteger last) {
    int lo = 0;
    int hi = ranges.size() - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      Range r = ranges.get(mid);
      if (r.last.compareTo(first) < 0) {
        lo = mid + 1;
      } else if (r.first.compareTo(first) > 0) {
        hi = mid - 1;
      } else {
        return r.last.compareTo(last) >= 0;
      }
    }
    return false;
  }

  /**
   * Returns the fewest prefixes that cover exactly this set, IPv4 first, each family in address
   * order.
   */
  public List<IpPrefix> prefixes() {
    List<IpPrefix> out = new ArrayList<>();
    cover(v4, 32, out);
    cover(v6, 128, out);
    return Collections.unmodifiableList(out);
  }

  private static void cover(List<Range> ranges, int bits, List<IpPrefix> out) {
    for (Range r : ranges) {
      BigInteger start = r.first;
      while (start.compareTo(r.last) <= 0) {
        // the largest aligned block that starts here and ends inside the range
        int size = start.signum() == 0 ? bits : Math.min(start.getLowestSetBit(), bits);
        BigInteger remaining = r.last.subtract(start).add(BigInteger.ONE);
        while (BigInteger.ONE.shiftLeft(size).compareTo(remaining) > 0) {
          size--;
        }
        out.add(new IpPrefix(IpAddress.fromBigInteger(start, bits), bits - size));
        start = start.add(BigInteger.ONE.shiftLeft(size));
      }
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof IpPrefixSet other && v4.equals(other.v4) && v6.equals(other.v6);
  }

  @Override
  public int hashCode() {
    return 31 * v4.hashCode() + v6.hashCode();
  }

  /** Returns the covering prefixes, comma-separated. */
  @Override
  public String toString() {
    return prefixes().stream().map(IpPrefix::toString).collect(Collectors.joining(", ", "[", "]"));
  }
}
