package dev.conduit.core.route;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.Destination;
import dev.conduit.core.internal.route.CidrSet;
import dev.conduit.core.internal.route.DomainSet;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class RouterTest {

  private static ConnectRequest request(String host, int port) {
    return request("socks", "127.0.0.1", host, port);
  }

  private static ConnectRequest request(String listener, String client, String host, int port) {
    ConnectionInfo info = new ConnectionInfo("1", listener, "socks", new InetSocketAddress(ip(client), 40000),
        new InetSocketAddress(ip("127.0.0.1"), 1080), Instant.now());
    return ConnectRequest.of(info, Destination.of(host, port));
  }

  private static InetAddress ip(String literal) {
    try {
      return InetAddress.getByName(literal);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static CidrSet cidrs(String... values) {
    CidrSet.Builder b = CidrSet.builder();
    for (String v : values) {
      b.add(v);
    }
    return b.build();
  }

  @Test
  void cidrSetV4() {
    CidrSet set = cidrs("10.0.0.0/8", "192.168.1.7", "172.16.0.0/12");
    assertThat(set.contains(ip("10.255.1.2"))).isTrue();
    assertThat(set.contains(ip("11.0.0.1"))).isFalse();
    assertThat(set.contains(ip("192.168.1.7"))).isTrue();
    assertThat(set.contains(ip("192.168.1.8"))).isFalse();
    assertThat(set.contains(ip("172.31.255.255"))).isTrue();
    assertThat(set.contains(ip("172.32.0.0"))).isFalse();
    assertThat(set.contains(ip("::1"))).isFalse();
    // non-canonical prefix: host bits are masked away
    assertThat(cidrs("10.1.2.3/8").contains(ip("10.200.0.1"))).isTrue();
  }

  @Test
  void cidrSetV6AndMapped() {
    CidrSet set = cidrs("fd00::/8", "2001:db8::1/128", "2001:db8:1::/48", "2001:db8:2:3:4::/65");
    assertThat(set.contains(ip("fd12:3456::1"))).isTrue();
    assertThat(set.contains(ip("fe80::1"))).isFalse();
    assertThat(set.contains(ip("2001:db8::1"))).isTrue();
    assertThat(set.contains(ip("2001:db8::2"))).isFalse();
    assertThat(set.contains(ip("2001:db8:1:ffff::9"))).isTrue();
    assertThat(set.contains(ip("2001:db8:2:3:4::1"))).isTrue();
    assertThat(set.contains(ip("2001:db8:2:3:8000::1"))).isFalse(); // bit 65 differs
    assertThat(set.contains(ip("10.0.0.1"))).isFalse();
    // an IPv4-mapped address matches the IPv4 prefix
    CidrSet v4 = cidrs("10.0.0.0/8");
    byte[] mapped = new byte[16];
    mapped[10] = (byte) 0xff;
    mapped[11] = (byte) 0xff;
    mapped[12] = 10;
    mapped[15] = 1;
    assertThat(v4.contains(inet6(mapped))).isTrue();
  }

  private static InetAddress inet6(byte[] b) {
    try {
      return java.net.Inet6Address.getByAddress(null, b, -1);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void cidrSetZeroPrefixes() {
    assertThat(cidrs("0.0.0.0/0").contains(ip("203.0.113.9"))).isTrue();
    assertThat(cidrs("0.0.0.0/0").contains(ip("2001:db8::1"))).isFalse();
    assertThat(cidrs("::/0").contains(ip("2001:db8::1"))).isTrue();
    assertThat(cidrs("::/0").contains(ip("203.0.113.9"))).isFalse();
    assertThat(CidrSet.empty().isEmpty()).isTrue();
  }

  @Test
  void cidrSetErrors() {
    assertThatThrownBy(() -> CidrSet.builder().add("10.0.0.0/33"))
        .hasMessage("cidr: 10.0.0.0/33 (expected: prefix length 0-32)");
    assertThatThrownBy(() -> CidrSet.builder().add("fd00::/129"))
        .hasMessage("cidr: fd00::/129 (expected: prefix length 0-128)");
    assertThatThrownBy(() -> CidrSet.builder().add("10.0.0.0/"))
        .hasMessage("cidr: 10.0.0.0/ (expected: prefix length 0-32)");
    assertThatThrownBy(() -> CidrSet.builder().add("example.com/8"))
        .hasMessage("cidr: example.com/8 (expected: an IPv4 or IPv6 prefix such as 10.0.0.0/8)");
    assertThatThrownBy(() -> CidrSet.builder().add("300.1.1.1"))
        .hasMessageStartingWith("cidr: 300.1.1.1 (expected:");
  }

  @Test
  void domainSetSuffixAtLabelBoundary() {
    DomainSet set = DomainSet.builder().addSuffix("quay.io").addSuffix("*.corp.example").addExact("exact.test").build();
    assertThat(set.matches("quay.io")).isTrue();
    assertThat(set.matches("cdn.quay.io")).isTrue();
    assertThat(set.matches("a.b.quay.io")).isTrue();
    assertThat(set.matches("evilquay.io")).isFalse();
    assertThat(set.matches("quay.io.evil.com")).isFalse();
    assertThat(set.matches("QUAY.IO.")).isTrue(); // case and trailing dot
    assertThat(set.matches("corp.example")).isTrue();
    assertThat(set.matches("x.corp.example")).isTrue();
    assertThat(set.matches("exact.test")).isTrue();
    assertThat(set.matches("exact.test.")).isTrue();
    assertThat(set.matches("sub.exact.test")).isFalse(); // exact is exact
    assertThat(set.matches("io")).isFalse();
  }

  @Test
  void domainSetErrors() {
    assertThatThrownBy(() -> DomainSet.builder().addExact("a..b"))
        .hasMessage("domain: a..b (expected: a DNS name such as example.com)");
    assertThatThrownBy(() -> DomainSet.builder().addSuffix("."))
        .hasMessage("domain:  (expected: a DNS name such as example.com)");
    assertThatThrownBy(() -> DomainSet.builder().addExact("has space.com"))
        .hasMessageStartingWith("domain: has space.com");
  }

  @Test
  void firstMatchingRuleWins() {
    Router router = Router.builder()
        .rule(Rule.builder("block-meta").destinationCidr("169.254.0.0/16").decision(RouteDecision.reject("metadata"))
            .build())
        .rule(Rule.builder("corp").domainSuffix("corp.example").destinationCidr("10.0.0.0/8")
            .decision(RouteDecision.via("corp-proxy")).build())
        .rule(Rule.builder("everything-else-v6").destinationCidr("::/0").decision(RouteDecision.via("v6")).build())
        .defaultDecision(RouteDecision.direct())
        .build();
    assertThat(router.route(request("169.254.169.254", 80)).rule()).isEqualTo("block-meta");
    assertThat(router.route(request("169.254.169.254", 80)).decision()).isInstanceOf(RouteDecision.Reject.class);
    assertThat(router.route(request("git.corp.example", 443)).decision()).isEqualTo(RouteDecision.via("corp-proxy"));
    assertThat(router.route(request("10.1.1.1", 443)).rule()).isEqualTo("corp");
    assertThat(router.route(request("2001:db8::1", 443)).rule()).isEqualTo("everything-else-v6");
    // names are not resolved for CIDR rules
    assertThat(router.route(request("example.com", 443)).rule()).isEqualTo(Router.DEFAULT_RULE);
    assertThat(router.route(request("example.com", 443)).decision()).isEqualTo(RouteDecision.direct());
    // a v4-mapped IPv6 destination is its IPv4 address
    assertThat(router.route(request("::ffff:10.2.3.4", 443)).rule()).isEqualTo("corp");
  }

  @Test
  void portsSourcesPrincipalsListeners() {
    Rule ports = Rule.builder("ports").port(443).portRange(8000, 8099).decision(RouteDecision.direct()).build();
    assertThat(ports.matches(request("a.test", 443))).isTrue();
    assertThat(ports.matches(request("a.test", 8000))).isTrue();
    assertThat(ports.matches(request("a.test", 8099))).isTrue();
    assertThat(ports.matches(request("a.test", 8100))).isFalse();
    assertThat(ports.matches(request("a.test", 80))).isFalse();
    Rule top = Rule.builder("top").port(65535).decision(RouteDecision.direct()).build();
    assertThat(top.matches(request("a.test", 65535))).isTrue();

    Rule source = Rule.builder("src").sourceCidr("192.0.2.0/24").sourceCidr("fd00::/8").decision(RouteDecision.direct())
        .build();
    assertThat(source.matches(request("socks", "192.0.2.9", "a.test", 80))).isTrue();
    assertThat(source.matches(request("socks", "198.51.100.1", "a.test", 80))).isFalse();
    assertThat(source.matches(request("socks", "fd00::5", "a.test", 80))).isTrue();

    Rule listener = Rule.builder("l").listener("mixed").decision(RouteDecision.direct()).build();
    assertThat(listener.matches(request("mixed", "127.0.0.1", "a.test", 80))).isTrue();
    assertThat(listener.matches(request("socks", "127.0.0.1", "a.test", 80))).isFalse();

    Rule principal = Rule.builder("p").principal("alice").decision(RouteDecision.direct()).build();
    assertThat(principal.matches(request("a.test", 80))).isFalse();
    assertThat(principal.matches(request("a.test", 80).withPrincipal("alice"))).isTrue();
    assertThat(principal.matches(request("a.test", 80).withPrincipal("bob"))).isFalse();

    // different kinds must all hold
    Rule both = Rule.builder("both").domainSuffix("corp.example").port(443).decision(RouteDecision.direct()).build();
    assertThat(both.matches(request("x.corp.example", 443))).isTrue();
    assertThat(both.matches(request("x.corp.example", 80))).isFalse();
    assertThat(both.matches(request("x.other.example", 443))).isFalse();

    // the sniffed host counts like a domain destination
    Rule sniff = Rule.builder("sniff").domain("api.example").decision(RouteDecision.direct()).build();
    assertThat(sniff.matches(request("203.0.113.5", 443).withSniffedHost("api.example"))).isTrue();
    assertThat(sniff.matches(request("203.0.113.5", 443))).isFalse();

    Rule all = Rule.builder("all").decision(RouteDecision.direct()).build();
    assertThat(all.matches(request("anything.test", 1))).isTrue();
  }

  @Test
  void ruleErrors() {
    assertThatThrownBy(() -> Rule.builder("r").portRange(10, 5))
        .hasMessage("port range: 10-5 (expected: 1 <= from <= to <= 65535)");
    assertThatThrownBy(() -> Rule.builder("r").port(0))
        .hasMessage("port range: 0-0 (expected: 1 <= from <= to <= 65535)");
    assertThatThrownBy(() -> Rule.builder("r").port(65536))
        .hasMessage("port range: 65536-65536 (expected: 1 <= from <= to <= 65535)");
    assertThatThrownBy(() -> Rule.builder("r").build())
        .hasMessage("rule r: no decision (expected: direct, via or reject)");
    assertThatThrownBy(() -> Rule.builder(" ")).hasMessage("name: blank (expected: a rule name)");
    assertThatThrownBy(() -> RouteDecision.via("")).hasMessage("outbound: blank (expected: an outbound name)");
  }
}
