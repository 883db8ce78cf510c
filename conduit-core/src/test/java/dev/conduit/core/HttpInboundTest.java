package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.inbound.HttpInboundOptions;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The HTTP proxy inbound against real clients (curl, the JDK's HttpClient, raw sockets). */
class HttpInboundTest {
  static TestOrigin origin;
  static Conduit conduit;
  static Conduit authConduit;
  static ServerSocket silentProxy;
  static ServerSocket echo;
  static Thread echoThread;

  @BeforeAll
  static void start() throws Exception {
    origin = TestOrigin.start();
    // accepts TCP (the kernel completes the handshake) and never answers: a hop that times out
    silentProxy = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
    echo = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
    echoThread = new Thread(HttpInboundTest::echoLoop, "echo");
    echoThread.setDaemon(true);
    echoThread.start();
    Outbound slow = Outbound.builder("slow")
        .hop(Hop.builder(Hop.Protocol.HTTP).endpoint(Destination.of("127.0.0.1", silentProxy.getLocalPort())).build())
        .build();
    Router router = Router.builder()
        .rule(Rule.builder("block").domain("blocked.test").decision(RouteDecision.reject("blocked for the test")).build())
        .rule(Rule.builder("slow").domain("slow.test").decision(RouteDecision.via("slow")).build())
        .build();
    Timeouts timeouts = Timeouts.builder()
        .negotiation(Duration.ofSeconds(1))
        .dial(Duration.ofSeconds(2))
        .drain(Duration.ZERO)
        .build();
    conduit = Conduit.builder()
        .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http()).build())
        .outbound(slow)
        .router(router)
        .timeouts(timeouts)
        .build().start();
    authConduit = Conduit.builder()
        .listener(Listener.builder("http").bind("127.0.0.1:0")
            .protocol(InboundProtocols.http(HttpInboundOptions.builder()
                .authenticator(Authenticator.of(new Credentials("alice", "s3cret"))).realm("test realm").build()))
            .build())
        .timeouts(timeouts)
        .build().start();
  }

  @AfterAll
  static void stop() throws IOException {
    conduit.close();
    authConduit.close();
    origin.close();
    silentProxy.close();
    echo.close();
  }

  private static void echoLoop() {
    while (!echo.isClosed()) {
      try {
        Socket s = echo.accept();
        Thread t = new Thread(() -> {
          try (s) {
            s.getInputStream().transferTo(s.getOutputStream());
          } catch (IOException ignored) {
            // the client went away
          }
        });
        t.setDaemon(true);
        t.start();
      } catch (IOException e) {
        return;
      }
    }
  }

  private static String proxyUrl(Conduit c) {
    return "http://127.0.0.1:" + c.address("http").getPort();
  }

  private static Processes.Result curl(Conduit c, String... args) throws Exception {
    Processes.requireTool("curl");
    List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "20", "-x", proxyUrl(c)));
    cmd.addAll(List.of(args));
    return Processes.run(30, cmd);
  }

  /**
   * Origins that close the connection after their response (HTTP/1.0, or HTTP/1.1 with {@code Connection: close};
   * with a length, or delimited by the close), the head and the body in separate writes as Python's http.server
   * sends them: a keep-alive client gets the whole response at once, not when it gives up waiting.
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {
      "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n",
      "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\n",
      "HTTP/1.0 200 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"})
  void aResponseFromAnOriginThatClosesReachesAKeepAliveClientWhole(String head) throws Exception {
    try (Net.TcpServer origin = new Net.TcpServer(s -> {
      java.io.InputStream in = s.getInputStream();
      for (int matched = 0, b; matched < 4 && (b = in.read()) >= 0; ) {
        matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : b == '\r' ? 1 : 0;
      }
      s.getOutputStream().write(head.getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      Thread.sleep(50);
      s.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
    })) {
      // a time limit well below the idle timeouts: the bug this guards against held the body until the client left
      Processes.Result r = curl(conduit, "--max-time", "5", "http://127.0.0.1:" + origin.port() + "/");
      assertThat(r.exitCode()).as(r.stderr()).isZero();
      assertThat(r.out()).isEqualTo("hello");
    }
  }

  @Test
  void getThroughCurlRemovesHopByHopHeadersAndAddsVia() throws Exception {
    Processes.Result r = curl(conduit, "-i",
        "-H", "Connection: X-Private",
        "-H", "X-Private: secret",
        "-H", "Keep-Alive: timeout=5",
        "-H", "TE: trailers",
        "-H", "Proxy-Authorization: Basic Zm9vOmJhcg==",
        "-H", "X-End-To-End: kept",
        origin.uri("/hello").toString());
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    String out = r.out().toLowerCase();
    assertThat(out).startsWith("http/1.1 200").endsWith("hello");
    assertThat(out).contains("x-seen-header-x-end-to-end: kept");
    assertThat(out).contains("x-seen-header-via: 1.1 conduit");
    assertThat(out).contains("x-seen-path: /hello");
    assertThat(out).contains("x-seen-header-host: 127.0.0.1:" + origin.port());
    assertThat(out).doesNotContain("x-seen-header-x-private", "x-seen-header-keep-alive", "x-seen-header-te:",
        "x-seen-header-proxy-authorization", "x-seen-header-proxy-connection", "x-seen-header-connection");
    // and on the way back
    assertThat(out).contains("\nvia: 1.1 conduit");
  }

  /** Three requests on one kept client connection: curl connects once, conduit dials the origin once. */
  @Test
  void keepAliveReusesOneConnectionPerSide() throws Exception {
    Net.RecordingObserver observer = new Net.RecordingObserver();
    try (Conduit counted = Conduit.builder()
        .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http()).build())
        .observer(observer)
        .timeouts(Timeouts.builder().drain(Duration.ZERO).build())
        .build().start()) {
      Processes.Result r = curl(counted, "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
          "-w", "%{http_code} %{num_connects}\\n",
          origin.uri("/hello").toString(), origin.uri("/bytes?n=100000").toString(), origin.uri("/hello").toString());
      assertThat(r.exitCode()).as(r.stderr()).isZero();
      assertThat(r.out().lines().toList()).containsExactly("200 1", "200 0", "200 0");
      ConnectionSummary s = observer.nextClosed();
      assertThat(s.outcome()).as(s.detail()).isEqualTo(Outcome.OK);
      assertThat(s.requests()).isEqualTo(3);
      List<String> events = List.copyOf(observer.events);
      String id = s.connection().id();
      // one client connection, one dial to the origin
      assertThat(events.stream().filter(e -> e.startsWith("accepted "))).containsExactly("accepted " + id);
      assertThat(events.stream().filter(e -> e.startsWith("dialStarted "))).as(events.toString())
          .containsExactly("dialStarted " + id + " direct");
      assertThat(events.stream().filter(e -> e.startsWith("dialSucceeded "))).as(events.toString())
          .containsExactly("dialSucceeded " + id + " direct " + origin.port());
      Net.await(Duration.ofSeconds(5), "closed", () -> counted.activeConnections() == 0);
    }
  }

  @Test
  void summaryCountsRequestsNotDials() throws Exception {
    Net.RecordingObserver observer = new Net.RecordingObserver();
    try (Conduit counted = Conduit.builder()
        .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http()).build())
        .observer(observer)
        .build().start()) {
      // four requests on one kept connection: one dial to the origin, then another origin (a second
      // dial), then back (a third)
      Processes.Result r = curl(counted, "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
          "-w", "%{http_code}\\n",
          origin.uri("/hello").toString(), origin.uri("/hello").toString(),
          origin.uri("/hello").toString().replace("127.0.0.1", "localhost"), origin.uri("/hello").toString());
      assertThat(r.exitCode()).as(r.stderr()).isZero();
      assertThat(r.out().lines().toList()).containsExactly("200", "200", "200", "200");
      ConnectionSummary s = observer.nextClosed();
      assertThat(s.outcome()).as(s.detail()).isEqualTo(Outcome.OK);
      assertThat(s.requests()).isEqualTo(4);
    }
  }

  @Test
  void headRequestsKeepTheConnection() throws Exception {
    Processes.Result r = curl(conduit, "-I", "-o", "/dev/null", "-o", "/dev/null",
        "-w", "%{http_code} %{num_connects}\\n",
        origin.uri("/bytes?n=5000").toString(), origin.uri("/hello").toString());
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(r.out().lines().toList()).containsExactly("200 1", "200 0");
  }

  @Test
  void largePostWithExpectContinueIsStreamedBothWays(@TempDir Path dir) throws Exception {
    byte[] body = TestOrigin.bytes(5 << 20);
    Path file = dir.resolve("body.bin");
    Files.write(file, body);
    Processes.Result r = curl(conduit, "-v", "--data-binary", "@" + file, "-H", "Content-Type: application/octet-stream",
        origin.uri("/echo").toString());
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(r.stderr()).contains("Expect: 100-continue").contains("HTTP/1.1 100 Continue");
    assertThat(r.stdout()).isEqualTo(body);
  }

  @Test
  void chunkedUploadAndEchoedBody(@TempDir Path dir) throws Exception {
    byte[] body = TestOrigin.bytes(3 << 20);
    Path file = dir.resolve("body.bin");
    Files.write(file, body);
    Processes.Result r = curl(conduit, "-H", "Transfer-Encoding: chunked", "-H", "Expect:", "--data-binary", "@" + file,
        origin.uri("/echo").toString());
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(r.stdout()).isEqualTo(body);
  }

  @Test
  void largeDownload() throws Exception {
    Processes.Result r = curl(conduit, origin.uri("/bytes?n=" + (8 << 20)).toString());
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(r.stdout()).isEqualTo(TestOrigin.bytes(8 << 20));
  }

  @Test
  void connectTunnelWithCurl() throws Exception {
    Processes.Result r = curl(conduit, "-p", "-v", origin.uri("/hello").toString());
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(r.out()).isEqualTo("hello");
    assertThat(r.stderr()).contains("200 Connection established");
  }

  @Test
  void proxyAuthentication() throws Exception {
    Processes.Result ok = curl(authConduit, "--proxy-user", "alice:s3cret", origin.uri("/hello").toString());
    assertThat(ok.exitCode()).as(ok.stderr()).isZero();
    assertThat(ok.out()).isEqualTo("hello");
    Processes.Result tunnel = curl(authConduit, "-p", "--proxy-user", "alice:s3cret", origin.uri("/hello").toString());
    assertThat(tunnel.exitCode()).as(tunnel.stderr()).isZero();
    assertThat(tunnel.out()).isEqualTo("hello");
    Processes.Result wrong = curl(authConduit, "-i", "--proxy-user", "alice:wrong", origin.uri("/hello").toString());
    assertThat(wrong.exitCode()).as(wrong.stderr()).isZero();
    assertThat(wrong.out()).startsWith("HTTP/1.1 407").contains("Proxy-Authenticate: Basic realm=\"test realm\"")
        .contains("Connection: close");
    Processes.Result none = curl(authConduit, "-i", origin.uri("/hello").toString());
    assertThat(none.out()).startsWith("HTTP/1.1 407");
    assertThat(origin.requests()).isPositive();
  }

  @Test
  void jdkHttpClientThroughProxySelector() throws Exception {
    HttpClient client = HttpClient.newBuilder()
        .proxy(ProxySelector.of(conduit.address("http")))
        .connectTimeout(Duration.ofSeconds(5))
        .build();
    for (int i = 0; i < 3; i++) {
      HttpResponse<String> get = client.send(HttpRequest.newBuilder(origin.uri("/hello")).timeout(Duration.ofSeconds(10))
          .build(), HttpResponse.BodyHandlers.ofString());
      assertThat(get.statusCode()).isEqualTo(200);
      assertThat(get.body()).isEqualTo("hello");
    }
    byte[] body = TestOrigin.bytes(300_000);
    HttpResponse<byte[]> post = client.send(HttpRequest.newBuilder(origin.uri("/echo")).timeout(Duration.ofSeconds(10))
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofByteArray());
    assertThat(post.statusCode()).isEqualTo(200);
    assertThat(post.body()).isEqualTo(body);
  }

  @Test
  void earlyBytesAfterConnectReachTheUpstreamInOrder() throws Exception {
    try (Socket s = connectToProxy(conduit)) {
      String payload = "first bytes before the 200, then more";
      s.getOutputStream().write(("CONNECT 127.0.0.1:" + echo.getLocalPort() + " HTTP/1.1\r\nHost: x\r\n\r\n" + payload)
          .getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      InputStream in = s.getInputStream();
      assertThat(readHead(in)).startsWith("HTTP/1.1 200 Connection established");
      assertThat(new String(in.readNBytes(payload.length()), StandardCharsets.US_ASCII)).isEqualTo(payload);
      s.getOutputStream().write("later".getBytes(StandardCharsets.US_ASCII));
      assertThat(new String(in.readNBytes(5), StandardCharsets.US_ASCII)).isEqualTo("later");
    }
  }

  @Test
  void webSocketUpgradeIsPassedThrough() throws Exception {
    try (WebSocketEchoServer ws = WebSocketEchoServer.start(); Socket s = connectToProxy(conduit)) {
      String req = "GET http://127.0.0.1:" + ws.port() + "/ws HTTP/1.1\r\n"
          + "Host: 127.0.0.1:" + ws.port() + "\r\n"
          + "Upgrade: websocket\r\nConnection: Upgrade\r\n"
          + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
      OutputStream out = s.getOutputStream();
      out.write(req.getBytes(StandardCharsets.US_ASCII));
      InputStream in = s.getInputStream();
      String head = readHead(in);
      assertThat(head).startsWith("HTTP/1.1 101").containsIgnoringCase("upgrade: websocket")
          .contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
      byte[] text = "ping through conduit".getBytes(StandardCharsets.UTF_8);
      out.write(maskedTextFrame(text));
      out.flush();
      int b0 = in.read();
      int len = in.read();
      assertThat(b0).isEqualTo(0x81);
      assertThat(len).isEqualTo(text.length);
      assertThat(in.readNBytes(len)).isEqualTo(text);
    }
  }

  @Test
  void dialErrorsBecomeStatusesWithProxyStatus() throws Exception {
    int closedPort;
    try (ServerSocket ss = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closedPort = ss.getLocalPort();
    }
    Processes.Result refused = curl(conduit, "-i", "http://127.0.0.1:" + closedPort + "/");
    assertThat(refused.out()).startsWith("HTTP/1.1 502").contains("Proxy-Status: conduit; error=connection_refused")
        .contains("Content-Type: text/plain");
    Processes.Result refusedTunnel = curl(conduit, "-p", "-v", "http://127.0.0.1:" + closedPort + "/");
    assertThat(refusedTunnel.exitCode()).isNotZero();
    assertThat(refusedTunnel.stderr()).contains("502");

    Processes.Result blocked = curl(conduit, "-i", "http://blocked.test/");
    assertThat(blocked.out()).startsWith("HTTP/1.1 403").contains("error=destination_ip_prohibited");

    Processes.Result timeout = curl(conduit, "-i", "http://slow.test/");
    assertThat(timeout.out()).startsWith("HTTP/1.1 504").contains("Proxy-Status: conduit; error=connection_timeout");

    // a DNS failure (or, without a reachable DNS server, a DNS timeout)
    Processes.Result unresolvable = curl(conduit, "-i", "http://no-such-host.invalid/");
    String first = unresolvable.out().lines().findFirst().orElse("");
    if (first.startsWith("HTTP/1.1 502")) {
      assertThat(unresolvable.out()).contains("error=destination_unavailable");
    } else {
      assertThat(first).startsWith("HTTP/1.1 504");
      assertThat(unresolvable.out()).contains("error=connection_timeout");
    }
  }

  @Test
  void originFormAndBadTargetsGet400() throws Exception {
    assertThat(rawExchange(conduit, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")).startsWith("HTTP/1.1 400")
        .contains("origin-form");
    assertThat(rawExchange(conduit, "GET http://127.0.0.1:99999/ HTTP/1.1\r\nHost: x\r\n\r\n")).startsWith("HTTP/1.1 400")
        .contains("bad port");
    assertThat(rawExchange(conduit, "CONNECT 127.0.0.1 HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 400")
        .contains("missing port");
    assertThat(rawExchange(conduit, "\u0016\u0003\u0001garbage\r\n\r\n")).startsWith("HTTP/1.1 400");
  }

  /**
   * Garbage, an oversized request line and a 1 MiB header are answered at once (400, 414, 431);
   * silent, truncated, paused-mid-header and one-byte-a-second clients are still open and waiting
   * while several real clients are served, then each is closed at the negotiation timeout.
   */
  @Test
  void badClientsAreCutOffWhileOthersAreServed() throws Exception {
    Duration negotiation = Duration.ofSeconds(4);
    Net.RecordingObserver observer = new Net.RecordingObserver();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    List<Socket> sockets = new ArrayList<>();
    try (Conduit guarded = Conduit.builder()
        .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http()).build())
        .observer(observer)
        .timeouts(Timeouts.builder().negotiation(negotiation).drain(Duration.ZERO).build())
        .build().start()) {
      String target = "http://127.0.0.1:" + origin.port() + "/hello";

      // answered at once with a clear status
      byte[] junk = new byte[200_000];
      new Random(42).nextBytes(junk);
      byte[] hugeHeader = ("GET " + target + " HTTP/1.1\r\nX-Big: " + "a".repeat(1 << 20) + "\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII);
      byte[] hugeLine = ("GET http://127.0.0.1/" + "a".repeat(20_000) + " HTTP/1.1\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII);
      for (Object[] c : new Object[][] {{junk, "HTTP/1.1 400"}, {hugeHeader, "HTTP/1.1 431"}, {hugeLine, "HTTP/1.1 414"}}) {
        long start = System.nanoTime();
        assertThat(rawExchange(guarded, (byte[]) c[0])).startsWith((String) c[1]);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(negotiation.minusMillis(500));
      }

      // stalled: nothing, a head missing its blank line, a 1 MiB header line paused after 32 KiB
      List<String> stalledInputs = List.of(
          "",
          "GET " + target + " HTTP/1.1\r\nHost: x\r\n",
          "GET " + target + " HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(32 << 10));
      List<Long> starts = new ArrayList<>();
      for (String input : stalledInputs) {
        starts.add(System.nanoTime());
        Socket s = connectToProxy(guarded);
        sockets.add(s);
        s.getOutputStream().write(input.getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
      }
      // and a request head sent one byte a second
      byte[] slowHead = ("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
      AtomicInteger trickled = new AtomicInteger();
      long trickleStart = System.nanoTime();
      Socket trickle = connectToProxy(guarded);
      sockets.add(trickle);
      trickle.setTcpNoDelay(true);
      Future<?> writer = pool.submit(() -> Net.trickle(trickle, slowHead, trickled));

      Net.await(Duration.ofSeconds(5), "stalled clients open",
          () -> guarded.activeConnections() == stalledInputs.size() + 1);
      for (Socket s : sockets) {
        Net.assertStalled(s);
      }
      assertThat(trickled.get()).isPositive().isLessThan(slowHead.length);

      // meanwhile real clients are served
      for (int i = 0; i < 4; i++) {
        Processes.Result ok = curl(guarded, i % 2 == 0 ? target : origin.uri("/bytes?n=1000").toString());
        assertThat(ok.exitCode()).as(ok.stderr()).isZero();
        assertThat(ok.stdout()).isEqualTo(i % 2 == 0 ? "hello".getBytes(StandardCharsets.US_ASCII) : TestOrigin.bytes(1000));
      }

      // then the stalled ones are closed at the timeout
      for (int i = 0; i < stalledInputs.size(); i++) {
        // a client that began a request is told why (408); a silent one is just closed
        String answer = assertClosedAtTheTimeout(sockets.get(i), starts.get(i), negotiation);
        if (stalledInputs.get(i).isEmpty()) {
          assertThat(answer).isEmpty();
        } else {
          assertThat(answer).startsWith("HTTP/1.1 408 Request Timeout");
        }
      }
      // (the trickle may get its 408 or, its next byte meeting the closed socket, a reset)
      assertClosedAtTheTimeout(trickle, trickleStart, negotiation);
      // it was still trickling: two or more bytes had gone, far from the whole head
      assertThat(trickled.get()).isBetween(2, slowHead.length - 1);
      trickle.close();
      writer.get(5, TimeUnit.SECONDS);

      Net.await(Duration.ofSeconds(5), "all closed", () -> guarded.activeConnections() == 0);
      List<ConnectionSummary> closed = observer.drainClosed();
      List<Outcome> outcomes = closed.stream().map(ConnectionSummary::outcome).toList();
      String details = closed.stream().map(c -> c.outcome() + ": " + c.detail()).toList().toString();
      assertThat(outcomes).as(details).hasSize(3 + stalledInputs.size() + 1 + 4);
      assertThat(outcomes.stream().filter(o -> o == Outcome.PROTOCOL_ERROR)).as(details).hasSize(3);
      assertThat(outcomes.stream().filter(o -> o == Outcome.NEGOTIATION_TIMEOUT)).as(details)
          .hasSize(stalledInputs.size() + 1);
      assertThat(outcomes.stream().filter(o -> o == Outcome.OK)).as(details).hasSize(4);
    } finally {
      for (Socket s : sockets) {
        s.close();
      }
      pool.shutdownNow();
      assertThat(pool.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
    }
  }

  /** A kept connection that sends nothing after its response is closed at the HTTP idle timeout, not before. */
  @Test
  void idleKeptConnectionIsClosedAtTheHttpIdleTimeout() throws Exception {
    Duration idle = Duration.ofSeconds(2);
    try (Conduit idling = idleConduit(idle); Socket s = connectToProxy(idling)) {
      exchange(s, "GET http://127.0.0.1:" + origin.port() + "/hello HTTP/1.1\r\nHost: x\r\n\r\n", "hello");
      long start = System.nanoTime();
      assertThat(readUntilClosed(s)).isEmpty();
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(idle.minusMillis(100), idle.plusSeconds(3));
      Net.await(Duration.ofSeconds(5), "closed", () -> idling.activeConnections() == 0);
    }
  }

  /**
   * Requests every half idle timeout keep a connection open well past the timeout, and a response
   * slower than the timeout still arrives: the idle clock only runs between requests.
   */
  @Test
  void busyKeptConnectionOutlivesTheHttpIdleTimeout() throws Exception {
    Duration idle = Duration.ofSeconds(2);
    try (Conduit idling = idleConduit(idle); ServerSocket slowOrigin = slowOrigin(idle.plusSeconds(1));
        Socket s = connectToProxy(idling)) {
      String get = "GET http://127.0.0.1:" + origin.port() + "/hello HTTP/1.1\r\nHost: x\r\n\r\n";
      long start = System.nanoTime();
      for (int i = 0; i < 3; i++) {
        exchange(s, get, "hello");
        Thread.sleep(idle.toMillis() / 2);
      }
      // three exchanges and pauses took longer than the idle timeout, on one connection
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThan(idle);
      // a response that takes longer than the idle timeout
      long slowStart = System.nanoTime();
      exchange(s, "GET http://127.0.0.1:" + slowOrigin.getLocalPort() + "/ HTTP/1.1\r\nHost: x\r\n\r\n", "slow");
      assertThat(Duration.ofNanos(System.nanoTime() - slowStart)).isGreaterThan(idle);
      // and the same connection still serves, then idles out
      exchange(s, get, "hello");
      assertThat(readUntilClosed(s)).isEmpty();
    }
  }

  @Test
  void slowHeadersAreCutOffOnEveryRequestOfAKeptConnection() throws Exception {
    try (Socket s = connectToProxy(conduit)) {
      OutputStream out = s.getOutputStream();
      InputStream in = s.getInputStream();
      String get = "GET http://127.0.0.1:" + origin.port() + "/hello HTTP/1.1\r\nHost: x\r\n\r\n";
      out.write(get.getBytes(StandardCharsets.US_ASCII));
      String head = readHead(in);
      assertThat(head).startsWith("HTTP/1.1 200");
      assertThat(new String(in.readNBytes(5), StandardCharsets.US_ASCII)).isEqualTo("hello");
      // the second request dribbles in one byte every 200 ms: the 1 s negotiation timeout ends it
      long start = System.nanoTime();
      String rest = "";
      try {
        for (int i = 0; i < get.length() - 4; i++) {
          out.write(get.charAt(i));
          out.flush();
          Thread.sleep(200);
        }
      } catch (IOException closed) {
        // conduit closed the connection while we were writing
      }
      try {
        rest = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
      } catch (IOException reset) {
        // reset after the close
      }
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertThat(ms).isLessThan(4000);
      assertThat(rest).satisfiesAnyOf(x -> assertThat(x).startsWith("HTTP/1.1 408"), x -> assertThat(x).isEmpty());
    }
  }

  @Test
  void pipelinedRequestsAreAnsweredInOrderAndHttp10Closes() throws Exception {
    String get = "GET http://127.0.0.1:" + origin.port() + "/hello HTTP/1.1\r\nHost: x\r\n\r\n";
    String last = "GET http://127.0.0.1:" + origin.port() + "/bytes?n=3 HTTP/1.0\r\n\r\n";
    String out = rawExchange(conduit, get + get + last);
    assertThat(out.split("HTTP/1.1 200", -1)).hasSize(4);
    assertThat(out).endsWith(new String(TestOrigin.bytes(3), StandardCharsets.ISO_8859_1));
    assertThat(out.substring(out.lastIndexOf("HTTP/1.1 200"))).containsIgnoringCase("connection: close");
  }

  @Test
  void requestIsReplayedWhenAKeptUpstreamClosesUnanswered() throws Exception {
    // an origin that answers the first request of each connection, then closes on the next one
    try (ServerSocket flaky = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
      Thread t = new Thread(() -> {
        for (int n = 0; n < 2; n++) {
          try (Socket s = flaky.accept()) {
            InputStream in = s.getInputStream();
            readHead(in);
            s.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(StandardCharsets.US_ASCII));
            readHead(in);
          } catch (IOException e) {
            return;
          }
        }
      });
      t.setDaemon(true);
      t.start();
      try (Socket s = connectToProxy(conduit)) {
        String get = "GET http://127.0.0.1:" + flaky.getLocalPort() + "/ HTTP/1.1\r\nHost: x\r\n\r\n";
        InputStream in = s.getInputStream();
        for (int i = 0; i < 2; i++) {
          s.getOutputStream().write(get.getBytes(StandardCharsets.US_ASCII));
          assertThat(readHead(in)).as("request " + i).startsWith("HTTP/1.1 200");
          assertThat(new String(in.readNBytes(2), StandardCharsets.US_ASCII)).isEqualTo("ok");
        }
      }
    }
  }

  @Test
  void mixedListenerServesHttp() throws Exception {
    try (Conduit mixed = Conduit.builder()
        .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.mixed()).build())
        .timeouts(Timeouts.builder().drain(Duration.ZERO).build())
        .build().start()) {
      Processes.Result r = curl(mixed, origin.uri("/hello").toString(), "-p", origin.uri("/hello").toString());
      assertThat(r.exitCode()).as(r.stderr()).isZero();
      assertThat(r.out()).isEqualTo("hellohello");
    }
  }

  @Test
  void chainedConduitReportsTheFarDialFailureTruthfully() throws Exception {
    int closedPort;
    try (ServerSocket ss = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closedPort = ss.getLocalPort();
    }
    Outbound viaConduit = Outbound.builder("far")
        .hop(Hop.builder(Hop.Protocol.HTTP).endpoint(Destination.of(conduit.address("http"))).build())
        .build();
    try (Conduit near = Conduit.builder()
        .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http()).build())
        .outbound(viaConduit)
        .router(Router.builder().defaultDecision(RouteDecision.via("far")).build())
        .timeouts(Timeouts.builder().drain(Duration.ZERO).build())
        .build().start()) {
      Processes.Result refused = curl(near, "-i", "http://127.0.0.1:" + closedPort + "/");
      assertThat(refused.out()).startsWith("HTTP/1.1 502").contains("error=connection_refused");
      Processes.Result blocked = curl(near, "-i", "http://blocked.test/");
      assertThat(blocked.out()).startsWith("HTTP/1.1 403");
      Processes.Result ok = curl(near, origin.uri("/hello").toString());
      assertThat(ok.out()).isEqualTo("hello");
    }
  }

  // ---------------------------------------------------------------- helpers

  private static Conduit idleConduit(Duration idle) throws IOException {
    return Conduit.builder()
        .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http()).build())
        .timeouts(Timeouts.builder().httpIdle(idle).drain(Duration.ZERO).build())
        .build().start();
  }

  /** An origin that answers each request on its one connection with "slow" after {@code delay}. */
  private static ServerSocket slowOrigin(Duration delay) throws IOException {
    ServerSocket server = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
    Thread t = new Thread(() -> {
      try (Socket c = server.accept()) {
        c.setSoTimeout(30_000);
        for (int i = 0; i < 5; i++) {
          readHead(c.getInputStream());
          Thread.sleep(delay.toMillis());
          c.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow".getBytes(StandardCharsets.US_ASCII));
        }
      } catch (IOException | InterruptedException e) {
        // closed: the test is over
      }
    }, "slow-origin");
    t.setDaemon(true);
    t.start();
    return server;
  }

  /** Sends one request and reads its 200 response, whose body must be {@code body}. */
  private static void exchange(Socket s, String request, String body) throws IOException {
    s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
    s.getOutputStream().flush();
    String head = readHead(s.getInputStream());
    assertThat(head).startsWith("HTTP/1.1 200").containsIgnoringCase("content-length: " + body.length());
    assertThat(new String(s.getInputStream().readNBytes(body.length()), StandardCharsets.US_ASCII)).isEqualTo(body);
  }

  /** Reads until EOF; fails on a reset or when nothing ends the connection within the socket's timeout. */
  private static byte[] readUntilClosed(Socket s) throws IOException {
    s.setSoTimeout(10_000);
    return s.getInputStream().readAllBytes();
  }

  /** Reads {@code s} to its end: closed (bare, or after a 408) no sooner than the timeout and not much later. */
  private static String assertClosedAtTheTimeout(Socket s, long startNanos, Duration timeout) throws IOException {
    String answer = Net.readToTheCloseAtTheTimeout(s, startNanos, timeout);
    assertThat(answer).satisfiesAnyOf(a -> assertThat(a).isEmpty(), a -> assertThat(a).startsWith("HTTP/1.1 408"));
    return answer;
  }

  private static Socket connectToProxy(Conduit c) throws IOException {
    Socket s = new Socket();
    s.connect(c.address("http"), 5000);
    s.setSoTimeout(10_000);
    return s;
  }

  private static String rawExchange(Conduit c, String request) throws IOException {
    return rawExchange(c, request.getBytes(StandardCharsets.ISO_8859_1));
  }

  /** Sends bytes and reads everything until conduit closes (a reset after the response counts as the end). */
  private static String rawExchange(Conduit c, byte[] request) throws IOException {
    try (Socket s = connectToProxy(c)) {
      try {
        s.getOutputStream().write(request);
        s.getOutputStream().flush();
      } catch (IOException e) {
        // conduit may close before it read everything
      }
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      byte[] buf = new byte[8192];
      try {
        int n;
        while ((n = s.getInputStream().read(buf)) > 0) {
          got.write(buf, 0, n);
        }
      } catch (SocketTimeoutException e) {
        throw new AssertionError("conduit did not close the connection; got: " + got);
      } catch (IOException reset) {
        // reset after the response
      }
      return got.toString(StandardCharsets.ISO_8859_1);
    }
  }

  static String readHead(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    while (!sb.toString().endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("closed after: " + sb);
      }
      sb.append((char) b);
    }
    return sb.toString();
  }

  private static byte[] maskedTextFrame(byte[] payload) {
    byte[] mask = {1, 2, 3, 4};
    byte[] frame = new byte[2 + 4 + payload.length];
    frame[0] = (byte) 0x81;
    frame[1] = (byte) (0x80 | payload.length);
    System.arraycopy(mask, 0, frame, 2, 4);
    for (int i = 0; i < payload.length; i++) {
      frame[6 + i] = (byte) (payload[i] ^ mask[i % 4]);
    }
    return frame;
  }

  /** A WebSocket echo origin built from Netty's own server handlers. */
  static final class WebSocketEchoServer implements AutoCloseable {
    private final io.netty.channel.EventLoopGroup group;
    private final io.netty.channel.Channel server;

    private WebSocketEchoServer(io.netty.channel.EventLoopGroup group, io.netty.channel.Channel server) {
      this.group = group;
      this.server = server;
    }

    static WebSocketEchoServer start() throws InterruptedException {
      io.netty.channel.EventLoopGroup group = new io.netty.channel.MultiThreadIoEventLoopGroup(1,
          io.netty.channel.nio.NioIoHandler.newFactory());
      io.netty.channel.Channel ch = new io.netty.bootstrap.ServerBootstrap()
          .group(group)
          .channel(io.netty.channel.socket.nio.NioServerSocketChannel.class)
          .childHandler(new io.netty.channel.ChannelInitializer<io.netty.channel.socket.SocketChannel>() {
            @Override
            protected void initChannel(io.netty.channel.socket.SocketChannel c) {
              c.pipeline().addLast(new io.netty.handler.codec.http.HttpServerCodec(),
                  new io.netty.handler.codec.http.HttpObjectAggregator(65536),
                  new io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler("/ws"),
                  new io.netty.channel.SimpleChannelInboundHandler<
                      io.netty.handler.codec.http.websocketx.TextWebSocketFrame>() {
                    @Override
                    protected void channelRead0(io.netty.channel.ChannelHandlerContext ctx,
                        io.netty.handler.codec.http.websocketx.TextWebSocketFrame frame) {
                      ctx.writeAndFlush(new io.netty.handler.codec.http.websocketx.TextWebSocketFrame(frame.text()));
                    }
                  });
            }
          })
          .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
      return new WebSocketEchoServer(group, ch);
    }

    int port() {
      return ((InetSocketAddress) server.localAddress()).getPort();
    }

    @Override
    public void close() {
      server.close().syncUninterruptibly();
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }
}
