package dev.conduit.core.tunnel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitBuilder;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.Destination;
import dev.conduit.core.Listener;
import dev.conduit.core.Timeouts;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.net.PortRange;
import dev.conduit.core.observe.ConnectionObserver;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest.Usage;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import dev.conduit.core.testing.Poll;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two (or more) conduits on loopback: A (tunnel client with a SOCKS listener and seed 000's forward
 * listener) and B (tunnel server, mTLS, allow list), with certificates made by the test.
 */
class TunnelTest {
  static final CertificateAuthority CA = CertificateAuthority.builder().commonName("mesh CA").build();
  static final CertificateAuthority OTHER_CA = CertificateAuthority.builder().commonName("other CA").build();
  static final String PEER_A = "spiffe://mesh/a";
  static final String PEER_A_RENEWED = "spiffe://mesh/a-renewed";

  @TempDir
  static Path dir;

  static TestOrigin origin;
  static EchoServer echo;
  static EchoServer forbidden;
  static MeshPlan planB;
  static MeshPlan planA;
  static Conduit b;
  static Conduit a;
  static final List<ConnectionSummary> closedOnB = new CopyOnWriteArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    origin = TestOrigin.start();
    echo = new EchoServer();
    forbidden = new EchoServer();
    writePem(CA, "ca", null);
    writePem(CA, "b", CertificateRequest.builder().commonName("b").ipAddress("127.0.0.1")
        .uri("spiffe://mesh/b").usages(Usage.SERVER, Usage.CLIENT).build());
    writePem(CA, "a", CertificateRequest.builder().commonName("a").uri(PEER_A).usages(Usage.CLIENT).build());

    planB = MeshPlan.builder().bindServer("127.0.0.1:0").serverTls(mtls("b"))
        .allow(TunnelAllow.builder().principal(PEER_A).cidr("127.0.0.1/32").ports(PortRange.of(origin.port()))
            .ports(PortRange.of(echo.port())).build())
        .allow(TunnelAllow.builder().principal(PEER_A_RENEWED).cidr("127.0.0.1/32").ports(PortRange.of(echo.port()))
            .build())
        .tlsCheckInterval(Duration.ofMillis(100)).build();
    b = planB.apply(Conduit.builder()
            .timeouts(Timeouts.builder().negotiation(Duration.ofSeconds(2)).build())
            .observer(new ConnectionObserver() {
              @Override
              public void closed(ConnectionSummary summary) {
                closedOnB.add(summary);
              }
            }))
        .build().start();

