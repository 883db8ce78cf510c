package dev.conduit.netfilter.mesh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.netfilter.IpNetwork;
import dev.conduit.netfilter.PortRange;
import org.junit.jupiter.api.Test;

/** The enforcement's nft payload and the config's refusals (the kernel's side is MeshEnforceSystemTest's). */
class InboundEnforcementConfigTest {

  @Test
  void payloadReplacesItsOwnTableAndRejectsOnlyWhatOthersOpenToTheEnforcedPorts() {
    InboundEnforcementConfig config = InboundEnforcementConfig.builder().port(PortRange.of(3306))
        .port(PortRange.parse("8000-8099")).allowSource(IpNetwork.parse("198.18.9.0/24"))
        .allowSource(IpNetwork.parse("fd00:9::/64")).build();
    String p = InboundEnforcement.payload(config);
    assertThat(p).startsWith("table inet conduit_enforce {}\ndelete table inet conduit_enforce\n")
        .contains("comment \"" + InboundEnforcement.OWNER + "\"")
        .contains("elements = { 3306, 8000-8099 }")
        .contains("set allowed4 { type ipv4_addr; flags interval; auto-merge; elements = { 198.18.9.0/24 } }")
        .contains("set allowed6 { type ipv6_addr; flags interval; auto-merge; elements = { fd00:9::/64 } }")
        .contains("iif \"lo\" accept\n")
        .contains("tcp dport @ports ct direction original reject with tcp reset\n");
    assertThat(p.indexOf("iif \"lo\" accept")).isLessThan(p.indexOf("reject"));
  }

  @Test
  void badInputGetsAClearMessage() {
    assertThatThrownBy(() -> InboundEnforcementConfig.builder().build())
        .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("enforce: no port");
    assertThatThrownBy(() -> InboundEnforcementConfig.builder().table("bad-name; flush ruleset"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("table: bad-name; flush ruleset (expected:");
    assertThatThrownBy(() -> PortRange.parse("70000")).isInstanceOf(IllegalArgumentException.class);
  }
}
