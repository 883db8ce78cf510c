package dev.conduit.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Conduit;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * The example as documentation that works: through both of its listeners, plain destinations go
 * direct, {@code *.corp.example} goes through the upstream HTTP proxy, metadata addresses are refused.
 */
class EmbeddedProxyTest {

  private static Processes.Result curl(String... args) throws Exception {
    Processes.requireTool("curl");
    List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "10"));
    cmd.addAll(List.of(args));
    return Processes.run(20, cmd);
  }

  /** Direct destinations are served through the HTTP and the SOCKS listener alike. */
  @Test
  void servesDirectDestinationsThroughBothListeners() throws Exception {
    try (TestOrigin origin = TestOrigin.start();
        UpstreamProxy upstream = new UpstreamProxy(origin.port());
        Conduit conduit = EmbeddedProxy.build("127.0.0.1:0", "127.0.0.1:0", upstream.url()).start()) {
      Processes.Result http = curl("-x", "http://127.0.0.1:" + conduit.address("http").getPort(),
          origin.uri("/hello").toString());
      assertThat(http.exitCode()).as(http.stderr()).isZero();
      assertThat(http.out()).isEqualTo("hello");
      Processes.Result socks = curl("--socks5", "127.0.0.1:" + conduit.address("socks").getPort(),
          origin.uri("/hello").toString());
      assertThat(socks.exitCode()).as(socks.stderr()).isZero();
      assertThat(socks.out()).isEqualTo("hello");
      assertThat(origin.requests()).isEqualTo(2);
      assertThat(upstream.connects()).as("direct destinations bypass the upstream").isEmpty();
    }
  }

  /**
   * {@code *.corp.example} goes through the upstream proxy (which sees the name, unresolved, in its
   * {@code CONNECT}) from either listener; the body is the origin's behind it.
   */
  @Test
  void corpDomainsGoThroughTheUpstreamProxy() throws Exception {
    try (TestOrigin origin = TestOrigin.start();
        UpstreamProxy upstream = new UpstreamProxy(origin.port());
        Conduit conduit = EmbeddedProxy.build("127.0.0.1:0", "127.0.0.1:0", upstream.url()).start()) {
      String url = "http://app.corp.example:" + origin.port() + "/hello";
      Processes.Result http = curl("-x", "http://127.0.0.1:" + conduit.address("http").getPort(), url);
      assertThat(http.exitCode()).as(http.stderr()).isZero();
      assertThat(http.out()).isEqualTo("hello");
      Processes.Result socks = curl("--socks5-hostname", "127.0.0.1:" + conduit.address("socks").getPort(), url);
      assertThat(socks.exitCode()).as(socks.stderr()).isZero();
      assertThat(socks.out()).isEqualTo("hello");
      assertThat(upstream.connects()).containsExactly(
          "app.corp.example:" + origin.port(), "app.corp.example:" + origin.port());
      assertThat(origin.requests()).isEqualTo(2);
    }
  }

  /** Cloud metadata addresses get the reject rule's reply: HTTP 403 with its reason, SOCKS5 reply 0x02. */
  @Test
  void refusesMetadataOnBothListeners() throws Exception {
    try (TestOrigin origin = TestOrigin.start();
        UpstreamProxy upstream = new UpstreamProxy(origin.port());
        Conduit conduit = EmbeddedProxy.build("127.0.0.1:0", "127.0.0.1:0", upstream.url()).start()) {
      String metadata = "http://169.254.169.254/latest/meta-data/";
      Processes.Result http = curl("-i", "-x", "http://127.0.0.1:" + conduit.address("http").getPort(), metadata);
      assertThat(http.exitCode()).as(http.stderr()).isZero();
      assertThat(http.out()).startsWith("HTTP/1.1 403")
          .contains("error=destination_ip_prohibited")
          .contains("cloud metadata is off limits");
      Processes.Result socks = curl("--socks5", "127.0.0.1:" + conduit.address("socks").getPort(), metadata);
      assertThat(socks.exitCode()).isNotZero();
      assertThat(socks.stderr()).contains("(2)"); // SOCKS5 reply 0x02: not allowed by ruleset
      assertThat(origin.requests()).isZero();
      assertThat(upstream.connects()).isEmpty();
    }
  }

  /**
   * A minimal HTTP {@code CONNECT} proxy on loopback standing in for the corporate upstream: it records
   * each {@code CONNECT} target and tunnels to the test origin whatever the name (no DNS needed).
   * At most a few connections, each with two copying threads.
   */
  static final class UpstreamProxy implements AutoCloseable {
    private static final int MAX_CONNECTIONS = 8;
    private final ServerSocket server;
    private final int originPort;
    private final List<String> connects = new CopyOnWriteArrayList<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    UpstreamProxy(int originPort) throws IOException {
      this.originPort = originPort;
      server = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
      acceptor = new Thread(this::acceptLoop, "upstream-proxy");
      acceptor.setDaemon(true);
      acceptor.start();
    }

    String url() {
      return "http://127.0.0.1:" + server.getLocalPort();
    }

    List<String> connects() {
      return connects;
    }

    private void acceptLoop() {
      for (int i = 0; i < MAX_CONNECTIONS; i++) {
        Socket client;
        try {
          client = server.accept();
        } catch (IOException e) {
          return; // closed
        }
        sockets.add(client);
        try {
          client.setSoTimeout(10_000);
          String head = readHead(client.getInputStream());
          String[] requestLine = head.substring(0, head.indexOf("\r\n")).split(" ");
          if (!requestLine[0].equals("CONNECT")) {
            client.getOutputStream().write("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n"
                .getBytes(StandardCharsets.US_ASCII));
            client.close();
            continue;
          }
          connects.add(requestLine[1]);
          Socket origin = new Socket(InetAddress.getLoopbackAddress(), originPort);
          sockets.add(origin);
          origin.setSoTimeout(10_000);
          client.getOutputStream().write("HTTP/1.1 200 Connection established\r\n\r\n"
              .getBytes(StandardCharsets.US_ASCII));
          pump(client, origin);
          pump(origin, client);
        } catch (IOException e) {
          closeQuietly(client);
        }
      }
    }

    private static void closeQuietly(Socket s) {
      try {
        s.close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }

    private static void pump(Socket from, Socket to) {
      Thread t = new Thread(() -> {
        try {
          from.getInputStream().transferTo(to.getOutputStream());
          to.shutdownOutput();
        } catch (IOException ignored) {
          // either side went away
        }
      }, "upstream-proxy-pump");
      t.setDaemon(true);
      t.start();
    }

    /** Reads up to and including the empty line that ends a request head. */
    private static String readHead(InputStream in) throws IOException {
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
        int c = in.read();
        if (c < 0 || head.size() > 16 * 1024) {
          throw new IOException("bad request head: " + head.toString(StandardCharsets.US_ASCII));
        }
        head.write(c);
      }
      return head.toString(StandardCharsets.US_ASCII);
    }

    @Override
    public void close() throws Exception {
      server.close();
      for (Socket s : sockets) {
        s.close();
      }
      acceptor.join(10_000);
    }
  }
}
