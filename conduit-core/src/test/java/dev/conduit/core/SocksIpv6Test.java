package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.testing.Processes;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** SOCKS5 CONNECT to an IPv6 literal (ATYP 4): an origin on [::1] reached through conduit's SOCKS5 listener. */
class SocksIpv6Test {
  static final InetAddress V6_LOOPBACK = loopbackV6();

  static ConduitResources resources;
  static HttpServer origin;
  static ExecutorService originThreads;
  static Conduit conduit;
  static final Net.RecordingObserver observer = new Net.RecordingObserver();

  @BeforeAll
  static void start() throws Exception {
    resources = ConduitResources.builder().ioThreads(2).build();
    // TestOrigin binds 127.0.0.1 only; this one answers on ::1 and says which address the request came
    // from, so that the test can tell the tunnel ended on ::1
    origin = HttpServer.create(new InetSocketAddress(V6_LOOPBACK, 0), 50);
    originThreads = Executors.newCachedThreadPool();
    origin.setExecutor(originThreads);
    origin.createContext("/hello", SocksIpv6Test::hello);
    origin.start();
    conduit = Conduit.builder().resources(resources)
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
        .timeouts(Timeouts.builder().dial(Duration.ofSeconds(5)).drain(Duration.ZERO).build())
        .observer(observer)
        .build().start();
  }

  @AfterAll
  static void stop() {
    if (conduit != null) {
      conduit.close();
    }
    if (origin != null) {
      origin.stop(0);
      originThreads.shutdownNow();
    }
    resources.close();
  }

  private static InetAddress loopbackV6() {
    try {
      return InetAddress.getByAddress("::1", new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private static void hello(HttpExchange ex) throws IOException {
    try (ex) {
      ex.getRequestBody().readAllBytes();
      InetSocketAddress from = ex.getRemoteAddress();
      boolean v6 = from.getAddress() instanceof Inet6Address && from.getAddress().isLoopbackAddress();
      byte[] body = ("hello from " + (v6 ? "[::1]" : from.getAddress().getHostAddress()) + ":" + from.getPort())
          .getBytes(StandardCharsets.US_ASCII);
      ex.sendResponseHeaders(200, body.length);
      try (OutputStream out = ex.getResponseBody()) {
        out.write(body);
      }
    }
  }

  private static int originPort() {
    return origin.getAddress().getPort();
  }

  /** curl resolves {@code [::1]} itself ({@code --socks5}, not {@code -hostname}) and so sends ATYP 4. */
  @Test
  void curlToIpv6Literal() throws Exception {
    Processes.requireTool("curl");
    Processes.Result r = Processes.run("curl", "-sS", "--max-time", "20",
        "--socks5", "127.0.0.1:" + conduit.address("socks").getPort(),
        "http://[::1]:" + originPort() + "/hello");
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(r.out()).startsWith("hello from [::1]:");
    ConnectionSummary s = observer.nextClosed();
    assertThat(s.outcome()).as(s.detail()).isEqualTo(Outcome.OK);
    // stored without brackets, as Destination documents
    assertThat(s.destination()).contains(Destination.of("::1", originPort()));
    assertThat(s.dialed().orElseThrow()).isEqualTo(new InetSocketAddress(V6_LOOPBACK, originPort()));
  }

  /**
   * A raw client sending ATYP 4 gets reply 0x00 with a well-formed bound address: ATYP 4, the 16
   * bytes of ::1, and the port conduit dialed from, which is the port the origin saw the request come from.
   */
  @Test
  void rawAtyp4ConnectReplyIsWellFormed() throws Exception {
    try (Socket s = new Socket()) {
      s.connect(conduit.address("socks"), 5000);
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      DataInputStream in = new DataInputStream(s.getInputStream());
      out.write(new byte[] {5, 1, 0});
      out.flush();
      assertThat(new byte[] {in.readByte(), in.readByte()}).containsExactly(5, 0);

      out.write(new byte[] {5, 1, 0, 4});
      out.write(V6_LOOPBACK.getAddress());
      out.write(originPort() >> 8);
      out.write(originPort() & 0xFF);
      out.flush();

      assertThat(in.readUnsignedByte()).as("VER").isEqualTo(5);
      assertThat(in.readUnsignedByte()).as("REP").isEqualTo(0x00);
      assertThat(in.readUnsignedByte()).as("RSV").isEqualTo(0);
      int atyp = in.readUnsignedByte();
      // conduit dialed ::1, so the address it dialed from is an IPv6 address too
      assertThat(atyp).as("ATYP").isEqualTo(4);
      byte[] bound = new byte[16];
      in.readFully(bound);
      assertThat(InetAddress.getByAddress(bound)).isEqualTo(V6_LOOPBACK);
      int boundPort = in.readUnsignedShort();
      assertThat(boundPort).isBetween(1, 65535);

      // the reply is exactly 4 + 16 + 2 bytes: what follows is the origin's response, nothing else
      out.write(("GET /hello HTTP/1.0\r\nHost: [::1]:" + originPort() + "\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String response = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
      assertThat(response).startsWith("HTTP/1.1 200 ").endsWith("\r\n\r\nhello from [::1]:" + boundPort);
    }
    ConnectionSummary s = observer.nextClosed();
    assertThat(s.outcome()).as(s.detail()).isEqualTo(Outcome.OK);
    assertThat(s.destination()).contains(Destination.of("::1", originPort()));
  }
}
