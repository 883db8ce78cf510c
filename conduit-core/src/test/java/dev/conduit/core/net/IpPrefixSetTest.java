package dev.conduit.core.net;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class IpPrefixSetTest {

  static List<String> texts(IpPrefixSet set) {
    return set.prefixes().stream().map(IpPrefix::toString).toList();
  }

  @Test
  void unionMergesAdjacentAndOverlappingPrefixesIntoTheFewest() {
    IpPrefixSet set = IpPrefixSet.parse("10.0.0.0/25", "10.0.0.128/25", "10.0.1.0/24", "10.0.0.7",
        "2001:db8::/33", "2001:db8:8000::/33");
    assertThat(texts(set)).containsExactly("10.0.0.0/23", "2001:db8::/32");
  }

  @Test
  void subtractSplitsIntoTheMinimalCover() {
    IpPrefixSet set = IpPrefixSet.parse("10.0.0.0/8").subtract(IpPrefixSet.parse("10.0.0.1"));
    assertThat(texts(set)).hasSize(24).startsWith("10.0.0.0/32", "10.0.0.2/31", "10.0.0.4/30")
        .endsWith("10.128.0.0/9");
    assertThat(set.contains(IpAddress.parse("10.0.0.1"))).isFalse();
    assertThat(set.contains(IpAddress.parse("10.0.0.0"))).isTrue();
    assertThat(set.contains(IpAddress.parse("10.255.255.255"))).isTrue();
    assertThat(set.union(IpPrefixSet.parse("10.0.0.1"))).isEqualTo(IpPrefixSet.parse("10.0.0.0/8"));
  }

  @Test
  void complementOfEverythingIsEmptyAndOfNothingIsEverything() {
    assertThat(IpPrefixSet.all().complement().isEmpty()).isTrue();
    assertThat(texts(IpPrefixSet.empty().complement())).containsExactly("0.0.0.0/0", "::/0");
    IpPrefixSet half = IpPrefixSet.parse("0.0.0.0/1", "::/1");
    assertThat(texts(half.complement())).containsExactly("128.0.0.0/1", "8000::/1");
    assertThat(half.complement().complement()).isEqualTo(half);
  }

  @Test
  void familiesNeverMix() {
    IpPrefixSet v4 = IpPrefixSet.parse("0.0.0.0/0");
    assertThat(v4.contains(IpAddress.parse("::"))).isFalse();
    assertThat(v4.subtract(IpPrefixSet.parse("::/0"))).isEqualTo(v4);
    assertThat(v4.ipv6().isEmpty()).isTrue();
  }

  @Test
  void containsAllNeedsTheWholePrefix() {
    IpPrefixSet set = IpPrefixSet.parse("10.0.0.0/24", "10.0.1.0/25");
    assertThat(set.containsAll(IpPrefix.parse("10.0.0.0/24"))).isTrue();
    assertThat(set.containsAll(IpPrefix.parse("10.0.0.0/23"))).isFalse();
    assertThat(set.containsAll(IpPrefix.parse("10.0.1.0/25"))).isTrue();
    assertThat(set.containsAll(IpPrefix.parse("10.0.1.128/25"))).isFalse();
  }
}
