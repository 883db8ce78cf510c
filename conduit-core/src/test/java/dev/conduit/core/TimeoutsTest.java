package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Timeouts are values: a reload compares them to decide whether a restart is needed. */
class TimeoutsTest {

  @Test
  void equalLimitsAreEqualAndAnyDifferenceIsNot() {
    Timeouts a = Timeouts.builder().dial(Duration.ofSeconds(3)).build();
    Timeouts b = Timeouts.builder().dial(Duration.ofMillis(3000)).build();
    assertThat(a).isEqualTo(b).hasSameHashCodeAs(b);
    assertThat(Timeouts.defaults()).isEqualTo(Timeouts.builder().build());
    assertThat(a).isNotEqualTo(a.toBuilder().drain(Duration.ofSeconds(1)).build());
    assertThat(a).isNotEqualTo(a.toBuilder().negotiation(Duration.ofSeconds(1)).build());
    assertThat(a).isNotEqualTo(a.toBuilder().httpIdle(Duration.ofSeconds(1)).build());
    assertThat(a).isNotEqualTo(a.toBuilder().relayIdle(Duration.ofSeconds(1)).build());
    assertThat(a.toBuilder().build()).isEqualTo(a);
  }
}
