package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.control.store.NodeRole;
import dev.conduit.core.mesh.MeshMember;
import dev.conduit.core.mesh.MeshMembership;
import dev.conduit.core.mesh.MeshTunnels;
import dev.conduit.core.testing.Poll;
import dev.conduit.netfilter.NetfilterBackend;
import dev.conduit.netfilter.testing.NetNs;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The mesh capture in a namespace of its own, with the real iptables and ipset: a membership change replaces the
 * sets, a flushed nat table is applied again with the current membership (not the first one), the repair is counted,
 * and the manager's address stays out of the sets. Needs root, ip, iptables and ipset (skips elsewhere; under CI=true
 * it fails instead).
 */
class MeshCaptureSystemTest {

  @BeforeAll
  static void requireRoot() {
    NetNs.requireRootAnd("ip", "iptables-save", "ipset");
  }

  private static MeshMembership membership(long version, String... addresses) throws Exception {
    List<InetAddress> list = new java.util.ArrayList<>();
    for (String a : addresses) {
      list.add(InetAddress.getByName(a));
    }
    MeshMember peer = new MeshMember("b", "spiffe://conduit.mesh/node/b", NodeRole.BOTH, list,
        Optional.of("198.18.7.2:5053"));
    return new MeshMembership(version, Map.of("b", peer), Set.of(), Set.of());
  }

  @Test
  void flushedRulesComeBackWithTheCurrentMembershipAndAreCounted() throws Exception {
    try (NetNs ns = NetNs.bare()) {
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      MeshTunnels tunnels = new MeshTunnels("a", () -> null, List::of);
      MeshCapture capture = new MeshCapture(tunnels, () -> List.of(new InetSocketAddress("127.0.0.1", 15090)),
          NetfilterBackend.iptables(ns.runner), ns.runner,
          () -> List.of(InetAddress.getLoopbackAddress(), ip("198.18.7.17")), registry, Duration.ofMillis(200));
      try {
        capture.membershipChanged(membership(1, "198.18.7.2"));
        capture.membershipChanged(membership(2, "198.18.7.3", "198.18.7.17")); // .17 is the manager's
        assertThat(ns.run("ipset", "list")).contains("198.18.7.3").doesNotContain("198.18.7.2")
            .doesNotContain("198.18.7.17");

        ns.run("iptables", "-t", "nat", "-F"); // another tool flushes the table under conduit
        await(() -> registry.find("conduit.capture.drift.repairs").tags("chain", "OUTPUT", "change", "missing")
            .functionCounter() != null, "a repair of OUTPUT counted");
        await(() -> {
          try {
            return ns.run("iptables-save", "-t", "nat").contains("-A OUTPUT");
          } catch (Exception e) {
            return false;
          }
        }, "the OUTPUT jump back");
        assertThat(ns.run("ipset", "list")).contains("198.18.7.3").doesNotContain("198.18.7.2");
        assertThat(registry.get("conduit.capture.drift.checks").functionCounter().count()).isPositive();

        capture.membershipChanged(membership(3)); // no member left: the rules go
        assertThat(ns.run("iptables-save", "-t", "nat")).doesNotContain("CONDUIT");
        assertThat(registry.get("conduit.capture.drift.checks").functionCounter().count()).isPositive();
      } finally {
        capture.close();
      }
      assertThat(ns.run("iptables-save", "-t", "nat")).doesNotContain("CONDUIT");
    }
  }

  private static InetAddress ip(String s) {
    try {
      return InetAddress.getByName(s);
    } catch (java.net.UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }

  private static void await(BooleanSupplier condition, String what) {
    Poll.until(what, Duration.ofSeconds(60), condition);
  }
}
