package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.Cli;
import dev.conduit.netfilter.testing.NetNs;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code conduit netfilter apply|show|clear} for real, in a network namespace the test makes: show
 * and clear find the rules in whichever backend holds them; prerequisites are those of the families
 * captured. Needs root, iptables, ipset, nft and ip (skips elsewhere; under CI=true it fails instead).
 */
class NetfilterCommandSystemTest {

  @BeforeAll
  static void requireRoot() {
    NetNs.requireRootAnd("iptables-save", "ip6tables-save", "ipset", "nft", "ip");
  }

  @Test
  void showAndClearFindNftRulesWithoutBeingToldTheBackend() throws Exception {
    try (NetNs ns = NetNs.bare()) {
      Cli.Result applied = Cli.run(ns.runner, "netfilter", "apply", "--backend", "nft", "--prefix", "CLI",
          "--port", "15001", "--capture-port", "80");
      assertThat(applied.exitCode()).as("%s", applied).isZero();
      assertThat(applied.out()).contains("conduit netfilter clear --prefix CLI");

      Cli.Result shown = Cli.run(ns.runner, "netfilter", "show", "--prefix", "CLI");
      assertThat(shown.exitCode()).as("%s", shown).isZero();
      assertThat(shown.out()).contains("# nftables (conduit netfilter clear --prefix CLI --backend nft)")
          .contains("table inet conduit_cli");

      // applying with iptables replaces the nft rules: one set of rules per prefix
      Cli.Result moved = Cli.run(ns.runner, "netfilter", "apply", "--prefix", "CLI", "--port", "15001",
          "--capture-port", "80");
      assertThat(moved.out()).as("%s", moved).contains("cleared nftables rules of prefix CLI (replaced by iptables)");
      assertThat(ns.run("nft", "list", "tables")).doesNotContain("conduit_cli");
      assertThat(Cli.run(ns.runner, "netfilter", "show", "--prefix", "CLI").out())
          .contains("# iptables").contains("CLI_OUTPUT").doesNotContain("# nftables");

      Cli.run(ns.runner, "netfilter", "apply", "--backend", "nft", "--prefix", "CLI", "--port", "15001",
          "--capture-port", "80");
      Cli.Result cleared = Cli.run(ns.runner, "netfilter", "clear", "--prefix", "CLI");
      assertThat(cleared.exitCode()).isZero();
      assertThat(cleared.out()).isEqualTo("cleared nftables rules of prefix CLI\n");
      assertThat(ns.run("nft", "list", "tables")).doesNotContain("conduit_cli");
      assertThat(Cli.run(ns.runner, "netfilter", "show", "--prefix", "CLI").out())
          .isEqualTo("# nothing installed under prefix CLI\n");
      assertThat(Cli.run(ns.runner, "netfilter", "clear", "--prefix", "CLI").out())
          .isEqualTo("nothing installed under prefix CLI\n");
    }
  }

  @Test
  void ipv4OnlyGatewayCaptureNeedsNoIpv6Forwarding() throws Exception {
    try (NetNs ns = NetNs.bare()) {
      ns.run("sysctl", "-qw", "net.ipv4.ip_forward=1");
      ns.run("sysctl", "-qw", "net.ipv6.conf.all.forwarding=0");
      Cli.Result v4 = Cli.run(ns.runner, "netfilter", "apply", "--mode", "tproxy", "--gateway", "--no-local",
          "--prefix", "V4", "--port", "15001", "--capture-cidr", "198.18.0.0/24");
      assertThat(v4.exitCode()).as("%s", v4).isZero();
      assertThat(ns.run("ip", "-4", "rule", "show")).contains("lookup 100");
      assertThat(ns.run("ip", "-6", "rule", "show")).doesNotContain("lookup 100");
      Cli.run(ns.runner, "netfilter", "clear", "--prefix", "V4");

      // an IPv6 capture does need it, and says how to turn it on
      Cli.Result v6 = Cli.run(ns.runner, "netfilter", "apply", "--mode", "tproxy", "--gateway", "--no-local",
          "--prefix", "V6", "--port", "15001", "--capture-cidr", "fd00:1::/64");
      assertThat(v6.exitCode()).isEqualTo(1);
      assertThat(v6.err()).contains("net.ipv6.conf.all.forwarding=0")
          .contains("fix: sysctl -w net.ipv6.conf.all.forwarding=1").doesNotContain("ip_forward");
    }
  }
}
