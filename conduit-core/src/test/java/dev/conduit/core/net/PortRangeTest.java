package dev.conduit.core.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class PortRangeTest {

  @Test
  void parsesSinglePortsAndRanges() {
    assertThat(PortRange.parse("443")).isEqualTo(PortRange.of(443));
    assertThat(PortRange.parse(" 8000 - 8100 ")).isEqualTo(new PortRange(8000, 8100));
    assertThat(PortRange.parse("8000-8100").contains(8100)).isTrue();
    assertThat(PortRange.parse("8000-8100").contains(7999)).isFalse();
    assertThat(new PortRange(8000, 8100)).hasToString("8000-8100");
    assertThat(PortRange.of(80)).hasToString("80");
  }

  @Test
  void refusesWhatIsNotAPortOrRange() {
    for (String bad : new String[] {"0", "70000", "9000-8000", "x", "80-", "-80", ""}) {
      assertThatThrownBy(() -> PortRange.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("expected: 1-65535, or a range such as 8000-8100");
    }
  }
}
