package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.internal.mixed.MixedInbound;
import dev.conduit.core.internal.socks.SocksInbound;
import dev.conduit.core.inbound.SocksInboundOptions;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Bad clients, the mixed listener, the observer's view and graceful stop. */
class LifecycleTest {
  static ConduitResources resources;
  static TestOrigin origin;

  @BeforeAll
  static void start() throws Exception {
    resources = ConduitResources.builder().ioThreads(2).build();
    origin = TestOrigin.start();
  }

  @AfterAll
  static void stop() {
    origin.close();
    resources.close();
  }

  private static Conduit socksConduit(Timeouts timeouts, Net.RecordingObserver observer) throws IOException {
    return Conduit.builder().resources(resources)
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
        .timeouts(timeouts)
        .observer(observer)
        .build().start();
  }

  private static Processes.Result curl(String flag, int proxyPort, String path) throws Exception {
    return Processes.run("curl", "-sS", "--max-time", "10", flag, "127.0.0.1:" + proxyPort, origin.uri(path).toString());
  }

  /** Reads until EOF or reset; returns what came, or null when the connection was reset. */
  private static byte[] readUntilClosed(Socket s) {
    try {
      return s.getInputStream().readAllBytes();
    } catch (IOException reset) {
      return null;
    }
  }

  /** Listening TCP sockets on {@code port} (LISTEN = 0A in /proc/net/tcp and tcp6). */
  private static long listeningSockets(int port) throws IOException {
    String local = String.format(":%04X ", port);
    long n = 0;
    for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
      for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of(table))) {
        String[] f = line.trim().split("\\s+");
        if (f.length > 3 && (f[1] + " ").endsWith(local) && f[3].equals("0A")) {
          n++;
        }
      }
    }
    return n;
  }

  @Test
  void everyEventLoopAcceptsOnItsOwnSocketAndAllOfThemServe() throws Exception {
    Processes.requireTool("curl");
    org.junit.jupiter.api.Assumptions.assumeTrue(resources.isNativeTransport(), "needs the epoll transport");
    Net.RecordingObserver observer = new Net.RecordingObserver();
    try (Conduit conduit = socksConduit(Timeouts.defaults(), observer)) {
      int port = conduit.address("socks").getPort();
      assertThat(listeningSockets(port)).isEqualTo(2);
      for (int i = 0; i < 12; i++) {
        Processes.Result r = curl("--socks5", port, "/hello");
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(new String(r.stdout(), StandardCharsets.UTF_8)).isEqualTo("hello");
      }
    }
    Conduit single = Conduit.builder().resources(resources)
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks())
            .acceptOnEveryLoop(false).build())
        .build().start();
    try (single) {
      assertThat(listeningSockets(single.address("socks").getPort())).isEqualTo(1);
    }
  }

  @Test
  void aPortTakenByAnotherConduitOrProgramFailsToBindDespiteReusePort() throws Exception {
    try (Conduit first = socksConduit(Timeouts.defaults(), new Net.RecordingObserver())) {
      int port = first.address("socks").getPort();
      Conduit second = Conduit.builder().resources(resources)
          .listener(Listener.builder("again").bind("127.0.0.1:" + port).protocol(InboundProtocols.socks()).build())
          .build();
      assertThatThrownBy(second::start).isInstanceOf(java.net.BindException.class)
          .hasMessageContaining("listener again: cannot bind")
          .hasMessageContaining("in use");
      assertThat(listeningSockets(port)).isEqualTo(resources.isNativeTransport() ? 2 : 1);
    }
    try (java.net.ServerSocket other = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
      Conduit conduit = Conduit.builder().resources(resources)
          .listener(Listener.builder("taken").bind("127.0.0.1:" + other.getLocalPort())
              .protocol(InboundProtocols.socks()).build())
          .build();
      assertThatThrownBy(conduit::start).isInstanceOf(java.net.BindException.class)
          .hasMessageContaining("listener taken: cannot bind");
    }
  }

  /**
   * Garbage is refused at once; silent, truncated and one-byte-a-second clients are still open and
   * waiting while several real clients are served, then each is closed at the negotiation timeout.
   */
  @Test
  void badClientsGetClosedWithinTheNegotiationTimeoutWhileOthersAreServed() throws Exception {
    Processes.requireTool("curl");
    Duration negotiation = Duration.ofSeconds(4);
    Net.RecordingObserver observer = new Net.RecordingObserver();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    List<Socket> sockets = new ArrayList<>();
    try (Conduit conduit = socksConduit(Timeouts.builder().negotiation(negotiation).build(), observer)) {
      int port = conduit.address("socks").getPort();

      // garbage: refused long before the negotiation timeout
      byte[] random = new byte[4096];
      new Random(7).nextBytes(random);
      random[0] = 5; // looks like SOCKS5, then nonsense
      List<byte[]> garbage = List.of(random, new byte[] {0x16, 3, 1});
      // random methods, none of them NO_AUTH: "no acceptable method"; a TLS hello: not SOCKS, closed unanswered
      List<byte[]> replies = List.of(new byte[] {5, (byte) 0xFF}, new byte[0]);
      for (int i = 0; i < garbage.size(); i++) {
        byte[] input = garbage.get(i);
        long start = System.nanoTime();
        try (Socket s = new Socket(Net.LOOPBACK, port)) {
          s.setSoTimeout(10_000);
          try {
            s.getOutputStream().write(input);
          } catch (IOException closedWhileWriting) {
            // conduit may close before it read everything
          }
          assertThat(readUntilClosed(s)).as("reply to garbage " + i).isEqualTo(replies.get(i));
        }
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("garbage closed before the timeout")
            .isLessThan(negotiation.minusMillis(500));
      }

      // stalled: nothing, a truncated greeting, a truncated SOCKS4 request; all stay open
      List<byte[]> stalledInputs = List.of(new byte[0], new byte[] {5, 3, 0}, new byte[] {4, 1, 0});
      List<Long> starts = new ArrayList<>();
      for (byte[] input : stalledInputs) {
        starts.add(System.nanoTime());
        Socket s = new Socket(Net.LOOPBACK, port);
        sockets.add(s);
        s.getOutputStream().write(input);
        s.getOutputStream().flush();
      }
      // and a greeting offering ten methods (12 bytes), sent one byte a second
      byte[] greeting = {5, 10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
      AtomicInteger trickled = new AtomicInteger();
      long trickleStart = System.nanoTime();
      Socket trickle = new Socket(Net.LOOPBACK, port);
      sockets.add(trickle);
      trickle.setTcpNoDelay(true);
      Future<?> writer = pool.submit(() -> Net.trickle(trickle, greeting, trickled));

      Net.await(Duration.ofSeconds(5), "garbage closed, stalled clients open",
          () -> conduit.activeConnections() == stalledInputs.size() + 1);
      for (Socket s : sockets) {
        Net.assertStalled(s);
      }
      assertThat(trickled.get()).isPositive().isLessThan(greeting.length);

      // meanwhile real clients are served
      for (String flag : List.of("--socks5", "--socks5-hostname", "--socks4", "--socks5")) {
        Processes.Result ok = curl(flag, port, "/hello");
        assertThat(ok.exitCode()).as(flag + ": " + ok.stderr()).isZero();
        assertThat(ok.out()).isEqualTo("hello");
      }

      // then the stalled ones are closed at the timeout, without a reply (SOCKS has none before the request)
      for (int i = 0; i < stalledInputs.size(); i++) {
        assertClosedAtTheTimeout(sockets.get(i), starts.get(i), negotiation);
      }
      assertClosedAtTheTimeout(trickle, trickleStart, negotiation);
      // it was still trickling: two or more bytes had gone, but not the whole greeting
      assertThat(trickled.get()).isBetween(2, greeting.length - 1);
      trickle.close();
      writer.get(5, TimeUnit.SECONDS);

      Net.await(Duration.ofSeconds(5), "all closed", () -> conduit.activeConnections() == 0);
      List<ConnectionSummary> closed = observer.drainClosed();
      List<Outcome> outcomes = closed.stream().map(ConnectionSummary::outcome).toList();
      String details = closed.stream().map(c -> c.outcome() + ": " + c.detail()).toList().toString();
      assertThat(outcomes).as(details).hasSize(garbage.size() + stalledInputs.size() + 1 + 4);
      assertThat(outcomes.stream().filter(o -> o == Outcome.NEGOTIATION_TIMEOUT)).hasSize(stalledInputs.size() + 1);
      assertThat(outcomes).as(details).contains(Outcome.AUTH_FAILED, Outcome.PROTOCOL_ERROR);
      assertThat(outcomes.stream().filter(o -> o == Outcome.OK)).hasSize(4);
    } finally {
      for (Socket s : sockets) {
        s.close();
      }
      pool.shutdownNow();
      assertThat(pool.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
    }
  }

  /** Reads {@code s} to its end: no reply, closed no sooner than the timeout and not much later. */
  private static void assertClosedAtTheTimeout(Socket s, long startNanos, Duration timeout) throws IOException {
    assertThat(Net.readToTheCloseAtTheTimeout(s, startNanos, timeout)).as("no reply, just a close").isEmpty();
  }

  @Test
  void greetingSplitAcrossSegmentsStillWorks() throws Exception {
    try (Conduit conduit = socksConduit(Timeouts.defaults(), new Net.RecordingObserver());
        Socket s = new Socket(Net.LOOPBACK, conduit.address("socks").getPort())) {
      s.setTcpNoDelay(true);
      s.setSoTimeout(5000);
      for (byte b : new byte[] {5, 1, 0}) {
        s.getOutputStream().write(b);
        Thread.sleep(50);
      }
      assertThat(s.getInputStream().readNBytes(2)).containsExactly(5, 0);
    }
  }

  @Test
  void observerSeesTheWholeLifeWithExactByteCounts() throws Exception {
    Processes.requireTool("curl");
    Net.RecordingObserver observer = new Net.RecordingObserver();
    try (Conduit conduit = socksConduit(Timeouts.defaults(), observer)) {
      int port = conduit.address("socks").getPort();
      Processes.Result r = Processes.run("curl", "-sS", "--max-time", "10", "--socks5", "127.0.0.1:" + port,
          "-w", "%{size_request} %{size_header} %{size_download}", "-o", "/dev/null",
          origin.uri("/bytes?n=100000").toString());
      assertThat(r.exitCode()).as(r.stderr()).isZero();
      String[] sizes = r.out().trim().split(" ");
      long request = Long.parseLong(sizes[0]);
      long response = Long.parseLong(sizes[1]) + Long.parseLong(sizes[2]);
      ConnectionSummary s = observer.nextClosed();
      String id = s.connection().id();
      assertThat(List.copyOf(observer.events)).containsExactly(
          "accepted " + id,
          "routed " + id + " default",
          "dialStarted " + id + " direct",
          "dialSucceeded " + id + " direct " + origin.port(),
          "closed " + id + " OK");
      // curl's SOCKS5 handshake: greeting offering no-auth and GSSAPI (4) + CONNECT to an IPv4 address (10);
      // replies 2 + 10
      assertThat(s.bytesFromClient()).isEqualTo(request + 4 + 10);
      assertThat(s.bytesToClient()).isEqualTo(response + 2 + 10);
      assertThat(s.outcome()).isEqualTo(Outcome.OK);
      assertThat(s.requests()).isEqualTo(1);
      assertThat(s.rule()).contains("default");
      assertThat(s.outbound()).contains("direct");
      assertThat(s.dialed().orElseThrow().getPort()).isEqualTo(origin.port());

      // a failure: outcome and detail
      observer.events.clear();
      int closed = Net.closedPort();
      try (Net.Socks5Result failed = Net.socks5(conduit.address("socks"), "127.0.0.1", closed, null)) {
        assertThat(failed.reply()).isEqualTo(5);
      }
      ConnectionSummary f = observer.nextClosed();
      assertThat(f.outcome()).isEqualTo(Outcome.DIAL_FAILED);
      assertThat(observer.events).anyMatch(e -> e.startsWith("dialFailed ") && e.endsWith("CONNECTION_REFUSED"));
    }
  }

  @Test
  void mixedListenerSpeaksSocksAndHandsOtherBytesToHttp() throws Exception {
    Processes.requireTool("curl");
    Net.RecordingObserver observer = new Net.RecordingObserver();
    try (Conduit conduit = Conduit.builder().resources(resources)
        .listener(Listener.builder("mixed").bind("127.0.0.1:0").protocol(InboundProtocols.mixed()).build())
        .observer(observer)
        .build().start()) {
      int port = conduit.address("mixed").getPort();
      for (String flag : new String[] {"--socks5", "--socks4", "--socks4a", "--socks5-hostname"}) {
        Processes.Result r = curl(flag, port, "/hello");
        assertThat(r.exitCode()).as(flag + ": " + r.stderr()).isZero();
        assertThat(r.out()).isEqualTo("hello");
      }
      // HTTP goes to the HTTP inbound: an answer once it exists, a clean close while it is a placeholder
      try (Socket s = new Socket(Net.LOOPBACK, port)) {
        s.setSoTimeout(5000);
        s.getOutputStream().write("GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        byte[] answer = readUntilClosed(s);
        if (answer != null && answer.length > 0) {
          assertThat(new String(answer, StandardCharsets.US_ASCII)).startsWith("HTTP/1.");
        }
      }
      // and the listener keeps serving
      Processes.Result again = curl("--socks5", port, "/hello");
      assertThat(again.exitCode()).as(again.stderr()).isZero();
    }
  }

  @Test
  void mixedDetectorRoutesByFirstByteAndSurvivesAFailingProtocol() throws Exception {
    List<String> httpSaw = new java.util.concurrent.CopyOnWriteArrayList<>();
    MixedInbound recording = new MixedInbound(
        (ch, ctx) -> ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
          @Override
          public void channelRead(ChannelHandlerContext c, Object msg) {
            ByteBuf b = (ByteBuf) msg;
            httpSaw.add(b.toString(StandardCharsets.US_ASCII));
            b.release();
            c.writeAndFlush(Unpooled.copiedBuffer("HTTP/1.1 204 No Content\r\n\r\n", StandardCharsets.US_ASCII))
                .addListener(io.netty.channel.ChannelFutureListener.CLOSE);
          }
        }),
        (ch, ctx) -> SocksInbound.install(ch, ctx, SocksInboundOptions.defaults()));
    MixedInbound failing = new MixedInbound(
        (ch, ctx) -> {
          throw new IllegalStateException("no HTTP here");
        },
        (ch, ctx) -> {
          throw new IllegalStateException("no SOCKS here");
        });
    Net.RecordingObserver observer = new Net.RecordingObserver();
    try (Conduit conduit = Conduit.builder().resources(resources)
        .listener(Listener.builder("recording").bind("127.0.0.1:0").protocol(recording).build())
        .listener(Listener.builder("failing").bind("127.0.0.1:0").protocol(failing).build())
        .observer(observer)
        .build().start()) {
      try (Socket s = new Socket(Net.LOOPBACK, conduit.address("recording").getPort())) {
        s.setSoTimeout(5000);
        s.getOutputStream().write("GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        assertThat(new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 204");
      }
      assertThat(String.join("", httpSaw)).startsWith("GET / HTTP/1.1");
      for (byte[] first : new byte[][] {"GET".getBytes(StandardCharsets.US_ASCII), {5, 1, 0}}) {
        try (Socket s = new Socket(Net.LOOPBACK, conduit.address("failing").getPort())) {
          s.setSoTimeout(5000);
          s.getOutputStream().write(first);
          byte[] answer = readUntilClosed(s);
          assertThat(answer == null || answer.length == 0).isTrue();
        }
        ConnectionSummary summary = observer.nextClosed();
        while (!summary.connection().listener().equals("failing")) {
          summary = observer.nextClosed();
        }
        assertThat(summary.outcome()).isEqualTo(Outcome.ERROR);
        assertThat(summary.detail()).contains("protocol failed to start");
      }
    }
  }

  @Test
  void gracefulStopDrainsThenCloses() throws Exception {
    Net.RecordingObserver observer = new Net.RecordingObserver();
    try (Net.TcpServer echo = Net.echo()) {
      Conduit conduit = socksConduit(Timeouts.builder().drain(Duration.ofMillis(1500)).build(), observer);
      int port = conduit.address("socks").getPort();
      Net.Socks5Result finishing = Net.socks5(conduit.address("socks"), "127.0.0.1", echo.port(), null);
      Net.Socks5Result lingering = Net.socks5(conduit.address("socks"), "127.0.0.1", echo.port(), null);
      assertThat(finishing.reply()).isZero();
      assertThat(lingering.reply()).isZero();
      assertThat(conduit.activeConnections()).isEqualTo(2);

      long start = System.nanoTime();
      CompletableFuture<Void> stopped = conduit.stop();
      // no longer accepting
      assertThatThrownBy(() -> new Socket(Net.LOOPBACK, port).close()).isInstanceOf(ConnectException.class);
      // open tunnels keep working
      for (Net.Socks5Result t : List.of(finishing, lingering)) {
        t.socket().getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
        assertThat(t.socket().getInputStream().readNBytes(4)).isEqualTo("ping".getBytes(StandardCharsets.US_ASCII));
      }
      // one finishes on its own
      finishing.close();
      Net.await(Duration.ofSeconds(2), "one left", () -> conduit.activeConnections() == 1);
      assertThat(stopped).isNotDone();
      // the other is closed at the drain deadline
      assertThat(readUntilClosed(lingering.socket())).isNotNull().isEmpty();
      stopped.get(5, TimeUnit.SECONDS);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(1400));
      assertThat(conduit.activeConnections()).isZero();
      lingering.close();
      List<Outcome> outcomes = List.of(observer.nextClosed().outcome(), observer.nextClosed().outcome());
      assertThat(outcomes).containsExactlyInAnyOrder(Outcome.OK, Outcome.CLOSED_BY_CONDUIT);
    }
  }
}
