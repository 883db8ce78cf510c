package dev.conduit.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Conduit;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import org.junit.jupiter.api.Test;

class EmbeddedProxyTest {

  @Test
  void servesThroughSocksAndRefusesMetadata() throws Exception {
    Processes.requireTool("curl");
    try (TestOrigin origin = TestOrigin.start();
        Conduit conduit = EmbeddedProxy.build("127.0.0.1:0", "127.0.0.1:0", "http://127.0.0.1:9").start()) {
      String socks = "127.0.0.1:" + conduit.address("socks").getPort();
      Processes.Result ok = Processes.run("curl", "-sS", "--max-time", "10", "--socks5", socks,
          origin.uri("/hello").toString());
      assertThat(ok.exitCode()).as(ok.stderr()).isZero();
      assertThat(ok.out()).isEqualTo("hello");
      Processes.Result refused = Processes.run("curl", "-sS", "--max-time", "10", "--socks5", socks,
          "http://169.254.169.254/latest/meta-data/");
      assertThat(refused.exitCode()).isNotZero();
      assertThat(refused.stderr()).contains("(2)"); // SOCKS5 reply 0x02: not allowed by ruleset
      assertThat(origin.requests()).isEqualTo(1);
    }
  }
}
