package dev.conduit.netfilter.egress;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.net.IpAddress;
import dev.conduit.netfilter.egress.NameAllowlist.Verdict.Kind;
import dev.conduit.netfilter.egress.internal.FirstBytes;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The L7 check's rule and its reading of first bytes. */
class NameAllowlistTest {

  static final NameAllowlist NAMES = NameAllowlist.fromPushedState(L7HandlerTest.pushed());

  static NameAllowlist.Verdict check(String name, String destination) {
    return NAMES.check(Optional.ofNullable(name), IpAddress.parse(destination), 443);
  }

  @Test
  void readsDomainsWildcardsAndAddressEntriesFromThePushedState() {
    assertThat(NAMES.domains()).containsOnlyKeys("api.example.com");
    assertThat(NAMES.domains().get("api.example.com")).containsExactlyInAnyOrder(IpAddress.parse("198.51.100.10"),
        IpAddress.parse("2001:db8::10"));
    assertThat(NAMES.wildcards()).containsExactly("*.example.org");
    assertThat(NAMES.anyName()).hasSize(1);
    assertThat(NAMES.toString()).isEqualTo("NameAllowlist[1 domains, 1 wildcards, 1 address entries]");
  }

  @Test
  void aDomainPassesOnlyToItsOwnAddressesAndAnAddressEntryWhateverTheName() {
    assertThat(check("api.example.com", "198.51.100.10").kind()).isEqualTo(Kind.ALLOWED);
    assertThat(check("API.Example.COM.", "2001:db8::10").kind()).isEqualTo(Kind.ALLOWED);
    // domain fronting: an allowed name to an unrelated address
    assertThat(check("api.example.com", "198.51.100.99"))
        .isEqualTo(new NameAllowlist.Verdict(Kind.DENIED, "198.51.100.99 is not an address of api.example.com"));
    // shared address: another name to an allowlisted address
    assertThat(check("other.example.com", "198.51.100.10"))
        .isEqualTo(new NameAllowlist.Verdict(Kind.DENIED, "other.example.com is not allowlisted"));
    assertThat(check(null, "198.51.100.10").kind()).isEqualTo(Kind.DENIED);
    assertThat(check(null, "192.0.2.77").kind()).isEqualTo(Kind.ALLOWED);
    assertThat(check("anything.example", "192.0.2.77").kind()).isEqualTo(Kind.ALLOWED);
  }

  @Test
  void aWildcardCoversNamesBelowItsSuffixOnly() {
    assertThat(check("a.example.org", "198.51.100.10"))
        .isEqualTo(new NameAllowlist.Verdict(Kind.RESOLVE, "a.example.org is below *.example.org"));
    assertThat(check("x.y.example.org", "198.51.100.10").kind()).isEqualTo(Kind.RESOLVE);
    assertThat(check("example.org", "198.51.100.10").kind()).isEqualTo(Kind.DENIED);
    assertThat(check("badexample.org", "198.51.100.10").kind()).isEqualTo(Kind.DENIED);
    assertThat(check("example.net", "198.51.100.10").kind()).isEqualTo(Kind.DENIED);
    assertThat(NAMES.wildcardOf("A.Example.Org.")).contains("*.example.org");
    assertThat(NameAllowlist.isWildcard("*.example.org")).isTrue();
    assertThat(NameAllowlist.isWildcard("*.")).isFalse();
    assertThat(NameAllowlist.isWildcard("198.51.100.10")).isFalse();
  }

  @Test
  void anAllowlistOfAddressesAloneAllowsItsAddressesWhateverTheName() {
    NameAllowlist names = NameAllowlist.ofAddresses(Allowlist.builder(dev.conduit.core.net.IpPrefixSet.empty())
        .entry("8.8.8.8").build());
    assertThat(names.check(Optional.of("x.test"), IpAddress.parse("8.8.8.8"), 443).kind()).isEqualTo(Kind.ALLOWED);
    assertThat(names.check(Optional.of("x.test"), IpAddress.parse("8.8.4.4"), 443).kind()).isEqualTo(Kind.DENIED);
    assertThat(NameAllowlist.empty().check(Optional.of("x.test"), IpAddress.parse("8.8.8.8"), 443).kind())
        .isEqualTo(Kind.DENIED);
  }

