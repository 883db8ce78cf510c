package dev.conduit.netfilter.internal;

import dev.conduit.netfilter.CaptureMode;
import dev.conduit.netfilter.CapturePlan;
import dev.conduit.netfilter.IpFamily;
import dev.conduit.netfilter.internal.Model.SetSpec;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Renders plans as {@code iptables-restore --noflush} and {@code ipset restore} payloads. Pure.
 *
 * <p>Chain layout (REDIRECT in nat, TPROXY in mangle): {@code OUTPUT → <P>_OUTPUT} (bypass mark,
 * excluded output interfaces) {@code → <P>_MATCH_OUT}; {@code PREROUTING → <P>_PREROUTING}
 * (established transparent flows, looped-back local traffic, excluded and selected input interfaces)
 * {@code → <P>_MATCH_IN}. The match chains hold the exclusions (RETURN) first and then one rule per
 * match kind, each ending in the capture target.
 */
final class IptablesRenderer {

  static final List<String> TABLES = List.of("nat", "mangle");
  /** Connections to the host's own addresses are not captured by networks, ports or everything. */
  private static final String SKIP_LOCAL = "-m addrtype --dst-type LOCAL -j RETURN";

  private IptablesRenderer() {}

  /** The own chains of one table: chain → rules (without the leading {@code -A chain}). */
  static Map<String, List<String>> chains(CapturePlan plan, IpFamily family, String table) {
    Map<String, List<String>> chains = new LinkedHashMap<>();
    List<SetSpec> sets = Model.sets(plan);
    if (!Model.captures(plan, sets, family) || !table.equals(tableOf(plan))) {
      return chains;
    }
    String p = plan.prefix();
    boolean tproxy = plan.mode() == CaptureMode.TPROXY;
    String markSpec = Names.hex(plan.tproxyMark()) + "/" + Names.hex(plan.tproxyMask());
    if (tproxy) {
      List<String> divert = new ArrayList<>();
      divert.add("-m comment --comment \"" + plan.tag() + " " + Route.of(plan).orElseThrow().marker()
          + "\" -j MARK --set-xmark " + markSpec);
      divert.add("-j ACCEPT");
      chains.put(Names.divert(p), divert);
    }
    if (tproxy || plan.gatewayCapture()) {
      List<String> pre = new ArrayList<>();
      // packets of conduit's own sockets first: a transparent one's flow goes straight to it, and
      // replies to conduit's dials (ctdir REPLY, whatever the capture network) never match below
      if (tproxy && plan.divertEstablished()) {
        for (String proto : protocols(plan)) {
          pre.add("-p " + proto + " -m socket --transparent -j " + Names.divert(p));
        }
      }
      pre.add("-m mark --mark " + Names.hex(plan.bypassMark()) + "/" + Names.hex(plan.bypassMask())
          + " -j RETURN");
      pre.add("-m conntrack --ctdir REPLY -j RETURN");
      if (tproxy && plan.localCapture()) {
        for (String proto : protocols(plan)) {
          pre.add("-i lo -p " + proto + " -m mark --mark " + markSpec + " -j " + tproxyTarget(plan));
        }
      }
      pre.add("-i lo -j RETURN");
      if (plan.gatewayCapture()) {
        for (String iface : plan.excludedInputInterfaces()) {
          pre.add("-i " + iface + " -j RETURN");
        }
        if (plan.gatewayInterfaces().isEmpty()) {
          pre.add("-j " + Names.matchIn(p));
        } else {
          for (String iface : plan.gatewayInterfaces()) {
            pre.add("-i " + iface + " -j " + Names.matchIn(p));
          }
        }
      }
      chains.put(Names.prerouting(p), pre);
    }
    if (plan.localCapture()) {
      List<String> out = new ArrayList<>();
      out.add("-m mark --mark " + Names.hex(plan.bypassMark()) + "/" + Names.hex(plan.bypassMask())
          + " -j RETURN");
      if (tproxy) {
        // replies of the transparent listener itself must not be diverted back to it
        out.add("-m conntrack --ctdir REPLY -j RETURN");
      }
      for (String iface : plan.excludedOutputInterfaces()) {
        out.add("-o " + iface + " -j RETURN");
      }
      out.add("-j " + Names.matchOut(p));
      chains.put(Names.output(p), out);
      chains.put(Names.matchOut(p), matchRules(plan, sets, family,
          tproxy ? "MARK --set-xmark " + markSpec : redirectTarget(plan, family)));
    }
    if (plan.gatewayCapture()) {
      chains.put(Names.matchIn(p), matchRules(plan, sets, family,
          tproxy ? tproxyTarget(plan) : redirectTarget(plan, family)));
    }
    return chains;
  }

  /** The tagged jump rules from the built-in chains (without the leading {@code -I chain 1}). */
  static Map<String, String> jumps(CapturePlan plan, IpFamily family, String table) {
    Map<String, String> jumps = new LinkedHashMap<>();
    Map<String, List<String>> chains = chains(plan, family, table);
    String comment = (plan.captureUdp() ? "" : "-p tcp ") + "-m comment --comment \"" + plan.tag()
        + "\" -j ";
    if (chains.containsKey(Names.prerouting(plan.prefix()))) {
      jumps.put("PREROUTING", comment + Names.prerouting(plan.prefix()));
    }
    if (chains.containsKey(Names.output(plan.prefix()))) {
      jumps.put("OUTPUT", comment + Names.output(plan.prefix()));
    }
    return jumps;
  }

