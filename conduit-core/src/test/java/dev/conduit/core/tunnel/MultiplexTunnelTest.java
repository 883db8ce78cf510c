package dev.conduit.core.tunnel;

import static dev.conduit.core.tunnel.TunnelTest.exchange;
import static dev.conduit.core.tunnel.TunnelTest.socks5Connect;
import static dev.conduit.core.tunnel.TunnelTest.withInbounds;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Conduit;
import dev.conduit.core.Destination;
import dev.conduit.core.net.PortRange;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.Listener;
import dev.conduit.core.Timeouts;
import dev.conduit.core.inbound.OriginalDestinationResolver;
import dev.conduit.core.internal.dial.ChainDialer;
import dev.conduit.core.observe.ConnectionObserver;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.pki.CertificateRequest.Usage;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import dev.conduit.core.testing.Poll;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import java.util.zip.CRC32C;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Multiplexed tunnels: conduit A (SOCKS and HTTP listeners, one event loop, peer with {@code multiplex: true})
 * carries its tunnels as HTTP/2 streams over one mTLS connection to conduit B (the seed-000 server plan, which
 * offers h2 and http/1.1), with certificates made by the test.
 */
class MultiplexTunnelTest {
  static final CertificateAuthority CA = CertificateAuthority.builder().commonName("mesh CA").build();
  static final CertificateAuthority OTHER_CA = CertificateAuthority.builder().commonName("other CA").build();
  static final String PEER_A = "spiffe://mesh/a";

  @TempDir
  static Path dir;

  static TestOrigin origin;
  static EchoServer echo;
  static EchoServer forbidden;
  static ConduitResources resourcesA;
  static MeshPlan planB;
  static MeshPlan planA;
  static Conduit b;
  static Conduit a;
  static final List<ConnectionInfo> acceptedOnB = new CopyOnWriteArrayList<>();
  static final List<ConnectionSummary> closedOnB = new CopyOnWriteArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    origin = TestOrigin.start();
    echo = new EchoServer();
    forbidden = new EchoServer();
    TunnelTestPki.write(dir, CA, "ca", null);
    TunnelTestPki.write(dir, CA, "b", CertificateRequest.builder().commonName("b").ipAddress("127.0.0.1")
        .uri("spiffe://mesh/b").usages(Usage.SERVER, Usage.CLIENT).build());
    TunnelTestPki.write(dir, CA, "a", CertificateRequest.builder().commonName("a").uri(PEER_A)
        .usages(Usage.CLIENT).build());
    TunnelTestPki.write(dir, OTHER_CA, "stranger", CertificateRequest.builder().commonName("a").uri(PEER_A)
        .usages(Usage.CLIENT).build());

    planB = serverPlan("127.0.0.1:0");
    b = planB.apply(Conduit.builder()
            // the deadline covers the TLS handshake and the first stream: 2 s was cut short for the JDK client's
            // handshake plus a 9 KB header under stress-ng --cpu 2
            .timeouts(Timeouts.builder().negotiation(Duration.ofSeconds(5)).build())
            .observer(new ConnectionObserver() {
              @Override
              public void accepted(ConnectionInfo connection) {
                acceptedOnB.add(connection);
              }

              @Override
              public void closed(ConnectionSummary summary) {
                closedOnB.add(summary);
              }
            }))
        .build().start();

