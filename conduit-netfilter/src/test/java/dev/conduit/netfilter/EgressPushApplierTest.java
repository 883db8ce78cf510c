package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.control.push.PushUpdate;
import dev.conduit.core.net.IpPrefixSet;
import dev.conduit.core.testing.CapturedLog;
import ch.qos.logback.classic.Level;
import dev.conduit.netfilter.egress.Allowlist;
import dev.conduit.netfilter.egress.EgressGateway;
import dev.conduit.netfilter.egress.EgressGatewayConfig;
import dev.conduit.netfilter.egress.EgressL7Check;
import dev.conduit.netfilter.egress.EgressPushApplier;
import dev.conduit.netfilter.egress.EgressStateFile;
import dev.conduit.netfilter.testing.NetNs;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The egress server's pushed allowlist installed on a gateway in a namespace: additions and removals
 * as one diff, a bad state refused whole with the previous allowlist still enforced. Needs root and nft.
 */
class EgressPushApplierTest {

  @BeforeAll
  static void requireRoot() {
    NetNs.requireRootAnd("nft", "ip");
  }

  static PushState state(long version, String... entries) {
    Map<String, JsonNode> resources = new LinkedHashMap<>();
    for (String e : entries) {
      resources.put(e, JsonNodeFactory.instance.objectNode().put("source", "test"));
    }
    return PushState.of(version, resources);
  }

  @Test
  void installsPushedStatesAsDiffsAndRefusesABadOneWhole(@TempDir Path dir) throws Exception {
    try (NetNs ns = NetNs.create()) {
      ns.run("sysctl", "-qw", "net.ipv4.ip_forward=1");
      EgressStateFile file = new EgressStateFile(dir.resolve("allowlist"));
      try (EgressGateway gw = EgressGateway.install(EgressGatewayConfig.builder().table("push_t")
          .protectedNetwork("198.18.0.0/24").build(), Allowlist.empty(), ns.runner)) {
        EgressPushApplier applier = new EgressPushApplier(gw, IpPrefixSet.empty(), Optional.of(file));
        PushState v1 = state(1, "8.8.8.8", "2606:4700::/32");
        assertThat(applier.apply(new PushUpdate(PushUpdate.Kind.SNAPSHOT, v1, PushState.empty(),
            Optional.empty()))).isEqualTo(v1.hash());
        assertThat(ns.run("nft", "list", "set", "inet", "push_t", "allow4_out")).contains("8.8.8.8");
        PushState v2 = state(2, "1.1.1.1", "2606:4700::/32");
        assertThat(applier.apply(new PushUpdate(PushUpdate.Kind.DELTA, v2, v1, Optional.of(v1.diff(v2)))))
            .isEqualTo(v2.hash());
        assertThat(ns.run("nft", "list", "set", "inet", "push_t", "allow4_out")).contains("1.1.1.1")
            .doesNotContain("8.8.8.8");
        assertThat(file.load(IpPrefixSet.empty()).orElseThrow().entries()).hasSize(2);
        PushState bad = state(3, "1.1.1.1", "10.0.0.1", "127.1");
        assertThatThrownBy(() -> applier.apply(new PushUpdate(PushUpdate.Kind.DELTA, bad, v2,
            Optional.of(v2.diff(bad)))))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("allowlist version 3 refused")
            .hasMessageContaining("10.0.0.1 is private").hasMessageContaining("127.1");
        assertThat(gw.allowlist()).isEqualTo(file.load(IpPrefixSet.empty()).orElseThrow());
        assertThat(ns.run("nft", "list", "set", "inet", "push_t", "allow4_out")).contains("1.1.1.1");
      }
    }
  }

  @Test
  void wildcardsReachTheL7CheckAndWithoutOneAreEnforcedAsNothingWithAWarning(@TempDir Path dir) throws Exception {
    try (NetNs ns = NetNs.create()) {
      ns.run("sysctl", "-qw", "net.ipv4.ip_forward=1");
      EgressGatewayConfig config = EgressGatewayConfig.builder().table("push_w").protectedNetwork("198.18.0.0/24")
          .build();
      Map<String, JsonNode> resources = new LinkedHashMap<>();
      resources.put("8.8.8.8", JsonNodeFactory.instance.objectNode().set("entries",
          JsonNodeFactory.instance.arrayNode().add("dns.example.com")));
      resources.put("*.example.org", JsonNodeFactory.instance.objectNode().set("entries",
          JsonNodeFactory.instance.arrayNode().add("*.example.org")));
      PushState v1 = PushState.of(1, resources);
      PushUpdate update = new PushUpdate(PushUpdate.Kind.SNAPSHOT, v1, PushState.empty(), Optional.empty());
      try (EgressGateway gw = EgressGateway.install(config, Allowlist.empty(), ns.runner);
          CapturedLog log = CapturedLog.of(EgressPushApplier.class.getName(), Level.WARN)) {
        new EgressPushApplier(gw, IpPrefixSet.empty(), Optional.empty()).apply(update);
        assertThat(gw.allowlist().toText()).isEqualTo("8.8.8.8\n");
        assertThat(log.events()).singleElement().satisfies(e -> assertThat(e.getFormattedMessage())
            .isEqualTo("egress allowlist version 1: wildcard entries [*.example.org] are not enforced by this"
                + " gateway: without the L7 check (--l7-check) a wildcard allows no address"));
      }
      try (EgressL7Check l7 = EgressL7Check.builder().bind(new java.net.InetSocketAddress("127.0.0.1", 0)).build();
          EgressGateway gw = EgressGateway.install(EgressGatewayConfig.builder().table("push_w")
              .protectedNetwork("198.18.0.0/24").l7CheckPort(l7.address().getPort()).build(), Allowlist.empty(),
              ns.runner)) {
        assertThat(ns.run("nft", "list", "table", "inet", "push_w_l7")).contains("redirect to :"
            + l7.address().getPort()).contains("tcp dport { 80, 443 }");
        EgressStateFile file = new EgressStateFile(dir.resolve("allowlist"));
        new EgressPushApplier(gw, IpPrefixSet.empty(), Optional.of(file), Optional.of(l7)).apply(update);
        assertThat(l7.names().wildcards()).containsExactly("*.example.org");
        assertThat(l7.names().domains()).containsOnlyKeys("dns.example.com");
        // kept beside the allowlist, for a restarted gateway's L7 check
        assertThat(file.loadNames()).contains(l7.names());
      }
      assertThat(ns.run("nft", "list", "tables")).doesNotContain("push_w");
    }
  }
}