    planA = clientPlan("a", List.of(bAddress()), 0);
    a = withInbounds(planA, null).build().start();
  }

  @AfterAll
  static void stop() throws Exception {
    if (a != null) {
      a.close();
    }
    if (b != null) {
      b.close();
    }
    planA.close();
    planB.close();
    origin.close();
    echo.close();
    forbidden.close();
  }

  // ---- helpers

  static String bAddress() {
    return "127.0.0.1:" + b.address(MeshPlan.SERVER_LISTENER).getPort();
  }

  static void writePem(CertificateAuthority ca, String name, CertificateRequest request) throws IOException {
    TunnelTestPki.write(dir, ca, name, request);
  }

  static TunnelTls mtls(String name) {
    return TunnelTls.builder().certificate(dir.resolve(name + ".pem"), dir.resolve(name + ".key"))
        .trust(dir.resolve("ca.pem")).mutual(true).build();
  }

  static TunnelPeer peer(List<String> addresses, TunnelTls tls) {
    TunnelPeer.Builder p = TunnelPeer.builder(1);
    addresses.forEach(a -> p.endpoint(Destination.parse(a, -1)));
    if (tls != null) {
      p.tls(tls);
    }
    return p.build();
  }

  /** A client plan: forward entry ":80 -> origin" (as in seed 000) and one peer with these addresses. */
  static MeshPlan clientPlan(String certName, List<String> peerAddresses, int checkTime) throws IOException {
    return MeshPlan.builder().bindClient("127.0.0.1:0").healthCheckInterval(Duration.ofSeconds(checkTime))
        .peer(peer(peerAddresses, certName == null ? null : mtls(certName)))
        .forward(ForwardEntry.parse(":80", "127.0.0.1:" + origin.port()), 1)
        .tlsCheckInterval(Duration.ofMillis(100)).build();
  }

  /**
   * The plan's parts plus SOCKS and HTTP listeners whose every request goes through peer 1, on
   * {@code resources} (null: the conduit's own).
   */
  static ConduitBuilder withInbounds(MeshPlan plan, ConduitResources resources) {
    ConduitBuilder builder = Conduit.builder()
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
        .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http()).build());
    if (resources != null) {
      builder.resources(resources);
    }
    plan.listeners().forEach(builder::listener);
    plan.outbounds().forEach(builder::outbound);
    Router.Builder router = Router.builder();
    plan.rules().forEach(router::rule);
    router.rule(Rule.builder("socks-via-b").listener("socks").decision(RouteDecision.via(MeshPlan.peerOutbound(1)))
        .build());
    router.rule(Rule.builder("http-via-b").listener("http").decision(RouteDecision.via(MeshPlan.peerOutbound(1)))
        .build());
    return builder.router(router.build());
  }

  static String socks(Conduit c) {
    return "127.0.0.1:" + c.address("socks").getPort();
  }

  /** A SOCKS5 CONNECT to 127.0.0.1:port through conduit c; returns the socket after a success, else the reply code. */
  static Object socks5Connect(Conduit c, int port) throws IOException {
    Socket s = new Socket();
    s.connect(c.address("socks"), 5000);
    s.setSoTimeout(20_000);
    OutputStream out = s.getOutputStream();
    InputStream in = s.getInputStream();
    out.write(new byte[] {5, 1, 0});
    out.flush();
    byte[] greeting = in.readNBytes(2);
    assertThat(greeting).containsExactly(5, 0);
    out.write(new byte[] {5, 1, 0, 1, 127, 0, 0, 1, (byte) (port >> 8), (byte) port});
    out.flush();
    byte[] reply = in.readNBytes(10);
    assertThat(reply).hasSize(10);
    if (reply[1] != 0) {
      s.close();
      return (int) reply[1];
    }
    return s;
  }

  static String exchange(Socket s, String send) throws IOException {
    s.getOutputStream().write(send.getBytes(StandardCharsets.US_ASCII));
    s.getOutputStream().flush();
    byte[] got = s.getInputStream().readNBytes(send.length());
    return new String(got, StandardCharsets.US_ASCII);
  }

  static Processes.Result curlToB(String... extra) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "10", "-p", "-x", "https://" + bAddress(),
        "--proxy-cacert", dir.resolve("ca.pem").toString()));
    cmd.addAll(List.of(extra));
    return Processes.run(20, cmd);
  }

  // ---- tests

  @Test
  void curlThroughSocksOnAReachesOriginBehindB() throws Exception {
    Processes.requireTool("curl");
    Processes.Result r = Processes.run("curl", "-sS", "--max-time", "10", "--socks5", socks(a),
        origin.uri("/hello").toString());
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(r.out()).isEqualTo("hello");
    Processes.Result big = Processes.run("curl", "-sS", "--max-time", "30", "--socks5-hostname", socks(a),
        "http://127.0.0.1:" + origin.port() + "/bytes?n=" + (4 << 20));
    assertThat(big.exitCode()).as(big.stderr()).isZero();
    assertThat(big.stdout()).isEqualTo(TestOrigin.bytes(4 << 20));
    // B saw A's certificate identity as the principal
    assertThat(closedOnB).anySatisfy(s -> assertThat(s.principal()).contains(PEER_A));
  }

  @Test
  void forwardTableEntryAsInSeed000() throws Exception {
    Processes.requireTool("curl");
    int port = a.address(MeshPlan.CLIENT_LISTENER).getPort();
    Processes.Result r = Processes.run("curl", "-sS", "--max-time", "10", "http://127.0.0.1:" + port + "/hello");
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(r.out()).isEqualTo("hello");
  }

  @Test
  void redirectedConnectionUsesItsOriginalDestination() throws Exception {
    Processes.requireTool("curl");
    // as if netfilter had redirected a connection for 198.18.0.9:3306 to the client listener
    InetSocketAddress original = new InetSocketAddress("198.18.0.9", 3306);
    try (MeshPlan plan = MeshPlan.builder().bindClient("127.0.0.1:0").peer(peer(List.of(bAddress()), mtls("a")))
        .forward(ForwardEntry.parse(":80", "127.0.0.1:" + echo.port()), 1)
        .forward(ForwardEntry.parse("198.18.0.9:3306", "127.0.0.1:" + origin.port()), 1)
        .resolver(ch -> java.util.Optional.of(original)).build();
        Conduit c = plan.apply(Conduit.builder()).build().start()) {
      int port = c.address(MeshPlan.CLIENT_LISTENER).getPort();
      Processes.Result r = Processes.run("curl", "-sS", "--max-time", "10", "http://127.0.0.1:" + port + "/hello");
      assertThat(r.exitCode()).as(r.stderr()).isZero();
      assertThat(r.out()).isEqualTo("hello");
    }
  }

  @Test
  void curlSpeaksTheTunnelProtocolDirectly() throws Exception {
    Processes.requireTool("curl");
    Processes.Result r = curlToB("-v", "--proxy-cert", dir.resolve("a.pem").toString(),
        "--proxy-key", dir.resolve("a.key").toString(), origin.uri("/hello").toString());
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(r.out()).isEqualTo("hello");
    assertThat(r.stderr()).contains("TLSv1.3").contains("200 Connection Established");
  }

  @Test
  void healthCheckWithCheckTimeZeroIsDisabledAndCheckNowWorks() throws Exception {
    TunnelHealthChecker off = TunnelHealthChecker.start(a, planA.outbounds().get(0).hops().get(0), Duration.ZERO,
        Duration.ofSeconds(2));
    try (off) {
      assertThat(off.isPeriodic()).isFalse();
      assertThat(off.checkNow().get(10, java.util.concurrent.TimeUnit.SECONDS)).containsValue(true).hasSize(1);
    }
  }

  @Test
  void peersWithoutValidCertificateAreRefusedBeforeAnyByteReachesTheDestination() throws Exception {
    Processes.requireTool("curl");
    writePem(OTHER_CA, "stranger", CertificateRequest.builder().commonName("a").uri(PEER_A)
        .usages(Usage.CLIENT).build());
    writePem(CA, "expired", CertificateRequest.builder().commonName("a").uri(PEER_A).usages(Usage.CLIENT)
        .notBefore(Instant.now().minus(Duration.ofDays(10))).validity(Duration.ofDays(1)).build());
    String target = "http://127.0.0.1:" + echo.port() + "/";
    int before = echo.accepted();
    Processes.Result none = curlToB(target);
    assertThat(none.exitCode()).as("no certificate").isNotZero();
    for (String name : List.of("stranger", "expired")) {
      Processes.Result r = curlToB("--proxy-cert", dir.resolve(name + ".pem").toString(),
          "--proxy-key", dir.resolve(name + ".key").toString(), target);
      assertThat(r.exitCode()).as(name + ": " + r.stderr()).isNotZero();
    }
    // and a conduit with a stranger's certificate gets a failure, not a tunnel
    try (MeshPlan plan = clientPlan("stranger", List.of(bAddress()), 0); Conduit c = withInbounds(plan, null).build().start()) {
      assertThat(socks5Connect(c, echo.port())).isEqualTo(1);
    }
    assertThat(echo.accepted()).isEqualTo(before);
  }

  @Test
  void disallowedDestinationGetsTruthfulRefusal() throws Exception {
    assertThat(socks5Connect(a, forbidden.port())).as("SOCKS5 reply: connection not allowed by ruleset").isEqualTo(2);
    Processes.requireTool("curl");
    Processes.Result r = curlToB("-v", "--proxy-cert", dir.resolve("a.pem").toString(),
        "--proxy-key", dir.resolve("a.key").toString(), "http://127.0.0.1:" + forbidden.port() + "/");
    assertThat(r.exitCode()).isNotZero();
    assertThat(r.stderr()).contains("403").contains("Proxy-Status: conduit; error=destination_ip_prohibited");
    assertThat(forbidden.accepted()).isZero();
  }

  @Test
  void halfCloseIsCarriedThroughTheTunnel() throws Exception {
    try (Socket s = (Socket) socks5Connect(a, echo.port())) {
      assertThat(exchange(s, "ping")).isEqualTo("ping");
      s.getOutputStream().write("last".getBytes(StandardCharsets.US_ASCII));
      s.shutdownOutput();
      // the echo server saw our EOF and still answered: both directions were handled separately
      assertThat(new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII)).isEqualTo("lastbye");
    }
  }

  @Test
  void silentClientsDelayNobodyAndAreClosedByTheDeadline() throws Exception {
    Processes.requireTool("curl");
    List<Socket> silent = new ArrayList<>();
    try {
      for (int i = 0; i < 20; i++) {
        Socket s = new Socket();
        s.connect(b.address(MeshPlan.SERVER_LISTENER), 5000);
        s.setSoTimeout(10_000);
        if (i % 2 == 0) {
          s.getOutputStream().write(new byte[] {0x16, 0x03, 0x01}); // the start of a ClientHello, then nothing
          s.getOutputStream().flush();
        }
        silent.add(s);
      }
      Processes.Result r = Processes.run("curl", "-sS", "--max-time", "5", "--socks5", socks(a),
          origin.uri("/hello").toString());
      assertThat(r.exitCode()).as(r.stderr()).isZero();
      assertThat(r.out()).isEqualTo("hello");
      for (Socket s : silent) {
        // closed by B's 2 s negotiation deadline: EOF (or a reset)
        int got;
        try {
          got = s.getInputStream().read();
        } catch (java.net.SocketException reset) {
          got = -1;
        }
        assertThat(got).isEqualTo(-1);
      }
    } finally {
      for (Socket s : silent) {
        s.close();
      }
    }
  }

  @Test
  void failoverToSecondAddressAndBackToFirst() throws Exception {
    int firstPort;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      firstPort = probe.getLocalPort();
    }
    String first = "127.0.0.1:" + firstPort;
    List<ConnectionSummary> onFirst = new CopyOnWriteArrayList<>();
    try (MeshPlan plan = clientPlan("a", List.of(first, bAddress()), 1); Conduit c = withInbounds(plan, null).build().start()) {
      plan.startHealthChecks(c, Duration.ofSeconds(2));
      try (Socket s = (Socket) socks5Connect(c, echo.port())) {
        assertThat(exchange(s, "via second")).isEqualTo("via second");
      }
      // the first address comes back: a second tunnel server on it
      try (MeshPlan planB2 = MeshPlan.builder().bindServer(first).serverTls(mtls("b"))
          .allow(TunnelAllow.builder().principal(PEER_A).cidr("127.0.0.1").build()).build();
          Conduit b2 = planB2.apply(Conduit.builder().observer(new ConnectionObserver() {
            @Override
            public void closed(ConnectionSummary summary) {
              if (summary.dialed().isPresent()) {
                onFirst.add(summary);
              }
            }
          })).build().start()) {
        // each attempt is a tunnel; the client goes back to the first address once its backoff has passed
        Poll.until("a tunnel through the first address once it is back", Duration.ofSeconds(30), () -> {
          try (Socket s = (Socket) socks5Connect(c, echo.port())) {
            assertThat(exchange(s, "x")).isEqualTo("x");
          } catch (Exception e) {
            throw new AssertionError(e);
          }
          return !onFirst.isEmpty();
        });
        assertThat(onFirst).as("tunnels through the first address once it is back").isNotEmpty();
      }
    }
  }

  @Test
  void reloadedCertificateIsUsedByNewTunnelsWhileOpenOnesKeepWorking() throws Exception {
    writePem(CA, "r", CertificateRequest.builder().commonName("a").uri(PEER_A).usages(Usage.CLIENT).build());
    try (MeshPlan plan = clientPlan("r", List.of(bAddress()), 0); Conduit c = withInbounds(plan, null).build().start()) {
      try (Socket open = (Socket) socks5Connect(c, echo.port())) {
        assertThat(exchange(open, "before")).isEqualTo("before");
        writePem(CA, "r", CertificateRequest.builder().commonName("a").uri(PEER_A_RENEWED)
            .usages(Usage.CLIENT).build());
        // each attempt is a tunnel; the reloaded certificate is picked up by the material's file check
        Poll.until("a tunnel authenticated with the renewed certificate", Duration.ofSeconds(30), () -> {
          try {
            Object r = socks5Connect(c, echo.port());
            if (r instanceof Socket s) {
              try (s) {
                assertThat(exchange(s, "new")).isEqualTo("new");
              }
            }
          } catch (Exception e) {
            throw new AssertionError(e);
          }
          return closedOnB.stream().anyMatch(x -> x.principal().filter(PEER_A_RENEWED::equals).isPresent());
        });
        assertThat(exchange(open, "after")).isEqualTo("after");
      }
    }
  }

  @Test
  void seed000PlainExampleRunsAsWrittenWithWarnings() throws Exception {
    Processes.requireTool("curl");
    try (MeshPlan server = MeshPlan.builder().bindServer("127.0.0.1:0").build();
        Conduit plainB = server.apply(Conduit.builder()).build().start()) {
      String addr = "127.0.0.1:" + plainB.address(MeshPlan.SERVER_LISTENER).getPort();
      try (MeshPlan client = MeshPlan.builder().bindClient("127.0.0.1:0").healthCheckInterval(Duration.ofSeconds(60))
          .peer(peer(List.of(addr), null)).forward(ForwardEntry.parse(":80", "127.0.0.1:" + origin.port()), 1)
          .build();
          Conduit plainA = client.apply(Conduit.builder()).build().start()) {
        client.startHealthChecks(plainA, Duration.ofSeconds(2));
        assertThat(server.warnings()).singleElement().asString().contains("plain TCP");
        assertThat(client.warnings()).singleElement().asString().contains("plain TCP");
        int port = plainA.address(MeshPlan.CLIENT_LISTENER).getPort();
        Processes.Result r = Processes.run("curl", "-sS", "--max-time", "10", "http://127.0.0.1:" + port + "/hello");
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(r.out()).isEqualTo("hello");
      }
    }
  }
}
