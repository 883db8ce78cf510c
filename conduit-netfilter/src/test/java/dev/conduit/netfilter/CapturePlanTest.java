package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class CapturePlanTest {

  private static CapturePlan.Builder base() {
    return CapturePlan.builder().targetPort(15001);
  }

  @Test
  void validatesInput() {
    assertThatThrownBy(() -> base().prefix("conduit"))
        .hasMessage("prefix: conduit (expected: [A-Z][A-Z0-9_]*, at most 16 characters)");
    assertThatThrownBy(() -> base().prefix("ABCDEFGHIJKLMNOPQ")).hasMessageStartingWith("prefix:");
    assertThatThrownBy(() -> base().targetPort(70000)).hasMessage("port: 70000 (expected: 1-65535)");
    assertThatThrownBy(() -> CapturePlan.builder().capturePort(80).build())
        .hasMessage("targetPort: not set (expected: 1-65535)");
    assertThatThrownBy(() -> base().build()).hasMessageStartingWith("capture: nothing to capture");
    assertThatThrownBy(() -> base().captureAddress("example.com"))
        .hasMessage("address: example.com (expected: an IPv4 or IPv6 literal)");
    assertThatThrownBy(() -> base().families(IpFamily.IPV4).captureAddress("fd00::2").build())
        .hasMessage("captureAddress: fd00:0:0:0:0:0:0:2 is IPV6 but the plan covers only [IPV4]");
    assertThatThrownBy(() -> base().captureEndpoint("fd00::2:80"))
        .hasMessageStartingWith("endpoint: fd00::2:80");
    assertThatThrownBy(() -> base().excludeOutputInterface("bad name"))
        .hasMessageStartingWith("interface: bad name");
    assertThatThrownBy(() -> base().mode(CaptureMode.TPROXY).capturePort(80).bypassMark(0x3)
        .build()).hasMessageContaining("contains the TPROXY mark 0x1/0x1");
    assertThatThrownBy(() -> base().capturePort(80).dnatAddress(java.net.InetAddress.getLoopbackAddress())
        .mode(CaptureMode.TPROXY).build()).hasMessageStartingWith("dnatAddress: only for REDIRECT");
    assertThatThrownBy(() -> base().capturePort(80).localCapture(false).build())
        .hasMessageStartingWith("hooks:");
    assertThatThrownBy(() -> PortRange.parse("90-80")).hasMessageStartingWith("port range: 90-80");
  }

  @Test
  void normalisesNetworksAndDeduplicates() {
    CapturePlan plan = base().captureNetwork("198.18.1.7/24").captureNetwork("198.18.1.0/24")
        .captureAddress("198.18.0.2").captureAddress("198.18.0.2").build();
    assertThat(plan.destinationNetworks()).containsExactly(IpNetwork.parse("198.18.1.0/24"));
    assertThat(plan.destinationAddresses()).hasSize(1);
    assertThat(IpNetwork.parse("fd00:1::9/64").toString()).isEqualTo("fd00:1::/64");
  }

  /**
   * Seed 000 let the last non-terminating MARK win. Here every REDIRECT match rule terminates and
   * every exclusion comes before every match, in each chain.
   */
  @Test
  void exclusionsComeFirstAndEveryMatchTerminates() {
    CapturePlan plan = base().captureEndpoint("198.18.0.3:80").capturePort(80)
        .captureAddress("198.18.0.2").captureNetwork("198.18.1.0/24")
        .excludeSource("198.18.5.0/24").excludeDestination("198.18.1.9/32").gatewayCapture(true)
        .families(IpFamily.IPV4).build();
    String payload = NetfilterBackend.iptables((a, s) -> {
      throw new AssertionError();
    }).plan(plan).get(1).stdin();
    for (String chain : List.of("CONDUIT_MATCH_OUT", "CONDUIT_MATCH_IN")) {
      List<String> rules = payload.lines().filter(l -> l.startsWith("-A " + chain + " "))
          .collect(Collectors.toList());
      assertThat(rules).hasSize(7);
      assertThat(rules.subList(0, 2)).allMatch(r -> r.endsWith("-j RETURN"));
      // named endpoints and addresses, then the host's own addresses return, then ports and networks
      assertThat(rules.subList(2, 4)).allMatch(r -> r.endsWith("-j REDIRECT --to-ports 15001"));
      assertThat(rules.get(4)).isEqualTo("-A " + chain + " -m addrtype --dst-type LOCAL -j RETURN");
      assertThat(rules.subList(5, 7)).allMatch(r -> r.endsWith("-j REDIRECT --to-ports 15001"));
    }
    assertThat(payload).doesNotContain("MARK");
  }
}
