package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.inbound.HttpInboundOptions;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.inbound.SocksInboundOptions;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.outbound.EndpointHealth;
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
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hop chains with real proxies: conduit A (SOCKS5) → conduit B (SOCKS5 with username/password) →
 * tinyproxy (HTTP CONNECT, plain or behind TLS) → origin; and chains made of conduits only
 * (SOCKS5 hop then HTTP hop, an HTTP hop with Basic credentials).
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
    try (Conduit a = forwardingConduit(chain, observer)) {
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
      assertThat(a.endpointHealth().isBackedOff(Destination.of("127.0.0.1", tinyproxy.port())))
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
    try (Conduit a = forwardingConduit(chain, new Net.RecordingObserver())) {
      Processes.Result r = curl(a, origin.uri("/bytes?n=" + (1 << 20)).toString());
      assertThat(r.exitCode()).as(r.stderr()).isZero();
      assertThat(r.stdout()).isEqualTo(TestOrigin.bytes(1 << 20));
    }
  }

  @Test
  void httpsHopWithUntrustedCertificateFailsClearly() throws Exception {
    Net.RecordingObserver observer = new Net.RecordingObserver();
    Outbound chain = Outbound.builder("untrusted").hop(Hop.parse("https://127.0.0.1:" + tlsProxy.port())).build();
    try (Conduit a = forwardingConduit(chain, observer)) {
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
    try (Conduit a = forwardingConduit(pair, observer)) {
      EndpointHealth health = a.endpointHealth();
      try (Net.Socks5Result r = Net.socks5(a.address("socks"), "127.0.0.1", origin.port(), null)) {
        assertThat(r.reply()).isZero();
        assertThat(health.isBackedOff(down)).isTrue();
        assertThat(Net.httpGet(r.socket(), "/hello")).endsWith("hello");
      }
      assertThat(observer.nextClosed().dialed().orElseThrow().getPort()).isEqualTo(hopB.address("socks").getPort());

      // the first endpoint comes back: once its back-off (1 s) passes it is preferred again
      try (Conduit revived = Conduit.builder().resources(resources)
          .listener(Listener.builder("socks").bind("127.0.0.1:" + downPort).protocol(InboundProtocols.socks(
              SocksInboundOptions.builder().authenticator(Authenticator.of(new Credentials("hop", "b-secret")))
                  .build())).build())
          .build().start()) {
        Net.await(Duration.ofSeconds(5), "back-off to pass", () -> !health.isBackedOff(down));
        try (Net.Socks5Result r = Net.socks5(a.address("socks"), "127.0.0.1", origin.port(), null)) {
          assertThat(r.reply()).isZero();
          assertThat(Net.httpGet(r.socket(), "/hello")).endsWith("hello");
        }
        assertThat(observer.nextClosed().dialed().orElseThrow().getPort()).isEqualTo(downPort);
      }
    }
  }

  // ---------------------------------------------------------------- conduit-only chains

  private static Conduit httpConduit(HttpInboundOptions options, Net.RecordingObserver observer) throws Exception {
    return Conduit.builder().resources(resources)
        .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http(options)).build())
        .timeouts(Timeouts.builder().dial(Duration.ofSeconds(5)).drain(Duration.ZERO).build())
        .observer(observer)
        .build().start();
  }

  /** A conduit with an HTTP and a SOCKS5 listener (no authentication) that sends everything via {@code out}. */
  private static Conduit forwardingConduit(Outbound out, Net.RecordingObserver observer) throws Exception {
    return Conduit.builder().resources(resources)
        .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http()).build())
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
        .outbound(out)
        .router(Router.builder().defaultDecision(RouteDecision.via(out.name())).build())
        .timeouts(Timeouts.builder().dial(Duration.ofSeconds(5)).drain(Duration.ZERO).build())
        .observer(observer)
        .build().start();
  }

  private static Processes.Result curlVia(Conduit c, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "20",
        "-x", "http://127.0.0.1:" + c.address("http").getPort()));
    cmd.addAll(List.of(args));
    return Processes.run(30, cmd);
  }

  /**
   * The chain the issue asks for, with a conduit at every hop: curl → conduit A (HTTP listener) →
   * conduit B (SOCKS5 listener) → conduit C (HTTP listener, CONNECT) → origin, for a plain GET and
   * for a CONNECT tunnel. Each conduit's observer proves that its hop carried the bytes: A dialed B,
   * B dialed C, only C dialed the origin, and each one passed the whole body to its client.
   */
  @Test
  void conduitSocksHopThenConduitHttpHop() throws Exception {
    Processes.requireTool("curl");
    Net.RecordingObserver seenA = new Net.RecordingObserver();
    Net.RecordingObserver seenB = new Net.RecordingObserver();
    Net.RecordingObserver seenC = new Net.RecordingObserver();
    int n = 1 << 20;
    Destination target = Destination.of("127.0.0.1", origin.port());
    try (Conduit c = httpConduit(HttpInboundOptions.builder().build(), seenC);
        Conduit b = Conduit.builder().resources(resources)
            .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
            .outbound(Outbound.builder("to-c").hop(Hop.parse("http://127.0.0.1:" + c.address("http").getPort())).build())
            .router(Router.builder().defaultDecision(RouteDecision.via("to-c")).build())
            .timeouts(Timeouts.builder().dial(Duration.ofSeconds(5)).drain(Duration.ZERO).build())
            .observer(seenB)
            .build().start();
        Conduit a = forwardingConduit(
            Outbound.builder("to-b").hop(Hop.parse("socks5://127.0.0.1:" + b.address("socks").getPort())).build(),
            seenA)) {
      // "-p" makes curl ask A for a CONNECT tunnel; without it A forwards the GET itself
      for (boolean tunnel : new boolean[] {false, true}) {
        int before = origin.requests();
        Processes.Result r = tunnel
            ? curlVia(a, "-p", origin.uri("/bytes?n=" + n).toString())
            : curlVia(a, origin.uri("/bytes?n=" + n).toString());
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(r.stdout()).isEqualTo(TestOrigin.bytes(n));
        assertThat(origin.requests()).isEqualTo(before + 1);

        ConnectionSummary atA = assertCarried(seenA.nextClosed(), "http", target, n);
        assertThat(atA.outbound()).contains("to-b");
        assertThat(atA.dialed().orElseThrow().getPort()).isEqualTo(b.address("socks").getPort());

        ConnectionSummary atB = assertCarried(seenB.nextClosed(), "socks", target, n);
        assertThat(atB.outbound()).contains("to-c");
        assertThat(atB.dialed().orElseThrow().getPort()).isEqualTo(c.address("http").getPort());

        // B asks C for a tunnel: C sees B's CONNECT, not the GET, whichever way curl asked A
        ConnectionSummary atC = assertCarried(seenC.nextClosed(), "http", target, n);
        assertThat(atC.dialed().orElseThrow()).isEqualTo(origin.address());
      }
    }
  }

  /** One hop's summary: it carried the request to {@code target} over {@code protocol}, more than {@code n} bytes back. */
  private static ConnectionSummary assertCarried(ConnectionSummary s, String protocol, Destination target, long n) {
    assertThat(s.outcome()).as(s.detail()).isEqualTo(Outcome.OK);
    assertThat(s.connection().protocol()).isEqualTo(protocol);
    assertThat(s.destination()).contains(target);
    assertThat(s.bytesToClient()).isGreaterThan(n);
    return s;
  }

  /**
   * An upstream HTTP proxy with Basic authentication, given as {@code http://user:pass@host:port}:
   * conduit C requires the credentials, conduit A carries them in its outbound URL. With the right
   * ones curl gets the origin's body; with wrong ones C answers A with 407 and A answers its clients
   * with a 502 saying so (without the password) over HTTP and a general failure (0x01) over SOCKS5.
   */
  @Test
  void httpHopWithBasicCredentials() throws Exception {
    Processes.requireTool("curl");
    Net.RecordingObserver seenC = new Net.RecordingObserver();
    Net.RecordingObserver seenGood = new Net.RecordingObserver();
    Net.RecordingObserver seenBad = new Net.RecordingObserver();
    try (Conduit c = httpConduit(HttpInboundOptions.builder()
            .authenticator(Authenticator.of(new Credentials("chain-user", "p@ss:word"))).build(), seenC);
        // the password is percent-encoded in the URL ('@' and ':' would end the user info)
        Conduit good = forwardingConduit(Outbound.builder("good").hop(Hop.parse(
            "http://chain-user:p%40ss%3Aword@127.0.0.1:" + c.address("http").getPort())).build(), seenGood);
        Conduit bad = forwardingConduit(Outbound.builder("bad").hop(Hop.parse(
            "http://chain-user:not-it@127.0.0.1:" + c.address("http").getPort())).build(), seenBad)) {
      Processes.Result ok = curlVia(good, origin.uri("/hello").toString());
      assertThat(ok.exitCode()).as(ok.stderr()).isZero();
      assertThat(ok.out()).isEqualTo("hello");
      ConnectionSummary atC = seenC.nextClosed();
      assertThat(atC.outcome()).as(atC.detail()).isEqualTo(Outcome.OK);
      assertThat(atC.principal()).contains("chain-user");
      assertThat(seenGood.nextClosed().outcome()).isEqualTo(Outcome.OK);

      String refusal = "upstream proxy 127.0.0.1:" + c.address("http").getPort() + " refused our credentials";
      Processes.Result wrong = curlVia(bad, "-i", origin.uri("/hello").toString());
      assertThat(wrong.exitCode()).as(wrong.stderr()).isZero();
      String response = wrong.out();
      assertThat(response).startsWith("HTTP/1.1 502 Bad Gateway\r\n")
          .contains("\r\nProxy-Status: conduit; error=proxy_internal_error; details=\"" + refusal + "\"\r\n")
          .contains("\r\nConnection: close\r\n")
          .endsWith("\r\n\r\n" + refusal + "\n")
          .doesNotContain("not-it");
      // C is the one that said no: it saw wrong credentials, and never dialed the origin
      ConnectionSummary refusedAtC = seenC.nextClosed();
      assertThat(refusedAtC.outcome()).isEqualTo(Outcome.AUTH_FAILED);
      assertThat(refusedAtC.dialed()).isEmpty();
      ConnectionSummary atBad = seenBad.nextClosed();
      assertThat(atBad.outcome()).isEqualTo(Outcome.DIAL_FAILED);
      assertThat(atBad.detail()).isEqualTo(refusal);
      assertThat(seenBad.dialFailures).singleElement()
          .satisfies(e -> assertThat(e.failure()).isEqualTo(DialFailure.UPSTREAM_AUTH_FAILED));

      // a CONNECT tunnel gets the same 502, which curl reports as a failed CONNECT (the exit code
      // for that differs between curl versions; the CONNECT status it writes out does not)
      Processes.Result wrongTunnel = curlVia(bad, "-p", "-v", "-o", "/dev/null", "-w", "%{http_connect}",
          origin.uri("/hello").toString());
      assertThat(wrongTunnel.exitCode()).isNotZero();
      assertThat(wrongTunnel.out()).isEqualTo("502");
      assertThat(wrongTunnel.stderr()).contains("< HTTP/1.1 502 Bad Gateway");

      // and a SOCKS5 client of the same conduit gets a general failure
      try (Net.Socks5Result socks = Net.socks5(bad.address("socks"), "127.0.0.1", origin.port(), null)) {
        assertThat(socks.reply()).isEqualTo(0x01);
        // then conduit closes the connection
        assertThat(socks.socket().getInputStream().read()).isEqualTo(-1);
      }
      // while the right credentials still get through over SOCKS5 too
      try (Net.Socks5Result socks = Net.socks5(good.address("socks"), "127.0.0.1", origin.port(), null)) {
        assertThat(socks.reply()).isZero();
        assertThat(Net.httpGet(socks.socket(), "/hello")).startsWith("HTTP/1.1 200").endsWith("hello");
      }
    }
  }
}
