package dev.conduit.netfilter.egress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.net.IpAddress;
import dev.conduit.core.net.IpPrefix;
import dev.conduit.core.net.IpPrefixSet;
import dev.conduit.netfilter.egress.internal.AllowlistElements;
import dev.conduit.netfilter.egress.internal.EgressNft;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class AllowlistTest {

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "127.0.0.1|127.0.0.1 is loopback",
      "127.1|expected: an IPv4 literal",
      "0x7f.1|expected: an IPv4 literal",
      "2130706433|expected: an IPv4 literal",
      "0177.0.0.1|expected: an IPv4 literal",
      "10.0.0.1|10.0.0.1 is private",
      "169.254.169.254|is link-local",
      "100.64.1.1|is shared",
      "::ffff:127.0.0.1|is loopback (ipv4-mapped form of 127.0.0.1)",
      "::ffff:8.8.8.8|is transition (ipv4-mapped form of 8.8.8.8)",
      "64:ff9b::a9fe:a9fe|is link-local (nat64 form of 169.254.169.254)",
      "2002:a00:1::|is private (six-to-four form of 10.0.0.1)",
      "fd00::1|is private",
      "0.0.0.0/0|covers non-public addresses, e.g. 0.0.0.0",
      "172.0.0.0/8|covers non-public addresses, e.g. 172.16.0.0 (private)",
      "8.8.8.8/24|has host bits set (expected: 8.8.8.0/24)",
      "example.org|is a name",
      "8.8.8.8:53|expected: an IPv4 literal",
      "224.0.0.1|is multicast"})
  void refusesMalformedAndNonPublicEntriesSayingWhy(String entry, String reason) {
    assertThatThrownBy(() -> Allowlist.builder(IpPrefixSet.empty()).entry(entry))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(reason);
  }

  @Test
  void refusesEnormousEntries() {
    assertThatThrownBy(() -> Allowlist.builder(IpPrefixSet.empty()).entry("1".repeat(100_000)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("100000 chars");
  }

  @Test
  void specialSpaceIsAllowedOnlyWhereExplicitlyAllowed() {
    IpPrefixSet lab = IpPrefixSet.parse("198.18.0.0/15");
    assertThat(Allowlist.builder(lab).entry("198.18.3.4").build().entries())
        .containsExactly(IpPrefix.parse("198.18.3.4/32"));
    assertThat(Allowlist.builder(lab).entry("198.16.0.0/13").build().size()).isOne();
    assertThatThrownBy(() -> Allowlist.builder(lab).entry("198.0.0.0/8"))
        .hasMessageContaining("covers non-public addresses, e.g. 198.51.100.0 (documentation)");
    assertThatThrownBy(() -> Allowlist.builder(IpPrefixSet.empty()).entry("198.18.3.4"))
        .hasMessageContaining("198.18.3.4 is benchmarking");
  }

  @Test
  void effectiveEntriesDropThoseInsideAnotherAndDiffsDeleteBeforeAdding() {
    Allowlist a = Allowlist.parse("8.8.8.8\n8.8.4.4 # dns\n\n2606:4700::1111\n", IpPrefixSet.empty());
    Allowlist b = Allowlist.parse("8.8.8.0/24\n8.8.8.8\n2606:4700::1111\n", IpPrefixSet.empty());
    assertThat(b.effectiveEntries()).containsExactly(IpPrefix.parse("8.8.8.0/24"),
        IpPrefix.parse("2606:4700::1111/128"));
    assertThat(b.allows(IpAddress.parse("8.8.8.9"))).isTrue();
    String diff = EgressNft.diff("t", AllowlistElements.of(a), AllowlistElements.of(b));
    assertThat(diff).isEqualTo("""
        delete element inet t allow4_out { 8.8.4.4, 8.8.8.8 }
        delete element inet t allow4_in { 8.8.4.4, 8.8.8.8 }
        add element inet t allow4_out { 8.8.8.0/24 }
        add element inet t allow4_in { 8.8.8.0/24 }
        """);
    assertThat(EgressNft.diff("t", AllowlistElements.of(b), AllowlistElements.of(b))).isEmpty();
    assertThat(Allowlist.parse(a.toText(), IpPrefixSet.empty())).isEqualTo(a);
  }

  @Test
  void parsesNftListingsWithCounters() {
    String listing = """
        table inet egress {
        	set allow4_out {
        		type ipv4_addr
        		flags interval
        		counter
        		elements = { 1.2.3.4 counter packets 3 bytes 180, 8.8.8.0/24 counter packets 0 bytes 0,
        			     9.9.9.9 counter packets 12 bytes 99999 }
        	}
        }
        """;
    assertThat(EgressNft.counters(listing)).hasSize(3);
    assertThat(EgressNft.counters(listing).get(IpPrefix.parse("9.9.9.9"))).containsExactly(12, 99999);
    String dynamic = "elements = { 198.19.2.2 timeout 1h expires 59m58s counter packets 2 bytes 120,"
        + " fd00:3::2 counter packets 1 bytes 80 timeout 1h expires 59m }";
    assertThat(EgressNft.denied(dynamic)).extracting(DeniedDestination::packets).containsExactly(2L, 1L);
  }
}
