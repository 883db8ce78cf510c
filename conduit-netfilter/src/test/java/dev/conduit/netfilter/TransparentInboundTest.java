package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitResources;
import java.io.IOException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class TransparentInboundTest {

  @Test
  void listenerOnNioFailsToStartWithAnActionableMessage() {
    ConduitResources nio = ConduitResources.builder().preferNativeTransport(false).ioThreads(1).build();
    Conduit conduit = Conduit.builder().resources(nio)
        .listener(TransparentInbound.tproxy().listener("tproxy", "127.0.0.1:0")).build();
    try {
      assertThatThrownBy(conduit::start).isInstanceOf(IOException.class)
          .hasMessageContaining("listener tproxy: cannot set socket options")
          .hasMessageContaining("needs the epoll transport")
          .hasMessageContaining("preferNativeTransport(true)");
    } finally {
      nio.close();
    }
  }

  @Test
  void builderValidatesAndDefaults() {
    TransparentInbound p = TransparentInbound.redirect();
    assertThat(p.mode()).isEqualTo(CaptureMode.REDIRECT);
    assertThat(p.sniff()).isTrue();
    assertThat(p.sniffTimeout()).isEqualTo(Duration.ofMillis(300));
    assertThat(p.sniffLimit()).isEqualTo(8192);
    assertThat(p.listener("t", "0.0.0.0:15001").protocol()).isSameAs(p);
    assertThatThrownBy(() -> TransparentInbound.builder().sniffLimit(10))
        .hasMessage("sniffLimit: 10 (expected: 64-65536)");
    assertThatThrownBy(() -> TransparentInbound.builder().sniffTimeout(Duration.ZERO))
        .hasMessage("sniffTimeout: 0 ms (expected: 1-10000)");
  }
}
