package dev.conduit.netfilter.egress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.control.push.PushUpdate;
import dev.conduit.core.net.IpAddress;
import dev.conduit.core.net.IpPrefix;
import dev.conduit.core.net.IpPrefixSet;
import dev.conduit.netfilter.egress.internal.AllowlistElements;
import dev.conduit.netfilter.egress.internal.AllowlistElements.PortElement;
import dev.conduit.netfilter.egress.internal.EgressNft;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Per-entry ports: the allowlist's union rules, the nft set elements they make, and how they travel. */
class AllowlistPortsTest {

  private static Allowlist parse(String text) {
    return Allowlist.parse(text, IpPrefixSet.empty());
  }

  private static IpPrefix p(String text) {
    return IpPrefix.parse(text);
  }

  @Test
  void anEntryAddedTwiceKeepsTheUnionOfItsPortsAndEveryPortWins() {
    Allowlist a = parse("8.8.8.8 443\n8.8.8.8 80,443\n1.1.1.1 53\n1.1.1.1\n9.9.9.9\n9.9.9.9 853\n");
    assertThat(a.ports(p("8.8.8.8"))).containsExactly(80, 443);
    assertThat(a.ports(p("1.1.1.1"))).isEmpty();
    assertThat(a.ports(p("9.9.9.9"))).isEmpty();
    assertThat(a.allows(IpAddress.parse("8.8.8.8"), 443)).isTrue();
    assertThat(a.allows(IpAddress.parse("8.8.8.8"), 8443)).isFalse();
    assertThat(a.allows(IpAddress.parse("8.8.8.8"))).isTrue();
    assertThat(a.allows(IpAddress.parse("1.1.1.1"), 8443)).isTrue();
    assertThat(a.toText()).isEqualTo("1.1.1.1\n8.8.8.8 80,443\n9.9.9.9\n");
    assertThat(parse(a.toText())).isEqualTo(a);
    assertThat(a).isNotEqualTo(parse("1.1.1.1\n8.8.8.8\n9.9.9.9\n"));
    Allowlist copy = Allowlist.builder(IpPrefixSet.empty()).entries(a).entry(p("8.8.8.8"), List.of(22)).build();
    assertThat(copy.ports(p("8.8.8.8"))).containsExactly(22, 80, 443);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "8.8.8.8 0|ports: 0 (expected: 1-65535)",
      "8.8.8.8 70000|ports: 70000 (expected: 1-65535)",
      "8.8.8.8 https|ports: https (expected: port numbers 1-65535 separated by commas",
      "8.8.8.8 443,|ports:  (expected: port numbers",
      "8.8.8.8 443 80|(expected: an address or CIDR, optionally followed by ports such as 443,8443)",
      "10.0.0.1 443|10.0.0.1 is private"})
  void refusesBadPortsSayingWhy(String entry, String reason) {
    assertThatThrownBy(() -> Allowlist.builder(IpPrefixSet.empty()).entry(entry))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(reason);
  }

  @Test
  void aParsedFileNamesEveryBadLine() {
    assertThatThrownBy(() -> parse("8.8.8.8 443\n1.1.1.1 99999\n9.9.9.9 x\n"))
        .hasMessageContaining("line 2: ports: 99999").hasMessageContaining("line 3: ports: x");
  }

  @Test
  void elementsNeverOverlapWithinASet() {
    Allowlist a = parse("""
        8.8.8.0/24 443
        8.8.8.8 443,80
        8.8.8.9
        1.1.1.0/24
        1.1.1.1 443
        9.9.9.9 53
        2606:4700::/32 443
        2606:4700::1111 443,853
        2606:4700:1::/48
        2606:4700:1::1 443
        """);
    AllowlistElements e = AllowlistElements.of(a);
    // every port: the /24 and the address in another entry's prefix-with-ports both stand
    assertThat(e.anyPort()).containsExactly(p("1.1.1.0/24"), p("8.8.8.9/32"), p("2606:4700:1::/48"));
    // 8.8.8.8:443 lies in 8.8.8.0/24:443, 1.1.1.1:443 and 2606:4700:1::1:443 in every-port prefixes
    assertThat(e.ports()).containsExactly(new PortElement(p("8.8.8.0/24"), 443),
        new PortElement(p("8.8.8.8/32"), 80), new PortElement(p("9.9.9.9/32"), 53),
        new PortElement(p("2606:4700::/32"), 443), new PortElement(p("2606:4700::1111/128"), 853));
    assertThat(e.family(false).ports()).extracting(PortElement::toString)
        .containsExactly("2606:4700::/32 . 443", "2606:4700::1111 . 853");
    assertThat(AllowlistElements.of(Allowlist.empty())).isEqualTo(AllowlistElements.EMPTY);
  }

  @Test
  void aDiffDeletesBeforeAddingInBothKindsOfSet() {
    AllowlistElements before = AllowlistElements.of(parse("8.8.8.8 443\n8.8.4.4\n9.9.9.9 53\n"));
    // 8.8.8.8 goes from 443 to every port, 8.8.4.4 from every port to 853, 9.9.9.9:53 stays
    AllowlistElements after = AllowlistElements.of(parse("8.8.8.8\n8.8.4.4 853\n9.9.9.9 53\n2606:4700::1 443\n"));
    assertThat(EgressNft.diff("t", before, after)).isEqualTo("""
        delete element inet t allow4_out { 8.8.4.4 }
        delete element inet t allow4p_out { 8.8.8.8 . 443 }
        delete element inet t allow4_in { 8.8.4.4 }
        delete element inet t allow4p_in { 8.8.8.8 . 443 }
        add element inet t allow4_out { 8.8.8.8 }
        add element inet t allow4p_out { 8.8.4.4 . 853 }
        add element inet t allow4_in { 8.8.8.8 }
        add element inet t allow4p_in { 8.8.4.4 . 853 }
        add element inet t allow6p_out { 2606:4700::1 . 443 }
        add element inet t allow6p_in { 2606:4700::1 . 443 }
        """);
    assertThat(EgressNft.diff("t", after, after)).isEmpty();
  }

  @Test
  void theTableHoldsBothKindsOfSetAndLooksUpPortsOfTcpAndUdp() {
    EgressGatewayConfig config = EgressGatewayConfig.builder().table("t").protectedNetwork("10.0.0.0/8").build();
    String table = EgressNft.replace(config, AllowlistElements.of(parse("8.8.8.8 443\n1.1.1.1\n")));
    assertThat(table)
        .contains("set allow4_out { type ipv4_addr; flags interval; counter; elements = { 1.1.1.1 }; }")
        .contains("set allow4p_out { type ipv4_addr . inet_service; flags interval; counter;"
            + " elements = { 8.8.8.8 . 443 }; }")
        .contains("set allow6p_in { type ipv6_addr . inet_service; flags interval; counter; }")
        .contains("ip saddr @clients4 meta l4proto { tcp, udp } ip daddr . th dport @allow4p_out accept")
        .contains("ip daddr @clients4 meta l4proto { tcp, udp } ip saddr . th sport @allow4p_in accept")
        .contains("ip6 saddr @clients6 meta l4proto { tcp, udp } ip6 daddr . th dport @allow6p_out accept");
    // the allowlist rules come before the established-flow accept, so both directions count
    assertThat(table.indexOf("@allow4p_in accept")).isLessThan(table.indexOf("ct state established"));
  }

  @Test
  void countersOfPortElementsAddUpPerAddress() {
    String ports = """
        table inet t {
        	set allow4p_out {
        		type ipv4_addr . inet_service
        		flags interval
        		counter
        		elements = { 198.18.1.0/24 . 443 counter packets 3 bytes 300,
        			     198.18.2.7 . 8443 counter packets 1 bytes 60,
        			     198.18.2.7 . 443 counter packets 2 bytes 120 }
        	}
        }
        """;
    assertThat(EgressNft.portCounters(ports).get(new PortElement(p("198.18.2.7"), 8443))).containsExactly(1, 60);
    assertThat(EgressNft.counters(ports).get(p("198.18.2.7"))).containsExactly(3, 180);
    String any = "elements = { 198.18.3.3 counter packets 5 bytes 500 }";
    String back = "elements = { 198.18.2.7 . 443 counter packets 4 bytes 4000 }";
    List<AddressCounters> joined = EgressNft.join(List.of(any, ports), List.of("", back));
    assertThat(joined).containsExactly(new AddressCounters(p("198.18.1.0/24"), 3, 300, 0, 0),
        new AddressCounters(p("198.18.2.7"), 3, 180, 4, 4000), new AddressCounters(p("198.18.3.3"), 5, 500, 0, 0));
  }

  private static PushUpdate snapshot(Map<String, JsonNode> resources) {
    return new PushUpdate(PushUpdate.Kind.SNAPSHOT, PushState.of(1, resources), PushState.empty(), Optional.empty());
  }

  @Test
  void pushedValuesCarryThePortsAndValuesWithoutPortsAllowEveryPort() {
    JsonNodeFactory json = JsonNodeFactory.instance;
    Map<String, JsonNode> resources = new LinkedHashMap<>();
    ObjectNode withPorts = json.objectNode();
    withPorts.putArray("entries").add("api.example.com");
    withPorts.putArray("ports").add(443).add(8443);
    withPorts.put("comingInALaterVersion", true); // unknown fields are ignored
    resources.put("8.8.8.8", withPorts);
    ObjectNode noPorts = json.objectNode();
    noPorts.putArray("entries").add("1.1.1.1");
    noPorts.putArray("ports");
    resources.put("1.1.1.1", noPorts);
    resources.put("9.9.9.9", json.objectNode().put("source", "an older server")); // no ports field
    resources.put("2606:4700::/32", json.nullNode());
    Allowlist a = EgressPushApplier.allowlist(snapshot(resources), IpPrefixSet.empty());
    assertThat(a.ports(p("8.8.8.8"))).containsExactly(443, 8443);
    assertThat(a.ports(p("1.1.1.1"))).isEmpty();
    assertThat(a.ports(p("9.9.9.9"))).isEmpty();
    assertThat(a.ports(p("2606:4700::/32"))).isEmpty();
    assertThat(a.size()).isEqualTo(4);
  }

  @Test
  void pushedBadPortsRefuseTheStateNamingThem() {
    JsonNodeFactory json = JsonNodeFactory.instance;
    Map<String, JsonNode> resources = new LinkedHashMap<>();
    ObjectNode bad = json.objectNode();
    bad.putArray("ports").add(443).add(70000);
    resources.put("8.8.8.8", bad);
    resources.put("1.1.1.1", json.objectNode().put("ports", "443"));
    ObjectNode text = json.objectNode();
    text.putArray("ports").add("443");
    resources.put("9.9.9.9", text);
    assertThatThrownBy(() -> EgressPushApplier.allowlist(snapshot(resources), IpPrefixSet.empty()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("8.8.8.8: ports: 70000 (expected: 1-65535)")
        .hasMessageContaining("1.1.1.1: ports: \"443\" (expected: an array of port numbers 1-65535)")
        .hasMessageContaining("9.9.9.9: ports: \"443\" (expected: 1-65535)");
  }
}
