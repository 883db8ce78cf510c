package dev.conduit.core.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class HostNameTest {

  @Test
  void oneSpellingForCaseTrailingDotsBracketsAndIdn() {
    assertThat(HostName.normalize(" Example.COM. ")).isEqualTo("example.com");
    assertThat(HostName.normalize("example.com..")).isEqualTo("example.com");
    assertThat(HostName.normalize("Bücher.Example.")).isEqualTo("xn--bcher-kva.example");
    assertThat(HostName.normalize("XN--BCHER-KVA.example")).isEqualTo("xn--bcher-kva.example");
    assertThat(HostName.normalize("[FD00::1]")).isEqualTo("fd00::1");
    assertThat(HostName.normalize("198.18.0.1")).isEqualTo("198.18.0.1");
    assertThat(HostName.of("bücher.example")).isEqualTo(HostName.of("xn--bcher-kva.example."));
    assertThat(HostName.of("bücher.example").is("BÜCHER.example")).isTrue();
  }

  @Test
  void invalidNamesAreRefusedWithTheExpectedForm() {
    assertThatThrownBy(() -> HostName.of(" . ")).hasMessageContaining("expected: a DNS name");
    assertThatThrownBy(() -> HostName.of("")).hasMessageContaining("empty");
    assertThatThrownBy(() -> HostName.of("a..b")).hasMessageContaining("expected: a DNS name");
    assertThatThrownBy(() -> HostName.of("user@host")).hasMessageContaining("expected: a DNS name");
    assertThatThrownBy(() -> new HostName("Upper.Case")).hasMessageContaining("canonical");
  }
}