    // one event loop: every tunnel's stream goes on that loop's pooled connection
    resourcesA = ConduitResources.builder().ioThreads(1).build();
    planA = clientPlan(mtls("a"), true, List.of(bAddress()));
    a = withInbounds(planA, resourcesA).build().start();
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
    resourcesA.close();
    origin.close();
    echo.close();
    forbidden.close();
  }

  // ---- helpers

  static String bAddress() {
    return "127.0.0.1:" + b.address(MeshPlan.SERVER_LISTENER).getPort();
  }

  static TunnelTls mtls(String name) {
    return TunnelTls.builder().certificate(dir.resolve(name + ".pem"), dir.resolve(name + ".key"))
        .trust(dir.resolve("ca.pem")).mutual(true).build();
  }

  static MeshPlan serverPlan(String listen) throws IOException {
    return MeshPlan.builder().bindServer(listen).serverTls(mtls("b"))
        .allow(TunnelAllow.builder().principal(PEER_A).cidr("127.0.0.1/32").ports(PortRange.of(origin.port()))
            .ports(PortRange.of(echo.port())).build())
        .build();
  }

  static MeshPlan clientPlan(TunnelTls tls, boolean multiplex, List<String> peerAddresses) throws IOException {
    TunnelPeer.Builder peer = TunnelPeer.builder(1).tls(tls).multiplex(multiplex);
    peerAddresses.forEach(a -> peer.endpoint(Destination.parse(a, -1)));
    return MeshPlan.builder().bindClient("127.0.0.1:0").peer(peer.build())
        .forward(ForwardEntry.parse(":80", "127.0.0.1:" + origin.port()), 1).resolver(OriginalDestinationResolver.NONE)
        .build();
  }

  static int pooledConnections(Conduit c) {
    return ((ChainDialer) c.dialer()).multiplexer().connectionCount();
  }

  /** Client addresses of B's tunnel streams (ids {@code <connection>.<stream>}) accepted from index {@code from}. */
  static Set<InetSocketAddress> streamClients(int from) {
    return acceptedOnB.subList(from, acceptedOnB.size()).stream().filter(c -> c.id().contains("."))
        .map(ConnectionInfo::client).collect(Collectors.toSet());
  }

  // ---- tests

  @Test
  void curlThroughSocksAndHttpOnAReachesOriginOverHttp2() throws Exception {
    Processes.requireTool("curl");
    int from = acceptedOnB.size();
    Processes.Result r = Processes.run("curl", "-sS", "--max-time", "10", "--socks5", "127.0.0.1:"
        + a.address("socks").getPort(), origin.uri("/hello").toString());
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(r.out()).isEqualTo("hello");
    Processes.Result viaHttp = Processes.run("curl", "-sS", "--max-time", "30", "-x", "http://127.0.0.1:"
        + a.address("http").getPort(), origin.uri("/bytes?n=" + (4 << 20)).toString());
    assertThat(viaHttp.exitCode()).as(viaHttp.stderr()).isZero();
    assertThat(viaHttp.stdout()).isEqualTo(TestOrigin.bytes(4 << 20));
    Processes.Result forward = Processes.run("curl", "-sS", "--max-time", "10", "http://127.0.0.1:"
        + a.address(MeshPlan.CLIENT_LISTENER).getPort() + "/hello");
    assertThat(forward.exitCode()).as(forward.stderr()).isZero();
    assertThat(forward.out()).isEqualTo("hello");
    assertThat(streamClients(from)).as("the streams' TCP connections to B").hasSize(1);
    // each stream is a connection of its own on B, authorized by A's certificate
    assertThat(closedOnB).anySatisfy(s -> {
      assertThat(s.connection().id()).contains(".");
      assertThat(s.principal()).contains(PEER_A);
      assertThat(s.outcome()).isEqualTo(Outcome.OK);
    });
  }

  @Test
  void twentyConcurrentTunnelsShareOneTlsConnection() throws Exception {
    int from = acceptedOnB.size();
    List<Socket> open = new ArrayList<>();
    try {
      for (int i = 0; i < 20; i++) {
        open.add((Socket) socks5Connect(a, echo.port()));
      }
      for (int i = 0; i < open.size(); i++) {
        assertThat(exchange(open.get(i), "tunnel " + i)).isEqualTo("tunnel " + i);
      }
      assertThat(streamClients(from)).as("client addresses of B's streams").hasSize(1);
      assertThat(acceptedOnB.subList(from, acceptedOnB.size())).filteredOn(c -> !c.id().contains("."))
          .as("new TCP connections to B").hasSizeLessThanOrEqualTo(1);
      assertThat(pooledConnections(a)).isEqualTo(1);
    } finally {
      for (Socket s : open) {
        s.close();
      }
    }
  }

  @Test
  void manyShortTunnelsEndCleanlyOnOneConnection() throws Exception {
    // each tunnel ends with END_STREAM both ways, not a reset: a server counts resets against a rapid-reset limit
    int from = acceptedOnB.size();
    InetSocketAddress forward = a.address(MeshPlan.CLIENT_LISTENER);
    for (int i = 0; i < 400; i++) {
      try (Socket s = new Socket(forward.getAddress(), forward.getPort())) {
        s.setSoTimeout(10_000);
        s.getOutputStream().write("GET /hello HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n\r\n"
            .getBytes(StandardCharsets.US_ASCII));
        String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        assertThat(response).as("tunnel " + i).startsWith("HTTP/1.1 200").endsWith("hello");
      }
    }
    assertThat(streamClients(from)).hasSize(1);
    assertThat(pooledConnections(a)).isEqualTo(1);
  }

  @Test
  void halfCloseIsCarriedThroughBothWays() throws Exception {
    try (Socket s = (Socket) socks5Connect(a, echo.port())) {
      assertThat(exchange(s, "ping")).isEqualTo("ping");
      s.getOutputStream().write("last".getBytes(StandardCharsets.US_ASCII));
      s.shutdownOutput();
      // the echo server saw our END_STREAM as EOF and still answered, then its FIN came back as END_STREAM
      assertThat(new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII)).isEqualTo("lastbye");
    }
  }

  @Test
  void largeTransferToSlowReaderIsIntactAndBounded() throws Exception {
    final int block = 64 * 1024;
    final long total = 64L << 20;
    AtomicLong sent = new AtomicLong();
    long[] sentCrc = new long[1];
    try (ServerSocket source = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
      Thread feeder = new Thread(() -> {
        try (Socket s = source.accept()) {
          byte[] data = new byte[block];
          new Random(7).nextBytes(data);
          CRC32C crc = new CRC32C();
          OutputStream out = s.getOutputStream();
          for (long i = 0; i < total / block; i++) {
            data[0] = (byte) i;
            data[1] = (byte) (i >> 8);
            out.write(data);
            crc.update(data);
            sent.addAndGet(block);
          }
          sentCrc[0] = crc.getValue();
          s.shutdownOutput();
          s.getInputStream().read();
        } catch (IOException e) {
          // the test fails on the reading side
        }
      }, "slow-reader-source");
      feeder.setDaemon(true);
      feeder.start();
      // a pair of conduits of their own on one event loop: the warm-up below allocates that thread's buffers,
      // so the measurement sees what the tunnel holds, not the allocator's first chunks
      try (ConduitResources resources = ConduitResources.builder().ioThreads(1).build();
          MeshPlan serverPlan = MeshPlan.builder().bindServer("127.0.0.1:0").serverTls(mtls("b"))
              .allow(TunnelAllow.builder().principal(PEER_A).cidr("127.0.0.1/32")
                  .ports(PortRange.of(source.getLocalPort())).ports(PortRange.of(origin.port())).build()).build();
          Conduit b2 = serverPlan.apply(Conduit.builder().resources(resources)).build().start();
          MeshPlan clientPlan = clientPlan(mtls("a"), true,
              List.of("127.0.0.1:" + b2.address(MeshPlan.SERVER_LISTENER).getPort()));
          Conduit a2 = withInbounds(clientPlan, resources).build().start()) {
        Processes.requireTool("curl");
        Processes.Result warmUp = Processes.run("curl", "-sS", "--max-time", "30", "-o", "/dev/null", "-x",
            "http://127.0.0.1:" + a2.address("http").getPort(), origin.uri("/bytes?n=" + (16 << 20)).toString());
        assertThat(warmUp.exitCode()).as(warmUp.stderr()).isZero();
        try (Socket s = (Socket) socks5Connect(a2, source.getLocalPort())) {
          InputStream in = s.getInputStream();
          CRC32C crc = new CRC32C();
          byte[] buf = new byte[256 * 1024];
          long received = 0;
          long maxDuringPause = 0;
          for (int pause = 0; pause < 4; pause++) {
            int n = in.read(buf);
            crc.update(buf, 0, n);
            received += n;
            // flow control reaches the source (through both conduits and four sockets' kernel buffers, which
            // take a while to fill on a busy machine): it stalls rather than filling conduit's memory
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            long progress;
            do {
              long sentBefore = sent.get();
              Thread.sleep(200);
              progress = sent.get() - sentBefore;
            } while (progress > block && System.nanoTime() < deadline);
            assertThat(progress).as("source progress while the reader sleeps").isLessThanOrEqualTo(block);
            maxDuringPause = Math.max(maxDuringPause, buffered(a2) + buffered(b2));
          }
          // conduit's own count of what both conduits hold (not the process's chunk-sized direct memory, shared
          // with every other thread): water marks plus a read, per side
          assertThat(maxDuringPause).as("bytes both conduits buffered while paused").isLessThan(8L << 20);
          int n;
          while ((n = in.read(buf)) > 0) {
            crc.update(buf, 0, n);
            received += n;
          }
          assertThat(received).isEqualTo(total);
          assertThat(crc.getValue()).isEqualTo(sentCrc[0]);
        }
      }
    }
  }

  @Test
  void disallowedDestinationIsRefusedOnItsStreamOnly() throws Exception {
    try (Socket allowed = (Socket) socks5Connect(a, echo.port())) {
      assertThat(exchange(allowed, "before")).isEqualTo("before");
      assertThat(socks5Connect(a, forbidden.port())).as("SOCKS5 reply: connection not allowed by ruleset")
          .isEqualTo(2);
      Processes.requireTool("curl");
      Processes.Result r = Processes.run("curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}",
          "-x", "http://127.0.0.1:" + a.address("http").getPort(), "http://127.0.0.1:" + forbidden.port() + "/");
      assertThat(r.out()).as(r.stderr()).isEqualTo("403");
      // the refusals ended their streams only: the open tunnel on the same connection still works
      assertThat(exchange(allowed, "after")).isEqualTo("after");
      assertThat(pooledConnections(a)).isEqualTo(1);
    }
    assertThat(forbidden.accepted()).isZero();
    assertThat(closedOnB).anySatisfy(s -> {
      assertThat(s.outcome()).isEqualTo(Outcome.REJECTED);
      assertThat(s.connection().id()).contains(".");
    });
  }

  @Test
  void peersWithoutValidCertificateAreRefused() throws Exception {
    int before = echo.accepted();
    TunnelTls noCertificate = TunnelTls.builder().trust(dir.resolve("ca.pem")).build();
    for (TunnelTls tls : List.of(noCertificate, mtls("stranger"))) {
      try (MeshPlan plan = clientPlan(tls, true, List.of(bAddress()));
          Conduit c = withInbounds(plan, null).build().start()) {
        assertThat(socks5Connect(c, echo.port())).as("SOCKS5 reply: general failure").isEqualTo(1);
      }
    }
    assertThat(echo.accepted()).isEqualTo(before);
  }

  @Test
  void serverRestartDropsTheDeadConnectionAndTheNextDialSucceeds() throws Exception {
    int port;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = probe.getLocalPort();
    }
    String address = "127.0.0.1:" + port;
    try (MeshPlan plan = clientPlan(mtls("a"), true, List.of(address));
        Conduit c = withInbounds(plan, resourcesA).build().start()) {
      try (MeshPlan first = serverPlan(address); Conduit b1 = first.apply(Conduit.builder()).build().start()) {
        try (Socket s = (Socket) socks5Connect(c, echo.port())) {
          assertThat(exchange(s, "one")).isEqualTo("one");
        }
        assertThat(pooledConnections(c)).isEqualTo(1);
      }
      // B1 is gone (its graceful stop sent GOAWAY and closed): the pool forgets the connection, on the event loop
      // that sees it close (the pool's count announces no event)
      Poll.until("the pool forgets B1's connection", Duration.ofSeconds(30), () -> pooledConnections(c) == 0);
      assertThat(pooledConnections(c)).isZero();
      try (MeshPlan second = serverPlan(address); Conduit b2 = second.apply(Conduit.builder()).build().start()) {
        try (Socket s = (Socket) socks5Connect(c, echo.port())) {
          assertThat(exchange(s, "two")).isEqualTo("two");
        }
        assertThat(pooledConnections(c)).isEqualTo(1);
      }
    }
  }

  @Test
  void failoverToTheSecondEndpointWhenTheFirstIsDown() throws Exception {
    int dead;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      dead = probe.getLocalPort();
    }
    try (MeshPlan plan = clientPlan(mtls("a"), true, List.of("127.0.0.1:" + dead, bAddress()));
        Conduit c = withInbounds(plan, null).build().start()) {
      for (int i = 0; i < 3; i++) {
        try (Socket s = (Socket) socks5Connect(c, echo.port())) {
          assertThat(exchange(s, "via second " + i)).isEqualTo("via second " + i);
        }
      }
    }
  }

  @Test
  void healthCheckOfAMultiplexedHopWorks() throws Exception {
    try (TunnelHealthChecker checker = TunnelHealthChecker.start(a, planA.outbounds().get(0).hops().get(0),
        Duration.ZERO, Duration.ofSeconds(2))) {
      assertThat(planA.outbounds().get(0).hops().get(0).multiplex()).isTrue();
      assertThat(checker.checkNow().get(10, java.util.concurrent.TimeUnit.SECONDS)).containsValue(true).hasSize(1);
    }
  }

  /**
   * A bare HTTP/2 tunnel server (Netty, TLS with ALPN h2) that allows {@code maxStreams} concurrent streams,
   * answers every CONNECT with 200 and echoes the stream's DATA; counts its TCP connections.
   */
  static io.netty.channel.Channel smallServer(io.netty.channel.EventLoopGroup group, int maxStreams,
      java.util.concurrent.atomic.AtomicInteger connections) throws Exception {
    TlsMaterial material = TlsMaterial.load(dir.resolve("b.pem"), dir.resolve("b.key"), dir.resolve("ca.pem"));
    io.netty.handler.ssl.SslContext tls = material.tunnelServerContext();
    return new io.netty.bootstrap.ServerBootstrap().group(group)
        .channel(io.netty.channel.socket.nio.NioServerSocketChannel.class)
        .childHandler(new io.netty.channel.ChannelInitializer<io.netty.channel.Channel>() {
          @Override
          protected void initChannel(io.netty.channel.Channel ch) {
            connections.incrementAndGet();
            ch.pipeline().addLast(tls.newHandler(ch.alloc()));
            ch.pipeline().addLast(io.netty.handler.codec.http2.Http2FrameCodecBuilder.forServer()
                .initialSettings(io.netty.handler.codec.http2.Http2Settings.defaultSettings()
                    .maxConcurrentStreams(maxStreams)).build());
            ch.pipeline().addLast(new io.netty.handler.codec.http2.Http2MultiplexHandler(
                new io.netty.channel.ChannelInboundHandlerAdapter() {
                  @Override
                  public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
                    if (msg instanceof io.netty.handler.codec.http2.Http2HeadersFrame) {
                      ctx.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2HeadersFrame(
                          new io.netty.handler.codec.http2.DefaultHttp2Headers().status("200")));
                    } else if (msg instanceof io.netty.handler.codec.http2.Http2DataFrame data) {
                      ctx.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2DataFrame(
                          data.content(), data.isEndStream()));
                    } else {
                      io.netty.util.ReferenceCountUtil.release(msg);
                    }
                  }

                  @Override
                  public boolean isSharable() {
                    return true;
                  }
                }));
          }
        })
        .bind(InetAddress.getLoopbackAddress(), 0).sync().channel();
  }

  @Test
  void aServersStreamLimitOpensAnotherPooledConnection() throws Exception {
    io.netty.channel.EventLoopGroup group = new io.netty.channel.MultiThreadIoEventLoopGroup(1,
        io.netty.channel.nio.NioIoHandler.newFactory());
    java.util.concurrent.atomic.AtomicInteger connections = new java.util.concurrent.atomic.AtomicInteger();
    try {
      io.netty.channel.Channel server = smallServer(group, 2, connections);
      String address = "127.0.0.1:" + ((InetSocketAddress) server.localAddress()).getPort();
      List<Socket> open = new ArrayList<>();
      try (MeshPlan plan = clientPlan(mtls("a"), true, List.of(address));
          Conduit c = withInbounds(plan, resourcesA).build().start()) {
        for (int i = 0; i < 3; i++) {
          open.add((Socket) socks5Connect(c, echo.port()));
          assertThat(exchange(open.get(i), "stream " + i)).isEqualTo("stream " + i);
        }
        // two streams fill the first connection: the third tunnel went on a second one
        assertThat(pooledConnections(c)).isEqualTo(2);
        assertThat(connections.get()).isEqualTo(2);
        for (Socket s : open) {
          s.close();
        }
        open.clear();
        // with room again, new tunnels reuse the pooled connections
        try (Socket s = (Socket) socks5Connect(c, echo.port())) {
          assertThat(exchange(s, "again")).isEqualTo("again");
        }
        assertThat(connections.get()).isEqualTo(2);
      } finally {
        for (Socket s : open) {
          s.close();
        }
      }
    } finally {
      group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).sync();
    }
  }

  @Test
  void http11ClientStillWorksAgainstTheSameServer() throws Exception {
    int from = acceptedOnB.size();
    try (MeshPlan plan = clientPlan(mtls("a"), false, List.of(bAddress()));
        Conduit c = withInbounds(plan, null).build().start()) {
      for (int i = 0; i < 2; i++) {
        try (Socket s = (Socket) socks5Connect(c, echo.port())) {
          assertThat(exchange(s, "h1 " + i)).isEqualTo("h1 " + i);
        }
      }
      assertThat(pooledConnections(c)).isZero();
    }
    // one TCP connection per tunnel, as before
    assertThat(acceptedOnB.subList(from, acceptedOnB.size())).filteredOn(x -> !x.id().contains(".")).hasSize(2);
  }

  @Test
  void serverWithoutHttp2FailsTheDialWithAClearMessage() throws Exception {
    TlsMaterial material = TlsMaterial.load(dir.resolve("b.pem"), dir.resolve("b.key"), dir.resolve("ca.pem"));
    List<String> failures = new CopyOnWriteArrayList<>();
    try (Conduit h1Only = Conduit.builder()
            .listener(Listener.builder("tunnel").bind("127.0.0.1:0").protocol(Tunnel.serverProtocol())
                .tls(material::serverContext).build())
            .router(Router.builder().rule(Rule.builder("all").decision(RouteDecision.direct()).build()).build())
            .build().start();
        MeshPlan plan = clientPlan(mtls("a"), true, List.of("127.0.0.1:" + h1Only.address("tunnel").getPort()));
        Conduit c = withInbounds(plan, null).observer(new ConnectionObserver() {
          @Override
          public void dialFailed(dev.conduit.core.ConnectRequest request, String outbound,
              dev.conduit.core.DialException error, Duration elapsed) {
            failures.add(error.getMessage());
          }
        }).build().start()) {
      assertThat(socks5Connect(c, echo.port())).as("SOCKS5 reply: general failure").isEqualTo(1);
      assertThat(failures).singleElement().asString().contains("did not select HTTP/2");
    }
  }

  /** A JDK TLS context with A's certificate, trusting the mesh CA. */
  static SSLContext jdkContextOfA() throws Exception {
    TlsMaterial material = TlsMaterial.load(dir.resolve("a.pem"), dir.resolve("a.key"), dir.resolve("ca.pem"));
    KeyStore keys = KeyStore.getInstance("PKCS12");
    keys.load(null, null);
    keys.setKeyEntry("a", material.privateKey(), new char[0], material.certificateChain().toArray(X509Certificate[]::new));
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", material.trustedCertificates().get(0));
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(keys, new char[0]);
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ssl = SSLContext.getInstance("TLS");
    ssl.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    return ssl;
  }

  @Test
  void nonConnectRequestsOverHttp2Get405() throws Exception {
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).sslContext(jdkContextOfA())
        .connectTimeout(Duration.ofSeconds(5)).build();
    HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create("https://" + bAddress() + "/"))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(response.version()).isEqualTo(HttpClient.Version.HTTP_2);
    assertThat(response.statusCode()).isEqualTo(405);
    assertThat(response.headers().firstValue("allow")).contains("CONNECT");
  }

  @Test
  void headersOverEightKibAreRefused() throws Exception {
    // B answers 431 and resets the stream; the JDK client may still be writing on the connection then and report
    // a broken pipe instead of the answer it was sent: a fresh client tries again, at most three times
    HttpResponse<String> response = null;
    java.io.IOException last = null;
    for (int attempt = 0; attempt < 3 && response == null; attempt++) {
      HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).sslContext(jdkContextOfA())
          .connectTimeout(Duration.ofSeconds(5)).build();
      try {
        response = client.send(HttpRequest.newBuilder(URI.create("https://" + bAddress() + "/"))
            .header("x-big", "a".repeat(9000)).timeout(Duration.ofSeconds(10)).build(),
            HttpResponse.BodyHandlers.ofString());
      } catch (java.io.IOException brokenPipe) {
        last = brokenPipe;
      }
    }
    assertThat(response).as("three attempts failed; the last with %s", last).isNotNull();
    assertThat(response.statusCode()).isEqualTo(431);
  }

  @Test
  void clientThatNegotiatesHttp2AndSendsNothingIsClosedByTheDeadline() throws Exception {
    try (javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) jdkContextOfA().getSocketFactory().createSocket()) {
      s.connect(b.address(MeshPlan.SERVER_LISTENER), 5000);
      s.setSoTimeout(30_000);
      javax.net.ssl.SSLParameters params = s.getSSLParameters();
      params.setApplicationProtocols(new String[] {"h2"});
      s.setSSLParameters(params);
      s.startHandshake();
      assertThat(s.getApplicationProtocol()).isEqualTo("h2");
      // B sends its SETTINGS; then, with no stream from us, closes at its 5 s negotiation deadline
      int got;
      try {
        while ((got = s.getInputStream().read()) >= 0) {
          // the server preface
        }
      } catch (java.net.SocketException reset) {
        got = -1;
      }
      // closed by B, not by the socket's 30 s read timeout (which would have thrown)
      assertThat(got).isEqualTo(-1);
    }
  }

  /** The bytes {@code c} holds in its connections' outbound buffers now (conduit's own count). */
  private static long buffered(Conduit c) {
    return c.bufferedBytes();
  }
}
