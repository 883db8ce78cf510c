package dev.conduit.core.net;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class AddressClassifierTest {

  @ParameterizedTest
  @CsvSource({
      "8.8.8.8, PUBLIC", "1.1.1.1, PUBLIC", "172.64.0.1, PUBLIC", "172.128.0.1, PUBLIC",
      "192.0.0.9, PUBLIC", "0.0.0.0, UNSPECIFIED", "0.1.2.3, RESERVED", "10.1.2.3, PRIVATE",
      "100.64.0.1, SHARED", "100.127.255.255, SHARED", "100.128.0.0, PUBLIC", "127.0.0.1, LOOPBACK",
      "169.254.169.254, LINK_LOCAL", "172.16.0.1, PRIVATE", "172.31.255.255, PRIVATE",
      "172.32.0.0, PUBLIC", "192.0.0.1, RESERVED", "192.0.2.1, DOCUMENTATION",
      "192.88.99.1, RESERVED", "192.168.1.1, PRIVATE", "198.18.0.1, BENCHMARKING",
      "198.19.255.255, BENCHMARKING", "198.51.100.7, DOCUMENTATION", "203.0.113.9, DOCUMENTATION",
      "224.0.0.1, MULTICAST", "239.255.255.255, MULTICAST", "240.0.0.1, RESERVED",
      "255.255.255.255, BROADCAST",
      "2606:4700::1111, PUBLIC", "2001:4860:4860::8888, PUBLIC", "::, UNSPECIFIED", "::1, LOOPBACK",
      "fe80::1, LINK_LOCAL", "fd00::1, PRIVATE", "fc00::1, PRIVATE", "ff02::1, MULTICAST",
      "2001:db8::1, DOCUMENTATION", "3fff::1, DOCUMENTATION", "100::1, RESERVED", "2001:2::1, RESERVED",
      "2001:20::1, PUBLIC", "2001:1::1, PUBLIC", "5f00::1, RESERVED", "fec0::1, RESERVED",
      "4000::1, RESERVED"})
  void classifiesAfterTheIanaRegistries(String address, AddressCategory expected) {
    AddressClassification c = AddressClassifier.classify(IpAddress.parse(address));
    assertThat(c.category()).as(c.toString()).isEqualTo(expected);
    assertThat(c.isPublic()).isEqualTo(expected == AddressCategory.PUBLIC);
    assertThat(c.embedding()).isEmpty();
  }

  @ParameterizedTest
  @CsvSource({
      "::ffff:127.0.0.1, LOOPBACK, IPV4_MAPPED, 127.0.0.1",
      "::ffff:169.254.169.254, LINK_LOCAL, IPV4_MAPPED, 169.254.169.254",
      "::ffff:8.8.8.8, TRANSITION, IPV4_MAPPED, 8.8.8.8",
      "::127.0.0.1, LOOPBACK, IPV4_COMPATIBLE, 127.0.0.1",
      "::10.0.0.1, PRIVATE, IPV4_COMPATIBLE, 10.0.0.1",
      "64:ff9b::7f00:1, LOOPBACK, NAT64, 127.0.0.1",
      "64:ff9b::100.64.0.1, SHARED, NAT64, 100.64.0.1",
      "64:ff9b::8.8.8.8, TRANSITION, NAT64, 8.8.8.8",
      "64:ff9b:1::10.0.0.1, PRIVATE, NAT64_LOCAL, 10.0.0.1",
      "64:ff9b:1:a00:1:100::, PRIVATE, NAT64_LOCAL, 10.0.1.1",
      "2002:7f00:1::1, LOOPBACK, SIX_TO_FOUR, 127.0.0.1",
      "2002:c0a8:101::1, PRIVATE, SIX_TO_FOUR, 192.168.1.1",
      "2002:808:808::1, TRANSITION, SIX_TO_FOUR, 8.8.8.8",
      // Teredo: the client address is stored inverted (127.0.0.1 -> 80ff:fffe)
      "2001:0:808:808:0:0:80ff:fffe, LOOPBACK, TEREDO, 127.0.0.1",
      "2001:0:a00:1:0:0:f7f7:f7f7, PRIVATE, TEREDO, 10.0.0.1",
      "2001:0:808:808:0:0:f7f7:f7f7, TRANSITION, TEREDO, 8.8.8.8",
      "2a00:1450::5efe:127.0.0.1, LOOPBACK, ISATAP, 127.0.0.1",
      "2a00:1450::200:5efe:10.1.1.1, PRIVATE, ISATAP, 10.1.1.1",
      "2a00:1450::5efe:8.8.8.8, PUBLIC, ISATAP, 8.8.8.8"})
  void decodesTheIpv4InsideTransitionForms(String address, AddressCategory category,
      Embedding embedding, String carried) {
    AddressClassification c = AddressClassifier.classify(IpAddress.parse(address));
    assertThat(c.category()).as(c.toString()).isEqualTo(category);
    assertThat(c.embedding()).contains(embedding);
    assertThat(c.embeddedIpv4()).contains(IpAddress.parse(carried));
  }

  @ParameterizedTest
  @ValueSource(strings = {"0.0.0.0/0", "96.0.0.0/3", "172.0.0.0/8", "198.18.0.0/16", "::/0", "2000::/3",
      "2001::/16", "64:ff9b::/96", "::ffff:0:0/96", "10.0.0.0/8", "169.254.0.0/16"})
  void prefixesThatTouchSpecialSpaceAreNotPublic(String prefix) {
    assertThat(AddressClassifier.isPublic(IpPrefix.parse(prefix))).isFalse();
  }

  @ParameterizedTest
  @ValueSource(strings = {"8.8.8.0/24", "172.64.0.0/10", "172.128.0.0/9", "2606:4700::/32", "8.8.8.8",
      "2001:20::/28"})
  void publicPrefixes(String prefix) {
    assertThat(AddressClassifier.isPublic(IpPrefix.parse(prefix))).isTrue();
  }

  @Test
  void routedPublicPrefixesAreTheComplementOfTheRegistries() {
    IpPrefixSet routed = AddressClassifier.routedPublicPrefixes();
    List<IpPrefix> v4 = routed.ipv4().prefixes();
    List<IpPrefix> v6 = routed.ipv6().prefixes();
    assertThat(v4).hasSize(116);
    assertThat(v6).hasSize(45);
    for (String covered : List.of("172.64.0.0/10", "172.128.0.0/9", "1.0.0.0/8", "8.8.8.0/24",
        "100.128.0.0/9", "2606:4700::/32", "2400::/6")) {
      assertThat(routed.containsAll(IpPrefix.parse(covered))).as(covered).isTrue();
    }
    for (String excluded : List.of("10.0.0.1", "100.64.0.1", "127.0.0.1", "169.254.169.254",
        "172.16.0.1", "192.168.0.1", "192.0.0.9", "198.18.0.1", "224.0.0.1", "239.1.1.1", "240.0.0.1",
        "255.255.255.255", "0.0.0.0", "2001:db8::1", "2002::1", "2001::1", "3fff::1", "fd00::1",
        "fe80::1", "ff02::1", "::1", "64:ff9b::808:808")) {
      assertThat(routed.contains(IpAddress.parse(excluded))).as(excluded).isFalse();
    }
    // every routed address is public; the public space is the routed prefixes and a few global exceptions
    assertThat(AddressClassifier.publicSpace().subtract(routed))
        .isEqualTo(IpPrefixSet.parse("192.0.0.9/32", "192.0.0.10/32", "2001:1::1/128", "2001:1::2/127",
            "2001:3::/32", "2001:4:112::/48", "2001:20::/27"));
    assertThat(routed.subtract(AddressClassifier.publicSpace()).isEmpty()).isTrue();
    for (IpPrefix p : routed.prefixes()) {
      assertThat(AddressClassifier.isPublic(p.address())).as(p.toString()).isTrue();
    }
  }

  @Test
  void publicSpaceDiffersFromCpythonsTablesOnlyWhereConduitIsStricter() throws Exception {
    boolean python = new ProcessBuilder("sh", "-c", "command -v python3").start().waitFor() == 0;
    if (!python) {
      if ("true".equals(System.getenv("CI"))) {
        org.assertj.core.api.Assertions.fail("python3 is not installed (CI=true: test.sh installs it)");
      }
      org.junit.jupiter.api.Assumptions.assumeTrue(false, "python3 is not installed");
    }
    // the tables of the installed CPython's ipaddress module, one CIDR per line
    Process p = new ProcessBuilder("python3", "-c", String.join("\n",
        "import ipaddress as i",
        "for c in (i._IPv4Constants, i._IPv6Constants):",
        "  for n in c._private_networks: print('private', n)",
        "  for n in getattr(c, '_private_networks_exceptions', []): print('global', n)"))
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as(out).isZero();
    List<IpPrefix> privateNets = new java.util.ArrayList<>();
    List<IpPrefix> globalNets = new java.util.ArrayList<>();
    for (String line : out.split("\n")) {
      String[] f = line.strip().split(" ");
      (f[0].equals("private") ? privateNets : globalNets).add(IpPrefix.parse(f[1]));
    }
    assertThat(privateNets).contains(IpPrefix.parse("10.0.0.0/8"), IpPrefix.parse("fc00::/7"));
    IpPrefixSet cpython = IpPrefixSet.all().subtract(IpPrefixSet.of(privateNets))
        .union(IpPrefixSet.of(globalNets));
    IpPrefixSet ours = AddressClassifier.publicSpace();
    // conduit also refuses: shared (CGNAT) and multicast space, the deprecated 6to4 relay anycast,
    // IPv6 outside 2000::/3, and what older CPython releases did not list yet (all of 192.0.0.0/24
    // rather than its /29 and /31, 2002::/16, 3fff::/20, 5f00::/16)
    IpPrefixSet stricter = IpPrefixSet.parse("100.64.0.0/10", "224.0.0.0/4", "192.88.99.0/24",
        "192.0.0.0/24", "2002::/16", "3fff::/20", "5f00::/16").union(IpPrefixSet.parse("::/0").subtract(IpPrefixSet.parse("2000::/3")));
    assertThat(cpython.subtract(ours).subtract(stricter.subtract(IpPrefixSet.parse("192.0.0.9", "192.0.0.10")))
        .isEmpty())
        .as("public for CPython, not for conduit: %s", cpython.subtract(ours).subtract(stricter)).isTrue();
    // the registries' global exceptions inside special-purpose blocks, which CPython adopted only in
    // later releases (2001:1::3 after cpython#151049)
    IpPrefixSet newer = IpPrefixSet.parse("192.0.0.9", "192.0.0.10", "2001:1::1", "2001:1::2", "2001:1::3",
        "2001:3::/32", "2001:4:112::/48", "2001:20::/28", "2001:30::/28");
    assertThat(ours.subtract(cpython).subtract(newer).isEmpty())
        .as("public for conduit, not for CPython: %s", ours.subtract(cpython)).isTrue();
  }

  @Test
  void theIpv4ComplementMatchesPythonsIpaddressTables() {
    // computed with CPython 3: collapse(0.0.0.0/0 minus the registry blocks)
    assertThat(AddressClassifier.routedPublicPrefixes().ipv4().prefixes().stream()
        .map(IpPrefix::toString).toList())
        .startsWith("1.0.0.0/8", "2.0.0.0/7", "4.0.0.0/6", "8.0.0.0/7", "11.0.0.0/8")
        .contains("172.0.0.0/12", "172.32.0.0/11", "172.64.0.0/10", "172.128.0.0/9", "173.0.0.0/8")
        .endsWith("208.0.0.0/4");
  }
}
