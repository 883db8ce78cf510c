package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import dev.conduit.core.admin.AdminServer;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import dev.conduit.core.testing.CapturedLog;
import dev.conduit.core.testing.TestOrigin;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Clients that misbehave on purpose, each found by a battery run against {@code conduit proxy}: none may pin
 * sockets, make conduit log stack traces, or reach conduit's own sockets through a tunnel.
 */
class HostileClientsTest {
  static Conduit conduit;

  @BeforeAll
  static void start() throws IOException {
    conduit = Conduit.builder()
        .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http()).build())
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
        .timeouts(Timeouts.builder().httpResponseHead(Duration.ofSeconds(1)).drain(Duration.ZERO).build())
        .build().start();
  }

  @AfterAll
  static void stop() {
    conduit.close();
  }

  /** An origin that reads every connection to its end and counts those accepted and those still open. */
  private static Net.TcpServer countingBlackhole(AtomicInteger open, AtomicInteger accepted) throws IOException {
    return new Net.TcpServer(s -> {
      accepted.incrementAndGet();
      open.incrementAndGet();
      try {
        s.getInputStream().readAllBytes();
      } finally {
        open.decrementAndGet();
      }
    });
  }

  @Test
  void clientsThatLeaveMidBodyReleaseBothSockets() throws Exception {
    AtomicInteger open = new AtomicInteger();
    AtomicInteger accepted = new AtomicInteger();
    try (Net.TcpServer origin = countingBlackhole(open, accepted)) {
      for (int i = 0; i < 20; i++) {
        try (Socket s = new Socket(conduit.address("http").getAddress(), conduit.address("http").getPort())) {
          s.getOutputStream().write(("POST http://127.0.0.1:" + origin.port() + "/post HTTP/1.1\r\nHost: x\r\n"
              + "Content-Length: 100000\r\n\r\n0123456789").getBytes(StandardCharsets.US_ASCII));
          s.getOutputStream().flush();
          int n = i + 1;
          Net.await(Duration.ofSeconds(10), "the origin reached", () -> accepted.get() >= n);
        }
      }
      // the timeouts in force (HTTP idle 4 min, response head 1 s) cannot be what closes them: no
      // response head is awaited while the request is incomplete
      Net.await(Duration.ofSeconds(10), "client connections closed", () -> conduit.activeConnections() == 0);
      Net.await(Duration.ofSeconds(10), "upstream connections closed", () -> open.get() == 0);
    }
  }

  @Test
  void aGetToASilentOriginIsAnswered504AtTheResponseHeadTimeout() throws Exception {
    AtomicInteger open = new AtomicInteger();
    try (Net.TcpServer origin = countingBlackhole(open, new AtomicInteger());
        Socket s = new Socket(conduit.address("http").getAddress(), conduit.address("http").getPort())) {
      s.setSoTimeout(20_000);
      s.getOutputStream().write(("GET http://127.0.0.1:" + origin.port() + "/ HTTP/1.1\r\nHost: x\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      String head = HttpInboundTest.readHead(s.getInputStream());
      assertThat(head).startsWith("HTTP/1.1 504").contains("error=http_response_timeout");
      Net.await(Duration.ofSeconds(10), "upstream connection closed", () -> open.get() == 0);
    }
  }

  @Test
  void aClientThatSendsAGetAndLeavesReleasesBothSockets() throws Exception {
    AtomicInteger open = new AtomicInteger();
    AtomicInteger accepted = new AtomicInteger();
    try (Net.TcpServer origin = countingBlackhole(open, accepted)) {
      for (int i = 0; i < 20; i++) {
        try (Socket s = new Socket(conduit.address("http").getAddress(), conduit.address("http").getPort())) {
          s.getOutputStream().write(("GET http://127.0.0.1:" + origin.port() + "/ HTTP/1.1\r\nHost: x\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
          int n = i + 1;
          Net.await(Duration.ofSeconds(10), "the origin reached", () -> accepted.get() >= n);
        }
      }
      // bounded by the response-head timeout (1 s here)
      Net.await(Duration.ofSeconds(20), "client connections closed", () -> conduit.activeConnections() == 0);
      Net.await(Duration.ofSeconds(20), "upstream connections closed", () -> open.get() == 0);
    }
  }

  /** An origin that ends its response early: the client gets a reset, not a clean end after a short body. */
  @Test
  void aResponseCutShortReachesTheClientAsAReset() throws Exception {
    try (Net.TcpServer origin = new Net.TcpServer(s -> {
      HttpInboundTest.readHead(s.getInputStream());
      s.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"
          .getBytes(StandardCharsets.US_ASCII));
      s.shutdownOutput(); // 90 bytes short
      s.getInputStream().read();
    });
        Socket s = new Socket(conduit.address("http").getAddress(), conduit.address("http").getPort())) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(("GET http://127.0.0.1:" + origin.port() + "/ HTTP/1.1\r\nHost: x\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      InputStream in = s.getInputStream();
      assertThat(HttpInboundTest.readHead(in)).startsWith("HTTP/1.1 200").contains("Content-Length: 100");
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> {
        while (in.read() >= 0) {
          // the 10 bytes that came
        }
      }).isInstanceOf(java.net.SocketException.class).hasMessageContaining("reset");
    }
  }

  @Test
  void aMalformedChunkIsAnswered400WithoutAnException() throws Exception {
    try (TestOrigin origin = TestOrigin.start();
        CapturedLog netty = CapturedLog.of("io.netty", Level.WARN);
        CapturedLog ours = CapturedLog.of("dev.conduit", Level.WARN)) {
      for (int i = 0; i < 5; i++) {
        String answer = exchange("POST " + origin.uri("/post") + " HTTP/1.1\r\nHost: x\r\n"
            + "Transfer-Encoding: chunked\r\n\r\nzz\r\n");
        assertThat(answer).startsWith("HTTP/1.1 400");
      }
      Net.await(Duration.ofSeconds(10), "connections closed", () -> conduit.activeConnections() == 0);
      assertThat(netty.events()).as("netty warnings").isEmpty();
      assertThat(ours.events()).as("conduit warnings").isEmpty();
    }
  }

  @Test
  void conduitsOwnListenersAndAdminPortAreNeverADestination() throws Exception {
    Conduit open = Conduit.builder()
        .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http()).build())
        .router(Router.builder().rule(Rule.builder("loopback").destinationCidr("127.0.0.0/8").domain("localhost")
            .decision(RouteDecision.direct()).build()).defaultDecision(RouteDecision.reject("not loopback")).build())
        .build().start();
    try (open; AdminServer admin = AdminServer.builder().bind("127.0.0.1:0").conduit(open).build().start();
        Net.TcpServer other = Net.echo()) {
      int own = open.address("http").getPort();
      int adminPort = admin.address().getPort();
      // the rules allow all of loopback, but not conduit's own sockets, by address or by name
      assertThat(connect(open, "127.0.0.1:" + adminPort)).startsWith("HTTP/1.1 403");
      assertThat(connect(open, "localhost:" + adminPort)).startsWith("HTTP/1.1 403");
      assertThat(connect(open, "localhost:" + own)).startsWith("HTTP/1.1 403");
      assertThat(connect(open, "127.0.0.1:" + own)).startsWith("HTTP/1.1 403");
      assertThat(connect(open, "127.0.0.1:" + other.port())).startsWith("HTTP/1.1 200");
    }
  }

  /** A CONNECT through {@code c}; returns the reply head. */
  private static String connect(Conduit c, String target) throws IOException {
    try (Socket s = new Socket(c.address("http").getAddress(), c.address("http").getPort())) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      return HttpInboundTest.readHead(s.getInputStream());
    }
  }

  /** Sends a request and reads until conduit closes. */
  private static String exchange(String request) throws IOException {
    try (Socket s = new Socket(conduit.address("http").getAddress(), conduit.address("http").getPort())) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      InputStream in = s.getInputStream();
      byte[] buf = new byte[4096];
      try {
        int n;
        while ((n = in.read(buf)) > 0) {
          got.write(buf, 0, n);
        }
      } catch (java.net.SocketException reset) {
        // a reset after the response
      }
      return got.toString(StandardCharsets.ISO_8859_1);
    }
  }
}