  @Test
  void theEntriesPortsHoldForTheL7CheckAsForTheAddressSets() {
    java.util.Map<String, com.fasterxml.jackson.databind.JsonNode> pushed = new java.util.LinkedHashMap<>();
    pushed.put("198.51.100.10", L7HandlerTest.value("api.example.com").set("ports",
        com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.arrayNode().add(443)));
    pushed.put("192.0.2.0/24", L7HandlerTest.value("192.0.2.0/24").set("ports",
        com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.arrayNode().add(80)));
    pushed.put("*.example.org", L7HandlerTest.value("*.example.org").set("ports",
        com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.arrayNode().add(443)));
    NameAllowlist names = NameAllowlist.fromPushedState(pushed);
    IpAddress api = IpAddress.parse("198.51.100.10");
    assertThat(names.check(Optional.of("api.example.com"), api, 443).kind()).isEqualTo(Kind.ALLOWED);
    assertThat(names.check(Optional.of("api.example.com"), api, 80)).isEqualTo(new NameAllowlist.Verdict(
        Kind.DENIED, "port 80 is not allowlisted for api.example.com at 198.51.100.10"));
    assertThat(names.allowsAnyName(IpAddress.parse("192.0.2.9"), 80)).isTrue();
    assertThat(names.allowsAnyName(IpAddress.parse("192.0.2.9"), 443)).isFalse();
    assertThat(names.check(Optional.of("x.test"), IpAddress.parse("192.0.2.9"), 443).kind()).isEqualTo(Kind.DENIED);
    assertThat(names.check(Optional.of("a.example.org"), api, 443).kind()).isEqualTo(Kind.RESOLVE);
    assertThat(names.check(Optional.of("a.example.org"), api, 80)).isEqualTo(new NameAllowlist.Verdict(Kind.DENIED,
        "port 80 is not allowlisted for *.example.org"));
    assertThat(names.toText()).isEqualTo("domain api.example.com 198.51.100.10\nwildcard *.example.org 443\n"
        + "any 192.0.2.0/24\nports 192.0.2.0/24 80\nports 198.51.100.10 443\n");
    assertThat(NameAllowlist.parse(names.toText())).isEqualTo(names);
    assertThat(NameAllowlist.ofAddresses(dev.conduit.netfilter.egress.Allowlist.builder(
        dev.conduit.core.net.IpPrefixSet.empty()).entry(dev.conduit.core.net.IpPrefix.parse("8.8.8.8"), List.of(53))
        .build()).allowsAnyName(IpAddress.parse("8.8.8.8"), 443)).isFalse();
  }

