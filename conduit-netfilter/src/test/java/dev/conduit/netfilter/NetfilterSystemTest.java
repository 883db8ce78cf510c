package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.netfilter.testing.NetNs;
import java.util.List;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Applies plans for real, in network namespaces this test creates, and lists the kernel state with the
 * tools' own listing commands. Needs root, iptables, ipset, nft and ip (skips elsewhere; under CI=true
 * it fails instead).
 */
class NetfilterSystemTest {

  @BeforeAll
  static void requireRoot() {
    NetNs.requireRootAnd("iptables-save", "ip6tables-save", "ipset", "nft", "ip");
  }

  static NetfilterBackend backend(String name, CommandRunner runner) {
    return name.equals("iptables") ? NetfilterBackend.iptables(runner) : NetfilterBackend.nftables(runner);
  }

  static CapturePlan.Builder everything(String prefix, CaptureMode mode) {
    return CapturePlan.builder().prefix(prefix).mode(mode).targetPort(15001)
        .captureAddress("198.18.0.2").captureAddress("fd00::2")
        .captureNetwork("198.18.1.0/24").captureNetwork("fd00:1::/64")
        .captureEndpoint("198.18.0.3:80").captureEndpoint("[fd00::3]:80")
        .capturePort(8080).capturePorts(new PortRange(9000, 9010))
        .excludeSource("198.18.5.0/24").excludeDestination("198.18.1.9/32")
        .excludeOutputInterface("br+").gatewayInterfaces("veth+");
  }

  /** Everything of a prefix that the kernel lists, one string per object. */
  static String installed(NetNs ns, String prefix, int table) throws NetfilterException {
    StringBuilder all = new StringBuilder();
    // exact names: prefix ONE must not see ONE_B's objects
    Pattern own = Pattern.compile("(?<![A-Za-z0-9_])" + prefix + "_(PREROUTING|OUTPUT|MATCH_IN|MATCH_OUT"
        + "|DIVERT|SRC_EXCL[46]|DST_EXCL[46]|IPPORT[46]|PORT|IP[46]|NET[46])(_T)?(?![A-Za-z0-9_])");
    Pattern nftTable = Pattern.compile("conduit_" + prefix.toLowerCase(java.util.Locale.ROOT) + "($|\\s)");
    for (String save : List.of("iptables-save", "ip6tables-save")) {
      for (String line : ns.run(save).split("\n")) {
        if (own.matcher(line).find() || line.contains("conduit:" + prefix + "\"")) {
          all.append(save).append(": ").append(line).append('\n');
        }
      }
    }
    for (String set : ns.run("ipset", "list", "-n").split("\n")) {
      if (own.matcher(set).matches()) {
        all.append("ipset: ").append(set).append('\n');
      }
    }
    for (String line : ns.run("nft", "list", "tables").split("\n")) {
      if (nftTable.matcher(line).find()) {
        all.append("nft: ").append(line).append('\n');
      }
    }
    for (String family : List.of("-4", "-6")) {
      for (String line : ns.run("ip", family, "rule", "show").split("\n")) {
        if (line.contains("lookup " + table)) {
          all.append("ip ").append(family).append(" rule: ").append(line).append('\n');
        }
      }
      String routes = ns.runner.run(Command.ignoringFailure("ip", family, "route", "show", "table",
          Integer.toString(table))).stdout();
      if (!routes.isBlank()) {
        all.append("ip ").append(family).append(" route: ").append(routes.strip()).append('\n');
      }
    }
    return all.toString();
  }

  static int count(String text, String regex) {
    Matcher m = Pattern.compile(regex, Pattern.MULTILINE).matcher(text);
    int n = 0;
    while (m.find()) {
      n++;
    }
    return n;
  }

