package dev.conduit.core.net;

import static dev.conduit.core.net.AddressCategory.BENCHMARKING;
import static dev.conduit.core.net.AddressCategory.BROADCAST;
import static dev.conduit.core.net.AddressCategory.DOCUMENTATION;
import static dev.conduit.core.net.AddressCategory.LINK_LOCAL;
import static dev.conduit.core.net.AddressCategory.LOOPBACK;
import static dev.conduit.core.net.AddressCategory.MULTICAST;
import static dev.conduit.core.net.AddressCategory.PRIVATE;
import static dev.conduit.core.net.AddressCategory.PUBLIC;
import static dev.conduit.core.net.AddressCategory.RESERVED;
import static dev.conduit.core.net.AddressCategory.SHARED;
import static dev.conduit.core.net.AddressCategory.TRANSITION;
import static dev.conduit.core.net.AddressCategory.UNSPECIFIED;
import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Classifies addresses after the IANA IPv4 and IPv6 special-purpose address registries, decoding the
 * IPv4 address inside IPv6 transition forms (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo,
 * ISATAP), and computes the public address space: the guard against allowlisting, or being tricked
 * into reaching, loopback, private networks or cloud metadata. Classify the address that will be
 * dialled, after resolution, never a name.
 */
public final class AddressClassifier {

  private record Block(IpPrefix prefix, AddressCategory category) {}

  // the registries as CPython's ipaddress tables have them, with the categories conduit reports;
  // the longest matching prefix decides, so the global exceptions inside 192.0.0.0/24 and 2001::/23 win
  private static final List<Block> BLOCKS = blocks(Map.ofEntries(
      Map.entry("0.0.0.0/8", RESERVED), Map.entry("0.0.0.0/32", UNSPECIFIED),
      Map.entry("10.0.0.0/8", PRIVATE), Map.entry("100.64.0.0/10", SHARED),
      Map.entry("127.0.0.0/8", LOOPBACK), Map.entry("169.254.0.0/16", LINK_LOCAL),
      Map.entry("172.16.0.0/12", PRIVATE), Map.entry("192.0.0.0/24", RESERVED),
      Map.entry("192.0.0.9/32", PUBLIC), Map.entry("192.0.0.10/32", PUBLIC),
      Map.entry("192.0.2.0/24", DOCUMENTATION), Map.entry("192.88.99.0/24", RESERVED),
      Map.entry("192.168.0.0/16", PRIVATE), Map.entry("198.18.0.0/15", BENCHMARKING),
      Map.entry("198.51.100.0/24", DOCUMENTATION), Map.entry("203.0.113.0/24", DOCUMENTATION),
      Map.entry("224.0.0.0/4", MULTICAST), Map.entry("240.0.0.0/4", RESERVED),
      Map.entry("255.255.255.255/32", BROADCAST),
      Map.entry("::/128", UNSPECIFIED), Map.entry("::1/128", LOOPBACK),
      Map.entry("::ffff:0:0/96", RESERVED), Map.entry("64:ff9b:1::/48", RESERVED),
      Map.entry("100::/64", RESERVED), Map.entry("2001::/23", RESERVED),
      Map.entry("2001:1::1/128", PUBLIC), Map.entry("2001:1::2/128", PUBLIC),
      Map.entry("2001:1::3/128", PUBLIC), Map.entry("2001:3::/32", PUBLIC),
      Map.entry("2001:4:112::/48", PUBLIC), Map.entry("2001:20::/28", PUBLIC),
      Map.entry("2001:30::/28", PUBLIC), Map.entry("2001:db8::/32", DOCUMENTATION),
      Map.entry("2002::/16", RESERVED), Map.entry("3fff::/20", DOCUMENTATION),
      Map.entry("5f00::/16", RESERVED), Map.entry("fc00::/7", PRIVATE),
      Map.entry("fe80::/10", LINK_LOCAL), Map.entry("ff00::/8", MULTICAST)));

  private static final IpPrefix GLOBAL_UNICAST_V6 = IpPrefix.parse("2000::/3");
  private static final IpPrefixSet PUBLIC_SPACE = computePublicSpace();
  private static final IpPrefixSet ROUTED_PUBLIC = routedPublic();

  private AddressClassifier() {}

  private static List<Block> blocks(Map<String, AddressCategory> table) {
    List<Block> blocks = new ArrayList<>();
    table.forEach((cidr, category) -> blocks.add(new Block(IpPrefix.parse(cidr), category)));
    blocks.sort(Comparator.comparingInt((Block b) -> b.prefix().length()).reversed());
    return List.copyOf(blocks);
  }

  /**
   * Classifies an address; an IPv6 transition form is classified by the IPv4 address it carries
   * when that address is not public, and is {@link AddressCategory#TRANSITION} otherwise (ISATAP
   * identifiers inside a public prefix stay public).
   *
   * @param address the address
   * @return the classification
   */
  public static AddressClassification classify(IpAddress address) {
    requireNonNull(address, "address");
    AddressCategory base = base(address);
    if (address.isIpv4()) {
      return new AddressClassification(address, base, Optional.empty(), Optional.empty());
    }
    Optional<Embedding> embedding = embedding(address);
    if (embedding.isEmpty()) {
      return new AddressClassification(address, base, Optional.empty(), Optional.empty());
    }
    List<IpAddress> carried = embedded(address, embedding.get());
    for (IpAddress v4 : carried) {
      AddressCategory category = base(v4);
      if (category != PUBLIC) {
        return new AddressClassification(address, category, embedding, Optional.of(v4));
      }
    }
    AddressCategory category = embedding.get() == Embedding.ISATAP ? base : TRANSITION;
    return new AddressClassification(address, category, embedding, Optional.of(carried.get(0)));
  }