  @Test
  void keptAsTextAndReadBack() {
    assertThat(NAMES.toText()).isEqualTo("domain api.example.com 198.51.100.10 2001:db8::10\n"
        + "wildcard *.example.org\nany 192.0.2.0/24\n");
    assertThat(NameAllowlist.parse("# kept\n\n" + NAMES.toText())).isEqualTo(NAMES);
    assertThat(NameAllowlist.parse("")).isEqualTo(NameAllowlist.empty());
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> NameAllowlist.parse("wildcard example.org\n"))
        .hasMessage("line 1: expected: wildcard *.SUFFIX [PORT,...]");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> NameAllowlist.parse("any 10.0.0.1\ndomain x.test\n"))
        .hasMessage("line 2: a domain without addresses");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> NameAllowlist.parse("host x.test 1.2.3.4\n"))
        .hasMessage("line 1: expected: domain, wildcard, any or ports");
  }

  @Test
  void firstBytesSayWhenMoreAreNeededAndFindTheNameOfTlsAndHttp() throws Exception {
    byte[] hello = FlowParsingTest.clientHello("a.example.org");
    assertThat(FirstBytes.read(hello, false)).isEqualTo(new FirstBytes.Result(FirstBytes.Kind.TLS,
        Optional.of("a.example.org")));
    assertThat(FirstBytes.read(Arrays.copyOf(hello, 3), false).kind()).isEqualTo(FirstBytes.Kind.NEED_MORE);
    assertThat(FirstBytes.read(Arrays.copyOf(hello, 60), false).kind()).isEqualTo(FirstBytes.Kind.NEED_MORE);
    // a ClientHello split over two records names nothing (it is never read across a record boundary)
    int split = 5 + 60;
    byte[] twoRecords = new byte[hello.length + 5];
    System.arraycopy(hello, 0, twoRecords, 0, split);
    twoRecords[3] = 0;
    twoRecords[4] = 60;
    twoRecords[split] = 0x16;
    twoRecords[split + 1] = 0x03;
    twoRecords[split + 2] = 0x03;
    twoRecords[split + 3] = (byte) ((hello.length - split) >> 8);
    twoRecords[split + 4] = (byte) (hello.length - split);
    System.arraycopy(hello, split, twoRecords, split + 5, hello.length - split);
    assertThat(FirstBytes.read(twoRecords, false)).isEqualTo(new FirstBytes.Result(FirstBytes.Kind.TLS,
        Optional.empty()));
    // the limit reached within the record: decided on what there is
    assertThat(FirstBytes.read(Arrays.copyOf(hello, 60), true))
        .isEqualTo(new FirstBytes.Result(FirstBytes.Kind.TLS, Optional.empty()));
    assertThat(FirstBytes.read(bytes("GE"), false).kind()).isEqualTo(FirstBytes.Kind.NEED_MORE);
    assertThat(FirstBytes.read(bytes("GET / HTTP/1.1\r\nHost: h.test\r\n"), false).kind())
        .isEqualTo(FirstBytes.Kind.NEED_MORE);
    assertThat(FirstBytes.read(bytes("GET / HTTP/1.1\r\nHost: H.test:8080\r\n\r\n"), false))
        .isEqualTo(new FirstBytes.Result(FirstBytes.Kind.HTTP, Optional.of("h.test")));
    assertThat(FirstBytes.read(bytes("GET / HTTP/1.1\r\nHost: h.test\r\n"), true))
        .isEqualTo(new FirstBytes.Result(FirstBytes.Kind.HTTP, Optional.of("h.test")));
    assertThat(FirstBytes.read(bytes("GET / HTTP/1.1\r\n\r\n"), false))
        .isEqualTo(new FirstBytes.Result(FirstBytes.Kind.HTTP, Optional.empty()));
    // what the origin would route by: several Host headers, or a request target naming another server, name none
    assertThat(FirstBytes.read(bytes("GET / HTTP/1.1\r\nHost: api.example.com\r\nhost: evil.test\r\n\r\n"),
        false)).isEqualTo(new FirstBytes.Result(FirstBytes.Kind.HTTP, Optional.empty()));
    assertThat(FirstBytes.read(bytes("GET http://evil.test/x HTTP/1.1\r\nHost: api.example.com\r\n\r\n"),
        false).name()).isEmpty();
    assertThat(FirstBytes.read(bytes("GET http://u@API.example.com:80/x HTTP/1.1\r\nHost: api.example.com\r\n\r\n"),
        false).name()).contains("api.example.com");
    assertThat(FirstBytes.read(bytes("GET https://[2001:db8::1]/ HTTP/1.1\r\n\r\n"), false).name())
        .contains("2001:db8::1");
    assertThat(FirstBytes.read(bytes("CONNECT evil.test:443 HTTP/1.1\r\nHost: api.example.com\r\n\r\n"),
        false).name()).isEmpty();
    assertThat(FirstBytes.read(bytes("OPTIONS * HTTP/1.1\r\nHost: api.example.com\r\n\r\n"), false).name())
        .contains("api.example.com");
    assertThat(FirstBytes.read(bytes("SSH-2.0-x\r\n"), false).kind()).isEqualTo(FirstBytes.Kind.OTHER);
    assertThat(FirstBytes.read(bytes("get / HTTP/1.1\r\n"), false).kind()).isEqualTo(FirstBytes.Kind.OTHER);
    assertThat(FirstBytes.read(new byte[] {0x16, 0x01, 0, 0, 0}, false).kind()).isEqualTo(FirstBytes.Kind.OTHER);
    assertThat(FirstBytes.read(new byte[0], true).kind()).isEqualTo(FirstBytes.Kind.OTHER);
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }
}
