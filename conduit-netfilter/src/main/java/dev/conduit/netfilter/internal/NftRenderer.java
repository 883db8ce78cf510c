package dev.conduit.netfilter.internal;

import dev.conduit.netfilter.CaptureMode;
import dev.conduit.netfilter.CapturePlan;
import dev.conduit.netfilter.IpFamily;
import dev.conduit.netfilter.internal.Model.SetSpec;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Renders a plan as one {@code nft -f} transaction: {@code table inet conduit_<prefix>} is declared,
 * deleted and re-created with its sets and chains, so applying replaces any previous version
 * atomically. Same chain layout and evaluation order as {@link IptablesRenderer}. Pure.
 */
final class NftRenderer {

  private static final int PRIORITY_DSTNAT = -100;
  private static final int PRIORITY_MANGLE = -150;

  private NftRenderer() {}

  /** The payload that removes the prefix's table (a no-op when it does not exist). */
  static String clearPayload(String prefix) {
    String table = "inet " + Names.nftTable(prefix);
    return "table " + table + "\ndelete table " + table + "\n";
  }

  static String applyPayload(CapturePlan plan) {
    String p = plan.prefix();
    List<SetSpec> sets = Model.sets(plan);
    boolean tproxy = plan.mode() == CaptureMode.TPROXY;
    StringBuilder out = new StringBuilder(clearPayload(p));
    out.append("table inet ").append(Names.nftTable(p)).append(" {\n");
    out.append("\tcomment \"").append(plan.tag())
        .append(Route.of(plan).map(r -> " " + r.marker()).orElse("")).append("\"\n");
    for (SetSpec s : sets) {
      out.append("\tset ").append(s.nftName()).append(" {\n");
      out.append("\t\ttype ").append(type(s)).append('\n');
      if (s.kind() == Model.Kind.PORT || s.kind().ipsetType.equals("hash:net")) {
        out.append("\t\tflags interval\n");
        out.append("\t\tauto-merge\n");
      }
      out.append("\t\telements = { ");
      List<String> elements = new ArrayList<>();
      for (String e : s.entries()) {
        // nft's address . port elements carry no protocol: tcp and udp entries are one element
        if (!elements.contains(element(s, e))) {
          elements.add(element(s, e));
        }
      }
      out.append(String.join(", ", elements)).append(" }\n");
      out.append("\t}\n");
    }
    String markSet = markSet(plan.tproxyMark(), plan.tproxyMask());
    if (tproxy) {
      chain(out, "divert", null, List.of(markSet + " accept"));
    }
    if (tproxy || plan.gatewayCapture()) {
      List<String> pre = new ArrayList<>();
      pre.add(notCaptured(plan));
      // packets of conduit's own sockets first: a transparent one's flow goes straight to it, and
      // replies to conduit's dials (whatever the capture network) never match below
      if (tproxy && plan.divertEstablished()) {
        pre.add("socket transparent 1 jump divert");
      }
      pre.add(markMatch(plan.bypassMark(), plan.bypassMask()) + " return");
      pre.add("ct direction reply return");
      if (tproxy && plan.localCapture()) {
        for (IpFamily f : IpFamily.values()) {
          if (Model.captures(plan, sets, f)) {
            pre.add("iifname \"lo\" " + markMatch(plan.tproxyMark(), plan.tproxyMask()) + " "
                + nfproto(f) + " " + l4(plan) + " " + tproxyTarget(plan, f));
          }
        }
      }
      pre.add("iifname \"lo\" return");
      if (plan.gatewayCapture()) {
        for (String iface : plan.excludedInputInterfaces()) {
          pre.add("iifname " + iface(iface) + " return");
        }
        if (plan.gatewayInterfaces().isEmpty()) {
          pre.add("jump match_in");
        } else {
          for (String iface : plan.gatewayInterfaces()) {
            pre.add("iifname " + iface(iface) + " jump match_in");
          }
        }
      }
      chain(out, "prerouting", (tproxy ? "type filter" : "type nat") + " hook prerouting priority "
          + (tproxy ? PRIORITY_MANGLE : PRIORITY_DSTNAT) + "; policy accept;", pre);
    }
    if (plan.localCapture()) {
      List<String> o = new ArrayList<>();
      o.add(notCaptured(plan));
      o.add(markMatch(plan.bypassMark(), plan.bypassMask()) + " return");
      if (tproxy) {
        o.add("ct direction reply return");
      }
      for (String iface : plan.excludedOutputInterfaces()) {
        o.add("oifname " + iface(iface) + " return");
      }
      o.add("jump match_out");
      chain(out, "output", (tproxy ? "type route" : "type nat") + " hook output priority "
          + (tproxy ? PRIORITY_MANGLE : PRIORITY_DSTNAT) + "; policy accept;", o);
      chain(out, "match_out", null, matchRules(plan, sets, f ->
          tproxy ? markSet + " return" : redirectTarget(plan, f)));
    }
    if (plan.gatewayCapture()) {
      chain(out, "match_in", null, matchRules(plan, sets, f ->
          tproxy ? tproxyTarget(plan, f) : redirectTarget(plan, f)));
    }
    out.append("}\n");
    return out.toString();
  }

