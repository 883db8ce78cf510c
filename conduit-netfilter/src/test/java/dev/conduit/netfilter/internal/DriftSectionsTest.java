package dev.conduit.netfilter.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.netfilter.internal.DriftSections.Section;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Listings of a prefix split by table and chain, and a drift named where it happened. */
class DriftSectionsTest {
  private static final String IPTABLES = """
      # iptables-save
      *mangle
      :CDT_PREROUTING - [0:0]
      :CDT_DIVERT - [0:0]
      -A PREROUTING -j CDT_PREROUTING
      -A CDT_PREROUTING -p tcp -m socket --transparent -j CDT_DIVERT
      -A CDT_DIVERT -j MARK --set-xmark 0x1/0x1
      # ip6tables-save
      *mangle
      :CDT_PREROUTING - [0:0]
      -A PREROUTING -j CDT_PREROUTING
      # ipset cdt_dst4
      create cdt_dst4 hash:ip family inet
      add cdt_dst4 198.18.2.2
      # ip -4 rule (table 100)
      100:	from all fwmark 0x1/0x1 lookup 100
      # ip -4 route show table 100
      local default dev lo scope host
      """;

  @Test
  void iptablesListingIsSplitByFamilyTableAndChain() {
    Map<Section, ?> sections = DriftSections.of(IPTABLES);
    assertThat(sections).containsOnlyKeys(new Section("ip/mangle", "CDT_PREROUTING"), new Section("ip/mangle",
        "CDT_DIVERT"), new Section("ip/mangle", "PREROUTING"), new Section("ip6/mangle", "CDT_PREROUTING"),
        new Section("ip6/mangle", "PREROUTING"), new Section("ipset", "cdt_dst4"), new Section("ip -4 rule", "fwmark"),
        new Section("ip -4 route", "table 100"));
  }

  @Test
  void aFlushedChainIsMissingAndAnEmptiedOneAltered() {
    String flushed = IPTABLES.replace("-A PREROUTING -j CDT_PREROUTING\n-A CDT_PREROUTING -p tcp -m socket "
        + "--transparent -j CDT_DIVERT\n-A CDT_DIVERT -j MARK --set-xmark 0x1/0x1\n", "");
    assertThat(DriftSections.changes(IPTABLES, flushed)).containsExactly(
        Map.entry(new Section("ip/mangle", "CDT_PREROUTING"), "altered"),
        Map.entry(new Section("ip/mangle", "CDT_DIVERT"), "altered"),
        Map.entry(new Section("ip/mangle", "PREROUTING"), "missing"));
    // a deleted ip rule shows as altered; routing no longer listed at all says nothing
    assertThat(DriftSections.changes(IPTABLES, IPTABLES.replace("100:\tfrom all fwmark 0x1/0x1 lookup 100\n", "")))
        .containsExactly(Map.entry(new Section("ip -4 rule", "fwmark"), "altered"));
    assertThat(DriftSections.changes(IPTABLES, IPTABLES.substring(0, IPTABLES.indexOf("# ip -4 rule"))))
        .isEmpty();
    assertThat(DriftSections.changes(IPTABLES, IPTABLES)).isEmpty();
  }

  @Test
  void nftTableIsSplitByChainAndSet() {
    String nft = """
        table inet conduit_cdt {
        \tset dst_ipport4 {
        \t\ttype ipv4_addr . inet_service
        \t\telements = { 198.18.2.2 . 80 }
        \t}
        \tchain prerouting {
        \t\ttype filter hook prerouting priority mangle; policy accept;
        \t\tjump match_in
        \t}
        \tchain match_in {
        \t\tip daddr . tcp dport @dst_ipport4 jump divert
        \t}
        }
        """;
    assertThat(DriftSections.of(nft)).containsOnlyKeys(new Section("inet conduit_cdt", "set dst_ipport4"),
        new Section("inet conduit_cdt", "prerouting"), new Section("inet conduit_cdt", "match_in"));
    String added = nft.replace("\t\tjump match_in\n", "\t\tjump match_in\n\t\tcounter\n");
    assertThat(DriftSections.changes(nft, added))
        .containsExactly(Map.entry(new Section("inet conduit_cdt", "prerouting"), "altered"));
    assertThat(DriftSections.changes(nft, "")).hasSize(3).containsValue("missing").doesNotContainValue("altered");
  }
}