  static String tableOf(CapturePlan plan) {
    return plan.mode() == CaptureMode.TPROXY ? "mangle" : "nat";
  }

  private static List<String> matchRules(CapturePlan plan, List<SetSpec> sets, IpFamily family,
      String target) {
    List<String> rules = new ArrayList<>();
    List<SetSpec> familySets = Model.setsFor(sets, family);
    for (SetSpec s : familySets) {
      String name = s.ipsetName(plan.prefix());
      if (Model.skipLocalBefore(plan, familySets, s)) {
        rules.add(SKIP_LOCAL);
      }
      switch (s.kind()) {
        case SRC_EXCL -> rules.add("-m set --match-set " + name + " src -j RETURN");
        case DST_EXCL -> rules.add("-m set --match-set " + name + " dst -j RETURN");
        case IPPORT -> protocols(plan).forEach(proto ->
            rules.add("-p " + proto + " -m set --match-set " + name + " dst,dst -j " + target));
        default -> protocols(plan).forEach(proto ->
            rules.add("-p " + proto + " -m set --match-set " + name + " dst -j " + target));
      }
    }
    if (Model.skipLocalBeforeAll(plan, familySets)) {
      rules.add(SKIP_LOCAL);
    }
    if (plan.captureAllTcp()) {
      protocols(plan).forEach(proto -> rules.add("-p " + proto + " -j " + target));
    }
    return rules;
  }

  /** The protocols captured: TCP, and UDP where the plan says so. */
  static List<String> protocols(CapturePlan plan) {
    return plan.captureUdp() ? List.of("tcp", "udp") : List.of("tcp");
  }

  private static String tproxyTarget(CapturePlan plan) {
    return "TPROXY --on-port " + plan.targetPort() + " --tproxy-mark "
        + Names.hex(plan.tproxyMark()) + "/" + Names.hex(plan.tproxyMask());
  }

  private static String redirectTarget(CapturePlan plan, IpFamily family) {
    Optional<InetAddress> dnat = plan.dnatAddress(family);
    if (dnat.isEmpty()) {
      return "REDIRECT --to-ports " + plan.targetPort();
    }
    String host = InetFormat.format(dnat.get());
    return "DNAT --to-destination "
        + (family == IpFamily.IPV6 ? "[" + host + "]" : host) + ":" + plan.targetPort();
  }

  /**
   * The {@code iptables-restore --noflush} payload that replaces what is installed (state, may be
   * empty) with the plan (null to remove everything of the prefix). Empty when there is nothing to do.
   */
  static String restorePayload(String prefix, CapturePlan plan, IpFamily family,
      IptablesState state) {
    StringBuilder out = new StringBuilder();
    for (String table : TABLES) {
      Map<String, List<String>> chains =
          plan == null ? Map.of() : chains(plan, family, table);
      Map<String, String> jumps = plan == null ? Map.of() : jumps(plan, family, table);
      List<String> oldChains = state.chains(table);
      List<String> oldJumps = state.jumps(table);
      if (chains.isEmpty() && oldChains.isEmpty() && oldJumps.isEmpty()) {
        continue;
      }
      out.append('*').append(table).append('\n');
      TreeSet<String> declared = new TreeSet<>(oldChains);
      declared.addAll(chains.keySet());
      // declaring a chain in --noflush mode creates it, or flushes it when it exists
      for (String chain : declared) {
        out.append(':').append(chain).append(" - [0:0]\n");
      }
      for (String rule : oldJumps) {
        out.append("-D ").append(rule).append('\n');
      }
      for (Map.Entry<String, List<String>> e : chains.entrySet()) {
        for (String rule : e.getValue()) {
          out.append("-A ").append(e.getKey()).append(' ').append(rule).append('\n');
        }
      }
      for (Map.Entry<String, String> e : jumps.entrySet()) {
        out.append("-I ").append(e.getKey()).append(" 1 ").append(e.getValue()).append('\n');
      }
      for (String chain : oldChains) {
        if (!chains.containsKey(chain)) {
          out.append("-X ").append(chain).append('\n');
        }
      }
      out.append("COMMIT\n");
    }
    return out.toString();
  }

  /**
   * The {@code ipset restore} payload that fills each set of the plan: built under a temporary name
   * and swapped in, so rules never see a half-filled set.
   */
  static String ipsetPayload(CapturePlan plan) {
    StringBuilder out = new StringBuilder();
    for (SetSpec s : Model.sets(plan)) {
      String name = s.ipsetName(plan.prefix());
      String temp = name + Names.TEMP_SUFFIX;
      String create = create(s);
      out.append("create ").append(temp).append(' ').append(create).append(" -exist\n");
      out.append("flush ").append(temp).append('\n');
      for (String entry : s.entries()) {
        out.append("add ").append(temp).append(' ').append(entry).append(" -exist\n");
      }
      out.append("create ").append(name).append(' ').append(create).append(" -exist\n");
      out.append("swap ").append(temp).append(' ').append(name).append('\n');
      out.append("destroy ").append(temp).append('\n');
    }
    return out.toString();
  }

  private static String create(SetSpec s) {
    if (s.kind() == Model.Kind.PORT) {
      return "bitmap:port range 0-65535";
    }
    String family = s.family() == IpFamily.IPV4 ? "inet" : "inet6";
    int maxelem = Math.max(65536, Integer.highestOneBit(Math.max(1, s.entries().size())) * 2);
    return s.kind().ipsetType + " family " + family + (maxelem > 65536 ? " maxelem " + maxelem : "");
  }
}
