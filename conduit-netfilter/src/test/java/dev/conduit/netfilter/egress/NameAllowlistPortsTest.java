package dev.conduit.netfilter.egress;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.net.IpAddress;
import dev.conduit.core.net.IpPrefixSet;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The L7 check keeps the ports of entries with ports: a checked flow to another port is refused, as the forward
 * chain would refuse it.
 */
class NameAllowlistPortsTest {

  private static ObjectNode value(String entry, int... ports) {
    ObjectNode v = JsonNodeFactory.instance.objectNode();
    v.putArray("entries").add(entry);
    var array = v.putArray("ports");
    for (int p : ports) {
      array.add(p);
    }
    return v;
  }

  private static IpAddress a(String text) {
    return IpAddress.parse(text);
  }

  @Test
  void pushedPortsDecideTheCheckedPortsAndEveryPortWins() {
    Map<String, JsonNode> resources = new LinkedHashMap<>();
    resources.put("198.19.2.1", value("api.example.com", 443));
    resources.put("198.19.3.0/24", value("198.19.3.0/24", 443));
    resources.put("198.19.3.7", value("198.19.3.7")); // every port, inside the /24 that has ports
    resources.put("198.19.4.4", value("198.19.4.4"));
    resources.put("*.example.org", JsonNodeFactory.instance.objectNode());
    NameAllowlist names = NameAllowlist.fromPushedState(resources);
    assertThat(names.allowsPort(a("198.19.2.1"), 443)).isTrue();
    assertThat(names.allowsPort(a("198.19.2.1"), 80)).isFalse();
    assertThat(names.allowsPort(a("198.19.3.9"), 80)).isFalse();
    assertThat(names.allowsPort(a("198.19.3.7"), 80)).isTrue();
    assertThat(names.allowsPort(a("198.19.4.4"), 80)).isTrue();
    assertThat(names.allowsPort(a("198.19.9.9"), 80)).as("no entry holds it").isFalse();
    assertThat(names.wildcardPorts("*.example.org")).as("a wildcard's own ports: every port").isEmpty();
    // kept beside the state file and read back the same
    assertThat(names.toText()).contains("ports 198.19.2.1 443\n", "ports 198.19.3.0/24 443\n");
    NameAllowlist back = NameAllowlist.parse(names.toText());
    assertThat(back).isEqualTo(names);
    assertThat(back.allowsPort(a("198.19.2.1"), 80)).isFalse();
    assertThat(back.allowsPort(a("198.19.3.7"), 80)).isTrue();
  }

  @Test
  void anAllowlistOfAddressesCarriesItsPorts() {
    Allowlist list = Allowlist.parse("198.19.2.1 443,8443\n2606:4700::/32 443\n2606:4700::1\n",
        IpPrefixSet.parse("198.18.0.0/15"));
    NameAllowlist names = NameAllowlist.ofAddresses(list);
    assertThat(names.allowsPort(a("198.19.2.1"), 8443)).isTrue();
    assertThat(names.allowsPort(a("198.19.2.1"), 80)).isFalse();
    assertThat(names.allowsPort(a("2606:4700::2"), 80)).isFalse();
    assertThat(names.allowsPort(a("2606:4700::1"), 80)).isTrue();
    assertThat(NameAllowlist.ofAddresses(Allowlist.empty()).allowsPort(a("198.19.2.1"), 80)).isFalse();
  }
}