  /**
   * Returns whether an address is public: {@code classify(address).isPublic()}.
   *
   * @param address the address
   * @return whether it is public
   */
  public static boolean isPublic(IpAddress address) {
    return classify(address).isPublic();
  }

  /**
   * Returns whether every address of a prefix is public (so {@code 0.0.0.0/0} is not).
   *
   * @param prefix the prefix
   * @return whether the whole prefix is public
   */
  public static boolean isPublic(IpPrefix prefix) {
    requireNonNull(prefix, "prefix");
    if (prefix.length() == prefix.address().bits()) {
      return isPublic(prefix.address());
    }
    return PUBLIC_SPACE.containsAll(prefix);
  }

  /**
   * Returns the addresses this classifier calls public, IPv4 and IPv6 (ISATAP identifiers aside).
   *
   * @return the public address space
   */
  public static IpPrefixSet publicSpace() {
    return PUBLIC_SPACE;
  }

  private static IpPrefixSet computePublicSpace() {
    List<IpPrefix> special = new ArrayList<>();
    List<IpPrefix> global = new ArrayList<>();
    for (Block b : BLOCKS) {
      (b.category() == PUBLIC ? global : special).add(b.prefix());
    }
    return IpPrefixSet.of(List.of(IpPrefix.parse("0.0.0.0/0"), GLOBAL_UNICAST_V6))
        .subtract(IpPrefixSet.of(special)).union(IpPrefixSet.of(global));
  }

  /**
   * Returns the public prefixes a host routes via an egress gateway: all of IPv4 but the special-purpose
   * blocks (whole, so 116 prefixes) and {@code 2000::/3} but the special-purpose blocks inside it
   * (45 prefixes). Nothing public is missing; the handful of global addresses inside special-purpose
   * blocks ({@code 192.0.0.9}, {@code 2001:20::/28}, ...) are left to the default route.
   *
   * @return the prefixes to route
   */
  public static IpPrefixSet routedPublicPrefixes() {
    return ROUTED_PUBLIC;
  }

  private static IpPrefixSet routedPublic() {
    List<IpPrefix> special = new ArrayList<>();
    for (Block b : BLOCKS) {
      if (b.category() != PUBLIC) {
        special.add(b.prefix());
      }
    }
    return IpPrefixSet.of(List.of(IpPrefix.parse("0.0.0.0/0"), GLOBAL_UNICAST_V6))
        .subtract(IpPrefixSet.of(special));
  }

  private static AddressCategory base(IpAddress address) {
    for (Block b : BLOCKS) {
      if (b.prefix().contains(address)) {
        return b.category();
      }
    }
    if (address.isIpv4() || GLOBAL_UNICAST_V6.contains(address)) {
      return PUBLIC;
    }
    return RESERVED;
  }

  private static Optional<Embedding> embedding(IpAddress a) {
    if (zero(a, 0, 10) && a.byteAt(10) == 0xff && a.byteAt(11) == 0xff) {
      return Optional.of(Embedding.IPV4_MAPPED);
    }
    if (zero(a, 0, 12) && !zero(a, 12, 15)) { // ::/96 but for :: and ::1
      return Optional.of(Embedding.IPV4_COMPATIBLE);
    }
    if (IpPrefix.parse("64:ff9b::/96").contains(a)) {
      return Optional.of(Embedding.NAT64);
    }
    if (IpPrefix.parse("64:ff9b:1::/48").contains(a)) {
      return Optional.of(Embedding.NAT64_LOCAL);
    }
    if (a.byteAt(0) == 0x20 && a.byteAt(1) == 0x02) {
      return Optional.of(Embedding.SIX_TO_FOUR);
    }
    if (a.byteAt(0) == 0x20 && a.byteAt(1) == 0x01 && a.byteAt(2) == 0 && a.byteAt(3) == 0) {
      return Optional.of(Embedding.TEREDO);
    }
    if ((a.byteAt(8) & ~0x02) == 0 && a.byteAt(9) == 0 && a.byteAt(10) == 0x5e && a.byteAt(11) == 0xfe) {
      return Optional.of(Embedding.ISATAP);
    }
    return Optional.empty();
  }

  private static boolean zero(IpAddress a, int from, int to) {
    for (int i = from; i < to; i++) {
      if (a.byteAt(i) != 0) {
        return false;
      }
    }
    return true;
  }

  private static List<IpAddress> embedded(IpAddress a, Embedding embedding) {
    return switch (embedding) {
      case SIX_TO_FOUR -> List.of(v4(a, 2, 3, 4, 5));
      case TEREDO -> List.of(inverted(v4(a, 12, 13, 14, 15)), v4(a, 4, 5, 6, 7));
      // RFC 6052 puts the IPv4 address of a /48 prefix around the u octet; /96 use is common too
      case NAT64_LOCAL -> List.of(zero(a, 12, 16) ? v4(a, 6, 7, 9, 10) : v4(a, 12, 13, 14, 15));
      default -> List.of(v4(a, 12, 13, 14, 15));
    };
  }

  private static IpAddress v4(IpAddress a, int... at) {
    byte[] b = new byte[4];
    for (int i = 0; i < 4; i++) {
      b[i] = (byte) a.byteAt(at[i]);
    }
    return IpAddress.ofBytes(b);
  }

  private static IpAddress inverted(IpAddress v4) {
    byte[] b = v4.bytes();
    for (int i = 0; i < 4; i++) {
      b[i] = (byte) ~b[i];
    }
    return IpAddress.ofBytes(b);
  }
}