  private static List<String> matchRules(CapturePlan plan, List<SetSpec> sets,
      java.util.function.Function<IpFamily, String> target) {
    List<String> rules = new ArrayList<>();
    for (IpFamily f : IpFamily.values()) {
      if (!Model.captures(plan, sets, f)) {
        continue;
      }
      String ip = f == IpFamily.IPV4 ? "ip" : "ip6";
      String port = plan.captureUdp() ? "th dport" : "tcp dport";
      String udp = plan.captureUdp() ? l4(plan) + " " : "";
      List<SetSpec> familySets = Model.setsFor(sets, f);
      for (SetSpec s : familySets) {
        if (Model.skipLocalBefore(plan, familySets, s)) {
          rules.add(nfproto(f) + " fib daddr type local return");
        }
        String set = "@" + s.nftName();
        switch (s.kind()) {
          case SRC_EXCL -> rules.add(ip + " saddr " + set + " return");
          case DST_EXCL -> rules.add(ip + " daddr " + set + " return");
          case IPPORT -> rules.add(udp + ip + " daddr . " + port + " " + set + " " + target.apply(f));
          case PORT -> rules.add(nfproto(f) + " " + udp + port + " " + set + " " + target.apply(f));
          default -> rules.add(ip + " daddr " + set + " " + l4(plan) + " " + target.apply(f));
        }
      }
      if (Model.skipLocalBeforeAll(plan, familySets)) {
        rules.add(nfproto(f) + " fib daddr type local return");
      }
      if (plan.captureAllTcp()) {
        rules.add(nfproto(f) + " " + l4(plan) + " " + target.apply(f));
      }
    }
    return rules;
  }

  /** The first rule of each base chain: protocols that are not captured return at once. */
  private static String notCaptured(CapturePlan plan) {
    return plan.captureUdp() ? "meta l4proto != { tcp, udp } return" : "meta l4proto != tcp return";
  }

  private static String l4(CapturePlan plan) {
    return plan.captureUdp() ? "meta l4proto { tcp, udp }" : "meta l4proto tcp";
  }

  private static void chain(StringBuilder out, String name, String hook, List<String> rules) {
    out.append("\tchain ").append(name).append(" {\n");
    if (hook != null) {
      out.append("\t\t").append(hook).append('\n');
    }
    for (String rule : rules) {
      out.append("\t\t").append(rule).append('\n');
    }
    out.append("\t}\n");
  }

  private static String type(SetSpec s) {
    String addr = s.family() == IpFamily.IPV4 ? "ipv4_addr" : "ipv6_addr";
    return switch (s.kind()) {
      case PORT -> "inet_service";
      case IPPORT -> addr + " . inet_service";
      default -> addr;
    };
  }

  private static String element(SetSpec s, String ipsetEntry) {
    if (s.kind() == Model.Kind.IPPORT) {
      int comma = ipsetEntry.indexOf(',');
      return ipsetEntry.substring(0, comma) + " . " + ipsetEntry.substring(comma + 5);
    }
    return ipsetEntry;
  }

  private static String nfproto(IpFamily f) {
    return f == IpFamily.IPV4 ? "meta nfproto ipv4" : "meta nfproto ipv6";
  }

  private static String iface(String name) {
    return "\"" + (name.endsWith("+") ? name.substring(0, name.length() - 1) + "*" : name) + "\"";
  }

  private static String markMatch(int mark, int mask) {
    return mask == 0xffffffff
        ? "meta mark " + Names.hex(mark)
        : "meta mark & " + Names.hex(mask) + " == " + Names.hex(mark);
  }

  private static String markSet(int mark, int mask) {
    return mask == 0xffffffff
        ? "meta mark set " + Names.hex(mark)
        : "meta mark set meta mark & " + Names.hex(~mask) + " | " + Names.hex(mark);
  }

  private static String tproxyTarget(CapturePlan plan, IpFamily f) {
    return "tproxy " + (f == IpFamily.IPV4 ? "ip" : "ip6") + " to :" + plan.targetPort() + " "
        + markSet(plan.tproxyMark(), plan.tproxyMask()) + " accept";
  }

  private static String redirectTarget(CapturePlan plan, IpFamily f) {
    Optional<InetAddress> dnat = plan.dnatAddress(f);
    if (dnat.isEmpty()) {
      return "redirect to :" + plan.targetPort();
    }
    String host = InetFormat.format(dnat.get());
    return f == IpFamily.IPV4
        ? "dnat ip to " + host + ":" + plan.targetPort()
        : "dnat ip6 to [" + host + "]:" + plan.targetPort();
  }
}
