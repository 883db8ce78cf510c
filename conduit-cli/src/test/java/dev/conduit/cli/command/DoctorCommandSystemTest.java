package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.Cli;
import dev.conduit.core.testing.MiniJson;
import dev.conduit.netfilter.testing.NetNs;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code conduit doctor} in a network namespace the test makes: JSON and human output, exit 0 when
 * nothing failed and 1 with the fix command when a prerequisite of installed rules is broken; the live
 * probes through the CLI's class path. Needs root, iptables, ipset, nft and ip (skips elsewhere; under
 * CI=true it fails instead).
 */
class DoctorCommandSystemTest {

  @BeforeAll
  static void requireRoot() {
    NetNs.requireRootAnd("iptables-save", "ip6tables-save", "ipset", "nft", "ip");
  }

  @Test
  @SuppressWarnings("unchecked")
  void jsonThenHumanOutputAndTheExitCodeFollowTheChecks() throws Exception {
    try (NetNs ns = NetNs.bare()) {
      Cli.Result clean = Cli.run(ns.runner, "doctor", "--no-probes", "--json");
      assertThat(clean.exitCode()).as("%s", clean).isZero();
      Map<String, Object> report = MiniJson.object(clean.out().strip());
      assertThat(report.get("ok")).isEqualTo(true);
      List<Map<String, Object>> checks = (List<Map<String, Object>>) report.get("checks");
      assertThat(checks).extracting(c -> c.get("name")).contains("sysctl net.ipv4.ip_forward", "iptables flavour",
          "conntrack", "policy routing", "marks in use");
      assertThat(checks).allMatch(c -> List.of("pass", "warn").contains(c.get("status")));

      // a gateway installation on a host that does not forward
      ns.run("sysctl", "-qw", "net.ipv4.ip_forward=1");
      assertThat(Cli.run(ns.runner, "netfilter", "apply", "--gateway", "--no-local", "--prefix", "DOC",
          "--port", "15001", "--capture-port", "80", "--ipv4").exitCode()).isZero();
      ns.run("sysctl", "-qw", "net.ipv4.ip_forward=0");
      Cli.Result broken = Cli.run(ns.runner, "doctor", "--no-probes", "--prefix", "DOC");
      assertThat(broken.exitCode()).as("%s", broken).isEqualTo(1);
      assertThat(broken.out()).contains("FAIL  prefix DOC (iptables) forwarding IPV4: net.ipv4.ip_forward=0"
          + " but the rules capture gateway traffic\n      fix: sysctl -w net.ipv4.ip_forward=1\n");
      assertThat(broken.out()).contains("FAIL  prefix DOC (iptables) listener");
      assertThat(broken.out().strip().lines().reduce((a, b) -> b).orElseThrow())
          .matches("2 of \\d+ checks failed \\(\\d+ warnings\\): run the fix commands above");
      Cli.Result badPrefix = Cli.run(ns.runner, "doctor", "--prefix", "bad-prefix");
      assertThat(badPrefix.exitCode()).isEqualTo(2);
      assertThat(badPrefix.errLines()).hasSize(1);
    }
  }

  @Test
  void liveProbesPassThroughTheCli() {
    Cli.Result r = Cli.run("doctor", "--json");
    assertThat(r.exitCode()).as("%s", r).isZero();
    assertThat(r.out()).contains("\"name\":\"probe TPROXY TCP IPv4 (iptables)\",\"status\":\"pass\"")
        .contains("\"name\":\"probe REDIRECT TCP IPv6 (iptables)\",\"status\":\"pass\"")
        .contains("\"name\":\"probe TPROXY UDP IPv4 (iptables)\",\"status\":\"pass\"");
  }
}
