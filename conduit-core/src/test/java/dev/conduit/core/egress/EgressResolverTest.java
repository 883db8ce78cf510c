package dev.conduit.core.egress;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.testing.Dnsmasq;
import dev.conduit.core.net.IpPrefixSet;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Re-resolution against a real dnsmasq whose answers the test changes, on a clock the test moves: new addresses
 * arrive at the next resolution, a vanished one stays through its grace period and then as long as a gateway reports
 * an established flow to it, an address two entries share stays while one has it, a DNS failure empties nothing, and
 * entries survive a restart of the server.
 */
class EgressResolverTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;

  @Test
  void followsDnsChangesWithGraceFlowsAndSharing() throws Exception {
    MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    try (Dnsmasq dns = Dnsmasq.start(dir, hosts("198.18.0.10", "198.18.0.10"), 30);
         EgressServer server = EgressServer.start(config(dns, clock).build())) {
      EgressEntry a = server.add(NewEntry.of("a.example.com"), "test");
      server.add(NewEntry.of("b.example.com"), "test");
      EgressEntry c = server.add(NewEntry.of("c.example.com"), "test");
      assertThat(allowed(server)).containsEntry("198.18.0.10", List.of("a.example.com", "b.example.com",
          "c.example.com")).containsKey("198.18.0.20");

      server.delete(c.id(), "test"); // a and b still have 198.18.0.10
      assertThat(allowed(server)).containsEntry("198.18.0.10", List.of("a.example.com", "b.example.com"));

      dns.hosts(hosts("198.18.0.11", null));
      dns.awaitAnswer("a.example.com", "198.18.0.11");
      dns.awaitAnswer("b.example.com", "198.18.0.20");
      server.runDueWork(); // not due yet: the TTL is 30 s
      assertThat(allowed(server)).doesNotContainKey("198.18.0.11");

      clock.advance(Duration.ofSeconds(31));
      server.runDueWork();
      assertThat(allowed(server)).containsKeys("198.18.0.10", "198.18.0.11", "198.18.0.20");
      EgressEntry resolved = entry(server, a.id());
      assertThat(resolved.addresses()).extracting(r -> r.address().toString() + "=" + r.state())
          .containsExactly("198.18.0.10=grace", "198.18.0.11=active");
      assertThat(resolved.addresses().get(0).graceUntil()).contains(clock.instant().plus(Duration.ofMinutes(10)));

      server.onReport("token:gw1", report("198.18.0.10"));
      clock.advance(Duration.ofMinutes(11));
      server.runDueWork();
      assertThat(allowed(server)).as("a report older than a minute holds nothing").doesNotContainKey("198.18.0.10");
      EgressEntry back = server.add(NewEntry.of("198.18.0.10"), "test"); // the next steps need it in grace again
      server.delete(back.id(), "test");
      dns.hosts(hosts("198.18.0.10", null));
      dns.awaitAnswer("a.example.com", "198.18.0.10");
      clock.advance(Duration.ofMinutes(6));
      server.runDueWork();
      dns.hosts(hosts("198.18.0.11", null));
      dns.awaitAnswer("a.example.com", "198.18.0.11");
      clock.advance(Duration.ofMinutes(6));
      server.runDueWork();
      assertThat(entry(server, a.id()).addresses()).extracting(r -> r.address().toString() + "=" + r.state())
          .containsExactly("198.18.0.10=grace", "198.18.0.11=active");
      clock.advance(Duration.ofMinutes(11));
      server.onReport("token:gw1", report("198.18.0.10")); // a gateway's fresh report: a flow uses it
      server.runDueWork();
      assertThat(allowed(server)).as("an established flow holds it").containsKey("198.18.0.10");

      server.onReport("token:gw1", report());
      server.runDueWork();
      assertThat(allowed(server)).doesNotContainKey("198.18.0.10").containsKeys("198.18.0.11", "198.18.0.20");

      dns.stop();
      clock.advance(Duration.ofMinutes(6));
      server.runDueWork();
      EgressEntry failed = entry(server, a.id());
      assertThat(failed.addresses()).extracting(r -> r.address().toString()).containsExactly("198.18.0.11");
      assertThat(failed.lastError()).hasValueSatisfying(e -> assertThat(e).contains("no answer"));
      assertThat(allowed(server)).containsKeys("198.18.0.11", "198.18.0.20");
    }
    try (Dnsmasq dns = Dnsmasq.start(dir, hosts("198.18.0.11", null), 30);
         EgressServer restarted = EgressServer.start(config(dns, clock).build())) {
      assertThat(restarted.entries()).extracting(e -> e.value().text()) // added in one millisecond of the clock
          .containsExactlyInAnyOrder("a.example.com", "b.example.com");
      assertThat(allowed(restarted)).containsKeys("198.18.0.11", "198.18.0.20");
    }
  }

  private EgressServerConfig.Builder config(Dnsmasq dns, MutableClock clock) {
    return EgressServerConfig.builder(StoreConfig.sqlite(dir.resolve("egress.db")).build())
        .bind(new InetSocketAddress("127.0.0.1", 0))
        .dnsServers(List.of(dns.address()))
        .allowedSpecial(IpPrefixSet.parse("198.18.0.0/15"))
        .gracePeriod(Duration.ofMinutes(10))
        .clock(clock)
        .tickInterval(Duration.ofHours(1)); // the test runs the due work itself
  }

  private static String hosts(String a, String bShared) {
    return "198.18.0.10 c.example.com\n" + a + " a.example.com\n198.18.0.20 b.example.com\n"
        + (bShared == null ? "" : bShared + " b.example.com\n");
  }

  private static ObjectNode report(String... activeFlows) {
    ObjectNode r = JSON.createObjectNode().put("type", "egress-gateway").put("mode", "enforce");
    r.putArray("counters");
    var flows = r.putArray("activeFlows");
    for (String f : activeFlows) {
      flows.add(f);
    }
    r.putArray("denied");
    return r;
  }

  private static Map<String, List<String>> allowed(EgressServer server) {
    return server.effectiveAllowlist().entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey,
        e -> {
          List<String> names = new java.util.ArrayList<>();
          e.getValue().get("entries").forEach(n -> names.add(n.asText()));
          return names;
        }));
  }

  private static EgressEntry entry(EgressServer server, String id) {
    return server.entries().stream().filter(e -> e.id().equals(id)).findFirst().orElseThrow();
  }
}
