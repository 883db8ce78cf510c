package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.netfilter.egress.Allowlist;
import dev.conduit.netfilter.egress.EgressGateway;
import dev.conduit.netfilter.egress.EgressGatewayConfig;
import dev.conduit.netfilter.egress.EgressGatewayService;
import dev.conduit.netfilter.egress.EgressL7Check;
import dev.conduit.netfilter.egress.EgressL7CheckService;
import dev.conduit.netfilter.egress.EgressMetrics;
import dev.conduit.netfilter.egress.EgressMode;
import dev.conduit.core.net.IpPrefixSet;
import dev.conduit.netfilter.testing.NetNs;
import java.net.InetSocketAddress;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * A mode switch through {@link EgressGateway#mode(EgressMode)} at run time switches the L7 check's report-only
 * flag along, when the gateway's service was given the check (the real nft in a namespace the test made).
 */
class EgressL7ModeSwitchSystemTest {

  @Test
  void theL7CheckFollowsTheGatewaysModeBothWays() throws Exception {
    NetNs.requireRootAnd("nft", "ip");
    try (NetNs ns = NetNs.create()) {
      EgressGatewayConfig config = EgressGatewayConfig.builder().table("egress_m").protectedNetwork("198.18.0.0/24")
          .mode(EgressMode.ENFORCE).build();
      EgressL7CheckService l7 = new EgressL7CheckService(EgressL7Check.builder()
          .bind(new InetSocketAddress("127.0.0.1", 0)).reportOnly(true));
      EgressGatewayService service = new EgressGatewayService(config,
          Allowlist.builder(IpPrefixSet.empty()).entry("8.8.8.8").build(), ns.runner,
          new InetSocketAddress("127.0.0.1", 0), new EgressMetrics("gw-mode", 100), Optional.of(l7));
      l7.start();
      try {
        service.start();
        try {
          // the gateway's mode at start wins over the check's own setting
          assertThat(l7.check().reportOnly()).isFalse();

          service.gateway().mode(EgressMode.REPORT_ONLY);
          assertThat(service.gateway().config().mode()).isEqualTo(EgressMode.REPORT_ONLY);
          assertThat(l7.check().reportOnly()).isTrue();

          service.gateway().mode(EgressMode.ENFORCE);
          assertThat(l7.check().reportOnly()).isFalse();
          assertThat(ns.run("nft", "list", "table", "inet", "egress_m")).contains("drop");
        } finally {
          service.close();
        }
      } finally {
        l7.close();
      }
      assertThat(ns.run("nft", "list", "tables")).doesNotContain("egress_m");
    }
  }
}
