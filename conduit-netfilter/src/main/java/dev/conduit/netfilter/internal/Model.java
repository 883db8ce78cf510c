package dev.conduit.netfilter.internal;

import dev.conduit.netfilter.CapturePlan;
import dev.conduit.netfilter.IpFamily;
import dev.conduit.netfilter.IpNetwork;
import dev.conduit.netfilter.PortRange;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * The backend-neutral shape of a plan: which sets exist with which entries, and in which order the
 * match rules of a family are evaluated (exclusions first, then every match kind).
 */
final class Model {

  /** What a set holds. */
  enum Kind {
    SRC_EXCL("_SRC_EXCL", "hash:net"),
    DST_EXCL("_DST_EXCL", "hash:net"),
    IPPORT("_IPPORT", "hash:ip,port"),
    PORT("_PORT", "bitmap:port"),
    IP("_IP", "hash:ip"),
    NET("_NET", "hash:net");

    final String suffix;
    final String ipsetType;

    Kind(String suffix, String ipsetType) {
      this.suffix = suffix;
      this.ipsetType = ipsetType;
    }

    boolean exclusion() {
      return this == SRC_EXCL || this == DST_EXCL;
    }
  }

  /**
   * A set of one family (ports are family-agnostic: {@code family} is null).
   *
   * @param kind what it holds
   * @param family the family, null for ports
   * @param entries the entries in the ipset syntax
   */
  record SetSpec(Kind kind, IpFamily family, List<String> entries) {
    String ipsetName(String prefix) {
      return prefix + kind.suffix + (family == null ? "" : Names.suffix(family));
    }

    String nftName() {
      String base = switch (kind) {
        case SRC_EXCL -> "src_excl";
        case DST_EXCL -> "dst_excl";
        case IPPORT -> "dst_ipport";
        case PORT -> "dst_port";
        case IP -> "dst_ip";
        case NET -> "dst_net";
      };
      return base + (family == null ? "" : Names.suffix(family));
    }
  }

  private Model() {}

  /** Returns the non-empty sets of the plan, in a fixed order. */
  static List<SetSpec> sets(CapturePlan plan) {
    List<SetSpec> sets = new ArrayList<>();
    for (IpFamily f : IpFamily.values()) {
      if (!plan.covers(f)) {
        continue;
      }
      add(sets, Kind.SRC_EXCL, f, networks(plan.excludedSources(), f));
      add(sets, Kind.DST_EXCL, f, networks(plan.excludedDestinations(), f));
    }
    for (IpFamily f : IpFamily.values()) {
      if (!plan.covers(f)) {
        continue;
      }
      List<String> endpoints = new ArrayList<>();
      for (InetSocketAddress e : plan.destinationEndpoints()) {
        if (family(e.getAddress()) == f) {
          endpoints.add(InetFormat.format(e.getAddress()) + ",tcp:" + e.getPort());
          if (plan.captureUdp()) {
            endpoints.add(InetFormat.format(e.getAddress()) + ",udp:" + e.getPort());
          }
        }
      }
      add(sets, Kind.IPPORT, f, endpoints);
      List<String> ips = new ArrayList<>();
      for (InetAddress a : plan.destinationAddresses()) {
        if (family(a) == f) {
          ips.add(InetFormat.format(a));
        }
      }
      add(sets, Kind.IP, f, ips);
    }
    // named addresses come first: the host's own addresses are skipped only after them
    List<String> ports = new ArrayList<>();
    for (PortRange r : plan.destinationPorts()) {
      ports.add(r.toString());
    }
    add(sets, Kind.PORT, null, ports);
    for (IpFamily f : IpFamily.values()) {
      if (plan.covers(f)) {
        add(sets, Kind.NET, f, networks(plan.destinationNetworks(), f));
      }
    }
    return sets;
  }

  /** Returns the sets a family's rules use, exclusions first, in evaluation order. */
  static List<SetSpec> setsFor(List<SetSpec> sets, IpFamily family) {
    List<SetSpec> out = new ArrayList<>();
    for (SetSpec s : sets) {
      if (s.family() == null || s.family() == family) {
        out.add(s);
      }
    }
    return out;
  }

  /** Returns whether the family has anything to capture (so its rules are worth installing). */
  static boolean captures(CapturePlan plan, List<SetSpec> sets, IpFamily family) {
    if (!plan.covers(family)) {
      return false;
    }
    if (plan.captureAllTcp()) {
      return true;
    }
    for (SetSpec s : setsFor(sets, family)) {
      if (!s.kind().exclusion()) {
        return true;
      }
    }
    return false;
  }

  /**
   * Returns whether the rule for this set is the first that matches whole networks or ports, before
   * which connections to the host's own addresses return (unless the plan captures them).
   */
  static boolean skipLocalBefore(CapturePlan plan, List<SetSpec> familySets, SetSpec set) {
    if (plan.captureLocalDestinations() || set.kind().exclusion() || set.kind() == Kind.IP
        || set.kind() == Kind.IPPORT) {
      return false;
    }
    for (SetSpec s : familySets) {
      if (s == set) {
        return true;
      }
      if (s.kind() == Kind.PORT || s.kind() == Kind.NET) {
        return false;
      }
    }
    return false;
  }

  /** Returns whether the catch-all rule needs the local-address return in front of it. */
  static boolean skipLocalBeforeAll(CapturePlan plan, List<SetSpec> familySets) {
    if (plan.captureLocalDestinations() || !plan.captureAllTcp()) {
      return false;
    }
    for (SetSpec s : familySets) {
      if (s.kind() == Kind.PORT || s.kind() == Kind.NET) {
        return false;
      }
    }
    return true;
  }

  static IpFamily family(InetAddress address) {
    return address instanceof Inet4Address ? IpFamily.IPV4 : IpFamily.IPV6;
  }

  private static List<String> networks(List<IpNetwork> networks, IpFamily family) {
    List<String> out = new ArrayList<>();
    for (IpNetwork n : networks) {
      if (n.family() == family) {
        out.add(n.toString());
      }
    }
    return out;
  }

  private static void add(List<SetSpec> sets, Kind kind, IpFamily family, List<String> entries) {
    if (!entries.isEmpty()) {
      sets.add(new SetSpec(kind, family, List.copyOf(entries)));
    }
  }
}
