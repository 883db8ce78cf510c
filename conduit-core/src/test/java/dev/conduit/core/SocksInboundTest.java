package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.inbound.SocksInboundOptions;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class SocksInboundTest {
  static TestOrigin origin;
  static Conduit conduit;
  static Conduit authConduit;

  @BeforeAll
  static void start() throws Exception {
    origin = TestOrigin.start();
    conduit = Conduit.builder()
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
        .build().start();
    authConduit = Conduit.builder()
        .listener(Listener.builder("socks").bind("127.0.0.1:0")
            .protocol(InboundProtocols.socks(SocksInboundOptions.builder()
                .authenticator(Authenticator.of(new Credentials("alice", "s3cret"))).build()))
            .build())
        .build().start();
  }

  @AfterAll
  static void stop() {
    conduit.close();
    authConduit.close();
    origin.close();
  }

  private static String proxy(Conduit c) {
    InetSocketAddress a = c.address("socks");
    return "127.0.0.1:" + a.getPort();
  }

  @Test
  void curlSocks5AndSocks5HostnameAndSocks4a() throws Exception {
    Processes.requireTool("curl");
    for (String flag : new String[] {"--socks5", "--socks5-hostname", "--socks4", "--socks4a"}) {
      Processes.Result r = Processes.run("curl", "-sS", "--max-time", "10", flag, proxy(conduit),
          origin.uri("/hello").toString());
      assertThat(r.exitCode()).as(flag + ": " + r.stderr()).isZero();
      assertThat(r.out()).as(flag).isEqualTo("hello");
    }
  }

  @Test
  void curlSocks5WithCredentials() throws Exception {
    Processes.requireTool("curl");
    Processes.Result ok = Processes.run("curl", "-sS", "--max-time", "10", "--socks5-hostname", proxy(authConduit),
        "--proxy-user", "alice:s3cret", "http://localhost:" + origin.port() + "/hello");
    assertThat(ok.exitCode()).as(ok.stderr()).isZero();
    assertThat(ok.out()).isEqualTo("hello");
    Processes.Result bad = Processes.run("curl", "-sS", "--max-time", "10", "--socks5-hostname", proxy(authConduit),
        "--proxy-user", "alice:wrong", origin.uri("/hello").toString());
    assertThat(bad.exitCode()).isNotZero();
    assertThat(bad.stderr()).containsIgnoringCase("rejected");
  }

  @Test
  void largeBodyIntact() throws Exception {
    Processes.requireTool("curl");
    Processes.Result r = Processes.run("curl", "-sS", "--max-time", "30", "--socks5", proxy(conduit),
        origin.uri("/bytes?n=" + (8 << 20)).toString());
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(r.stdout()).isEqualTo(TestOrigin.bytes(8 << 20));
  }
}