  @ParameterizedTest
  @ValueSource(strings = {"iptables", "nftables"})
  void redirectApplyTwiceLeavesOneSetAndClearLeavesNothing(String name) throws Exception {
    try (NetNs ns = NetNs.create()) {
      NetfilterBackend backend = backend(name, ns.runner);
      CapturePlan plan = everything("CDT", CaptureMode.REDIRECT).build();
      backend.apply(plan);
      String once = installed(ns, "CDT", 100);
      backend.apply(plan);
      String twice = installed(ns, "CDT", 100);
      assertThat(twice).isEqualTo(once);
      if (name.equals("iptables")) {
        assertThat(count(twice, "^iptables-save: -A OUTPUT .*conduit:CDT")).isEqualTo(1);
        assertThat(count(twice, "^iptables-save: -A PREROUTING .*conduit:CDT")).isEqualTo(1);
        assertThat(count(twice, "^ip6tables-save: -A OUTPUT .*conduit:CDT")).isEqualTo(1);
        assertThat(twice).contains(
            "iptables-save: -A CDT_MATCH_OUT -p tcp -m set --match-set CDT_IPPORT4 dst,dst -j REDIRECT --to-ports 15001",
            "ip6tables-save: -A CDT_MATCH_IN -p tcp -m set --match-set CDT_NET6 dst -j REDIRECT --to-ports 15001",
            "ipset: CDT_PORT", "ipset: CDT_IP6", "ipset: CDT_SRC_EXCL4");
        assertThat(ns.run("ipset", "list", "CDT_PORT")).contains("8080", "9000");
        assertThat(ns.run("ipset", "list", "-n")).doesNotContain("_T\n");
      } else {
        assertThat(count(twice, "^nft: table inet conduit_cdt")).isEqualTo(1);
        String table = ns.run("nft", "list", "table", "inet", "conduit_cdt");
        assertThat(table).contains("redirect to :15001", "@dst_ipport4", "198.18.0.3 . 80",
            "fd00:1::/64");
        assertThat(backend.show("CDT")).contains("chain match_out");
      }
      backend.clear("CDT");
      assertThat(installed(ns, "CDT", 100)).isEmpty();
      backend.clear("CDT"); // clearing nothing is fine
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"iptables", "nftables"})
  void tproxyInstallsPolicyRoutingAndClearRemovesIt(String name) throws Exception {
    try (NetNs ns = NetNs.create()) {
      NetfilterBackend backend = backend(name, ns.runner);
      CapturePlan plan = everything("CDT", CaptureMode.TPROXY).routingTable(123)
          .routingRulePriority(1234).build();
      backend.apply(plan);
      backend.apply(plan);
      String state = installed(ns, "CDT", 123);
      assertThat(count(state, "^ip -4 rule: 1234:\\s+from all fwmark 0x1/0x1 lookup 123")).isEqualTo(1);
      assertThat(count(state, "^ip -6 rule: 1234:\\s+from all fwmark 0x1/0x1 lookup 123")).isEqualTo(1);
      assertThat(state).contains("ip -4 route: local default dev lo", "ip -6 route: local default dev lo");
      if (name.equals("iptables")) {
        assertThat(state).contains("-j TPROXY --on-port 15001", "--transparent -j CDT_DIVERT");
        assertThat(count(state, "^iptables-save: -A PREROUTING .*conduit:CDT")).isEqualTo(1);
      } else {
        assertThat(ns.run("nft", "list", "table", "inet", "conduit_cdt"))
            .contains("tproxy ip to :15001", "tproxy ip6 to :15001");
      }
      assertThat(backend.show("CDT")).contains("lookup 123");
      backend.clear("CDT");
      assertThat(installed(ns, "CDT", 123)).isEmpty();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"iptables", "nftables"})
  void twoPrefixesCoexistAndClearingOneKeepsTheOther(String name) throws Exception {
    try (NetNs ns = NetNs.create()) {
      NetfilterBackend backend = backend(name, ns.runner);
      backend.apply(everything("ONE", CaptureMode.REDIRECT).build());
      backend.apply(everything("ONE_B", CaptureMode.TPROXY).tproxyMark(0x2, 0x2).routingTable(101)
          .build());
      String one = installed(ns, "ONE", 100);
      String other = installed(ns, "ONE_B", 101);
      backend.clear("ONE");
      assertThat(installed(ns, "ONE", 100)).isEmpty();
      assertThat(installed(ns, "ONE_B", 101)).isEqualTo(other).isNotEmpty();
      assertThat(one).isNotEmpty();
      backend.clear("ONE_B");
      assertThat(installed(ns, "ONE_B", 101)).isEmpty();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"iptables", "nftables"})
  void applyReplacesStaleRulesOfAnotherModeOrSet(String name) throws Exception {
    try (NetNs ns = NetNs.create()) {
      NetfilterBackend backend = backend(name, ns.runner);
      // what a crashed conduit left behind: TPROXY with routes and more sets
      backend.apply(everything("CDT", CaptureMode.TPROXY).build());
      CapturePlan now = CapturePlan.builder().prefix("CDT").targetPort(15002)
          .captureAddress("198.18.0.7").families(IpFamily.IPV4).build();
      NetfilterBackend restarted = backend(name, ns.runner);
      restarted.apply(now);
      String state = installed(ns, "CDT", 100);
      Function<String, Boolean> has = state::contains;
      assertThat(has.apply("lookup 100")).as(state).isFalse();
      assertThat(state).doesNotContain("mangle", "TPROXY", "ip6tables-save", "CDT_PORT");
      if (name.equals("iptables")) {
        assertThat(state).contains("CDT_IP4 dst -j REDIRECT --to-ports 15002");
        assertThat(count(state, "^iptables-save: -A OUTPUT ")).isEqualTo(1);
        assertThat(count(state, "^ipset: ")).isEqualTo(1);
      } else {
        assertThat(ns.run("nft", "list", "table", "inet", "conduit_cdt"))
            .contains("redirect to :15002").doesNotContain("tproxy");
      }
      restarted.clear("CDT");
      assertThat(installed(ns, "CDT", 100)).isEmpty();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"iptables", "nftables"})
  void prerequisitesPassForAnAppliablePlan(String name) throws Exception {
    try (NetNs ns = NetNs.create()) {
      CapturePlan plan = everything("CDT", CaptureMode.TPROXY).build();
      ns.run("sysctl", "-w", "net.ipv4.ip_forward=1");
      ns.run("sysctl", "-w", "net.ipv6.conf.all.forwarding=1");
      assertThat(Prerequisites.check(plan, name, ns.runner)).isEmpty();
      ns.run("sysctl", "-w", "net.ipv4.ip_forward=0");
      assertThat(Prerequisites.check(plan, name, ns.runner))
          .extracting(Prerequisites.Problem::fix).containsExactly("sysctl -w net.ipv4.ip_forward=1");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"iptables", "nftables"})
  void killMinus9ThenRestartLeavesExactlyOneSet(String name) throws Exception {
    try (NetNs ns = NetNs.create()) {
      Process crashed = ns.java(ApplyAndWait.class, name, "CDT");
      try (java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(
          crashed.getInputStream(), java.nio.charset.StandardCharsets.UTF_8))) {
        assertThat(out.readLine()).isEqualTo("APPLIED");
      } finally {
        crashed.destroyForcibly(); // SIGKILL: no cleanup runs
        crashed.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
      }
      String leftover = installed(ns, "CDT", 100);
      assertThat(leftover).contains("lookup 100");
      NetfilterBackend restarted = backend(name, ns.runner);
      restarted.apply(everything("CDT", CaptureMode.TPROXY).build());
      assertThat(installed(ns, "CDT", 100)).isEqualTo(leftover);
      restarted.clear("CDT");
      assertThat(installed(ns, "CDT", 100)).isEmpty();
    }
  }
}
