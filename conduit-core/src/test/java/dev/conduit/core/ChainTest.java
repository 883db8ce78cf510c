package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.inbound.SocksInboundOptions;
import dev.conduit.core.internal.ChainDialer;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.IssuedCertificate;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hop chains with real proxies: conduit A (SOCKS5) → conduit B (SOCKS5 with username/password) →
 * tinyproxy (HTTP CONNECT, plain or behind TLS) → origin.
 */
class ChainTest {
  @TempDir
  static Path dir;

  static ConduitResources resources;
  static TestOrigin origin;
  static Tinyproxy tinyproxy;
  static Conduit hopB;
  static TlsTerminator tlsProxy;
  static CertificateAuthority ca;

  @BeforeAll
  static void start() throws Exception {
    resources = ConduitResources.builder().ioThreads(2).build();
    origin = TestOrigin.start();
    tinyproxy = Tinyproxy.start(dir);
    hopB = Conduit.builder().resources(resources)
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks(
            SocksInboundOptions.builder().authenticator(Authenticator.of(new Credentials("hop", "b-secret"))).build()))
            .build())
        .build().start();
    ca = CertificateAuthority.builder().commonName("chain test CA").build();
    IssuedCertificate leaf = ca.mintServerLeaf("127.0.0.1");
    SslContext serverTls = SslContextBuilder.forServer(leaf.privateKey().orElseThrow(), leaf.chain()).build();
    tlsProxy = new TlsTerminator(resources, serverTls, new java.net.InetSocketAddress("127.0.0.1", tinyproxy.port()));
  }

  @AfterAll
  static void stop() {
    if (tlsProxy != null) {
      tlsProxy.close();
    }
    if (hopB != null) {
      hopB.close();
    }
    if (tinyproxy != null) {
      tinyproxy.close();
    }
    origin.close();
    resources.close();
  }

  private static Hop hopB() {
    return Hop.builder(Hop.Protocol.SOCKS5).endpoint(Destination.of("127.0.0.1", hopB.address("socks").getPort()))
        .credentials(new Credentials("hop", "b-secret")).build();
  }

  private static Conduit conduitA(Outbound out, Net.RecordingObserver observer) throws Exception {
    return Conduit.builder().resources(resources)
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
        .outbound(out)
        .router(Router.builder().defaultDecision(RouteDecision.via(out.name())).build())
        .timeouts(Timeouts.builder().dial(Duration.ofSeconds(5)).drain(Duration.ZERO).build())
        .observer(observer)
        .build().start();
  }

  private static Processes.Result curl(Conduit a, String url) throws Exception {
    return Processes.run("curl", "-sS", "--max-time", "20", "--socks5-hostname",
        "127.0.0.1:" + a.address("socks").getPort(), url);
  }

  @Test
  void socksThenHttpConnectHop() throws Exception {
    Processes.requireTool("curl");
    Net.RecordingObserver observer = new Net.RecordingObserver();
    Outbound chain = Outbound.builder("chain").hop(hopB())
        .hop(Hop.parse("http://127.0.0.1:" + tinyproxy.port())).build();
    try (Conduit a = conduitA(chain, observer)) {
      Processes.Result r = curl(a, origin.uri("/bytes?n=" + (1 << 20)).toString());
      assertThat(r.exitCode()).as(r.stderr()).isZero();
      assertThat(r.stdout()).isEqualTo(TestOrigin.bytes(1 << 20));
      ConnectionSummary s = observer.nextClosed();
      assertThat(s.outcome()).isEqualTo(Outcome.OK);
      assertThat(s.outbound()).contains("chain");
      assertThat(s.dialed().orElseThrow().getPort()).isEqualTo(hopB.address("socks").getPort());

      // the last hop reports the target's failure: a general failure, and tinyproxy stays healthy
      int closed = Net.closedPort();
      try (Net.Socks5Result failed = Net.socks5(a.address("socks"), "127.0.0.1", closed, null)) {
        assertThat(failed.reply()).isEqualTo(0x01);
      }
      assertThat(((ChainDialer) a.dialer()).health().isBackedOff(Destination.of("127.0.0.1", tinyproxy.port())))
          .isFalse();
    }
  }

  @Test
  void httpsHopWithTestCertificate() throws Exception {
    Processes.requireTool("curl");
    SslContext trustCa = SslContextBuilder.forClient().trustManager(ca.certificate()).build();
    Outbound chain = Outbound.builder("tls-chain").hop(hopB())
        .hop(Hop.builder(Hop.Protocol.HTTP).endpoint(Destination.of("127.0.0.1", tlsProxy.port()))
            .sslContext(trustCa).build())
        .build();
    try (Conduit a = conduitA(chain, new Net.RecordingObserver())) {
      Processes.Result r = curl(a, origin.uri("/bytes?n=" + (1 << 20)).toString());
      assertThat(r.exitCode()).as(r.stderr()).isZero();
      assertThat(r.stdout()).isEqualTo(TestOrigin.bytes(1 << 20));
    }
  }

  @Test
  void httpsHopWithUntrustedCertificateFailsClearly() throws Exception {
    Net.RecordingObserver observer = new Net.RecordingObserver();
    Outbound chain = Outbound.builder("untrusted").hop(Hop.parse("https://127.0.0.1:" + tlsProxy.port())).build();
    try (Conduit a = conduitA(chain, observer)) {
      try (Net.Socks5Result r = Net.socks5(a.address("socks"), "127.0.0.1", origin.port(), null)) {
        assertThat(r.reply()).isEqualTo(0x01);
      }
      ConnectionSummary s = observer.nextClosed();
      assertThat(s.outcome()).isEqualTo(Outcome.DIAL_FAILED);
      assertThat(s.detail()).contains("TLS handshake with upstream proxy 127.0.0.1:" + tlsProxy.port() + " failed")
          .containsIgnoringCase("certificat");
    }
  }

  @Test
  void failoverAndRecovery() throws Exception {
    int downPort = Net.closedPort();
    Destination down = Destination.of("127.0.0.1", downPort);
    Outbound pair = Outbound.builder("pair").hop(Hop.builder(Hop.Protocol.SOCKS5)
        .endpoint(down)
        .endpoint(Destination.of("127.0.0.1", hopB.address("socks").getPort()))
        .credentials(new Credentials("hop", "b-secret")).build()).build();
    Net.RecordingObserver observer = new Net.RecordingObserver();
    try (Conduit a = conduitA(pair, observer)) {
      ChainDialer dialer = (ChainDialer) a.dialer();
      try (Net.Socks5Result r = Net.socks5(a.address("socks"), "127.0.0.1", origin.port(), null)) {
        assertThat(r.reply()).isZero();
        assertThat(dialer.health().isBackedOff(down)).isTrue();
        assertThat(Net.httpGet(r.socket(), "/hello")).endsWith("hello");
      }
      assertThat(observer.nextClosed().dialed().orElseThrow().getPort()).isEqualTo(hopB.address("socks").getPort());

      // the first endpoint comes back: once its back-off (1 s) passes it is preferred again
      try (Conduit revived = Conduit.builder().resources(resources)
          .listener(Listener.builder("socks").bind("127.0.0.1:" + downPort).protocol(InboundProtocols.socks(
              SocksInboundOptions.builder().authenticator(Authenticator.of(new Credentials("hop", "b-secret")))
                  .build())).build())
          .build().start()) {
        Net.await(Duration.ofSeconds(5), "back-off to pass", () -> !dialer.health().isBackedOff(down));
        try (Net.Socks5Result r = Net.socks5(a.address("socks"), "127.0.0.1", origin.port(), null)) {
          assertThat(r.reply()).isZero();
          assertThat(Net.httpGet(r.socket(), "/hello")).endsWith("hello");
        }
        assertThat(observer.nextClosed().dialed().orElseThrow().getPort()).isEqualTo(downPort);
      }
    }
  }
}
