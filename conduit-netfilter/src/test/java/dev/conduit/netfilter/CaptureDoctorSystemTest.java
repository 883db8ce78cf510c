package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.testing.Poll;
import dev.conduit.netfilter.CaptureDoctor.Check;
import dev.conduit.netfilter.CaptureDoctor.Status;
import dev.conduit.netfilter.testing.NetNs;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link CaptureDoctor} on the real kernel: everything passes on this machine, live probes included;
 * then, inside a namespace with a TPROXY gateway installation, one prerequisite at a time is broken
 * and the report names exactly that one, with a fix command that (run as printed) repairs it. Needs
 * root, iptables, ipset, nft, ip and socat (skips elsewhere; under CI=true it fails instead).
 */
class CaptureDoctorSystemTest {

  @BeforeAll
  static void requireRoot() {
    NetNs.requireRootAnd("iptables-save", "ip6tables-save", "ipset", "nft", "ip", "socat");
  }

  @Test
  void everythingPassesOnThisMachineIncludingTheLiveProbes() throws Exception {
    List<Check> checks = CaptureDoctor.of(CommandRunner.system(), List.of(), true).run();
    assertThat(checks).filteredOn(c -> c.status() == Status.FAIL).isEmpty();
    assertThat(checks).filteredOn(c -> c.name().startsWith("probe ") && c.status() == Status.PASS)
        .extracting(Check::name).hasSize(6)
        .anyMatch(n -> n.contains("TPROXY UDP IPv4")).anyMatch(n -> n.contains("TPROXY UDP IPv6"))
        .anyMatch(n -> n.contains("TPROXY TCP IPv4")).anyMatch(n -> n.contains("TPROXY TCP IPv6"))
        .anyMatch(n -> n.contains("REDIRECT TCP IPv4")).anyMatch(n -> n.contains("REDIRECT TCP IPv6"));
    assertThat(checks).filteredOn(c -> c.name().startsWith("probe ") && c.status() == Status.PASS)
        .allMatch(c -> c.detail().startsWith("echoed through conduit"));
    assertThat(CaptureDoctor.healthy(checks)).isTrue();
  }

  @Test
  void eachBrokenPrerequisiteIsNamedExactlyAndItsFixRepairsIt() throws Exception {
    try (NetNs ns = NetNs.create()) {
      ns.run("sysctl", "-qw", "net.ipv4.ip_forward=1");
      NetfilterBackend.iptables(ns.runner).apply(CapturePlan.builder().prefix("DOC").mode(CaptureMode.TPROXY)
          .targetPort(15001).localCapture(false).gatewayCapture(true).captureNetwork("198.18.0.0/24").build());
      Process listener = new ProcessBuilder("ip", "netns", "exec", ns.name, "socat",
          "TCP6-LISTEN:15001,ipv6only=0,reuseaddr,fork", "EXEC:/bin/cat").start();
      try {
        awaitListening(ns, 15001);
        List<Check> healthy = checks(ns);
        assertThat(failures(healthy)).isEmpty();
        // the capture network holds the namespace's own 198.18.0.1: named, not failed
        assertThat(healthy).filteredOn(c -> c.status() == Status.WARN)
            .anyMatch(c -> c.name().equals("prefix DOC (iptables) capture network 198.18.0.0/24")
                && c.detail().contains("198.18.0.1"));

        ns.run("sysctl", "-qw", "net.ipv4.ip_forward=0");
        assertBrokenThenFixed(ns, "prefix DOC (iptables) forwarding IPV4", "sysctl -w net.ipv4.ip_forward=1");

        ns.run("ip", "-4", "route", "del", "local", "default", "dev", "lo", "table", "100");
        assertBrokenThenFixed(ns, "prefix DOC (iptables) ip -4 route table 100",
            "ip -4 route replace local 0.0.0.0/0 dev lo table 100");

        ns.run("ip", "-4", "rule", "del", "fwmark", "0x1/0x1", "lookup", "100");
        assertBrokenThenFixed(ns, "prefix DOC (iptables) ip -4 rule",
            "ip -4 rule add fwmark 0x1/0x1 lookup 100 priority 100");

        ns.run("iptables", "-t", "mangle", "-A", "PREROUTING", "-i", "cdt0", "-j", "MARK", "--set-mark", "0x1");
        assertBrokenThenFixed(ns, "prefix DOC (iptables) marks",
            "iptables -t mangle -D PREROUTING -i cdt0 -j MARK --set-xmark 0x1/0xffffffff");
      } finally {
        listener.destroyForcibly();
        listener.waitFor(10, TimeUnit.SECONDS);
      }
      List<Check> noListener = failures(checks(ns));
      assertThat(noListener).extracting(Check::name).containsExactly("prefix DOC (iptables) listener");
      assertThat(noListener.get(0).detail()).contains("port [15001]");
      assertThat(noListener.get(0).fix()).contains("conduit netfilter clear --prefix DOC");
    }
  }

  private static void assertBrokenThenFixed(NetNs ns, String name, String fix) throws Exception {
    List<Check> failed = failures(checks(ns));
    assertThat(failed).extracting(Check::name).containsExactly(name);
    String command = failed.get(0).fix();
    assertThat(command).startsWith(fix);
    ns.run(fix.split(" "));
    assertThat(failures(checks(ns))).as("after: %s", fix).isEmpty();
  }

  private static List<Check> checks(NetNs ns) throws NetfilterException {
    return CaptureDoctor.of(ns.runner, List.of("DOC"), false).run();
  }

  private static List<Check> failures(List<Check> checks) {
    return checks.stream().filter(c -> c.status() == Status.FAIL).toList();
  }

  private static void awaitListening(NetNs ns, int port) throws Exception {
    String hex = String.format(":%04X ", port);
    // socat says nothing when it listens: the namespace's socket table is the state to poll
    Poll.until("socat listening on " + port, Duration.ofSeconds(30), () -> {
      try {
        return (ns.run("cat", "/proc/net/tcp6") + ns.run("cat", "/proc/net/tcp")).lines()
            .anyMatch(l -> l.contains(hex) && l.contains(" 0A "));
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    });
  }
}
