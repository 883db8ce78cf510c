package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.Listener;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import dev.conduit.core.testing.Processes;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Upstream connections are kept alive and reused across requests and client connections. */
class UpstreamPoolTest {

  @TempDir
  Path dir;
  CertificateAuthority mitmCa;
  CertificateAuthority originCa;
  CountingOrigin origin;
  MitmProxy proxy;
  ConduitResources resources;
  Conduit conduit;

  @BeforeEach
  void start() throws Exception {
    mitmCa = Pki.ca("pool test MITM CA");
    originCa = Pki.ca("pool test origin CA");
    mitmCa.writeTo(dir.resolve("mitm.crt"), dir.resolve("mitm.key"));
    origin = new CountingOrigin(Pki.server(originCa, "localhost", "127.0.0.1"));
    proxy = MitmProxy.builder().certificateAuthority(mitmCa).interceptHost("localhost")
        .trustUpstreamCa(originCa.certificate()).trustSystemCertificates(false).build();
    // one event loop: every client connection shares the loop's pool
    resources = ConduitResources.builder().ioThreads(1).build();
    conduit = Conduit.builder().resources(resources)
        .listener(Listener.builder("plain").bind("127.0.0.1:0").protocol(proxy).build())
        .timeouts(MitmProxyTest.NO_DRAIN)
        .build().start();
  }

  @AfterEach
  void stop() throws Exception {
    conduit.close();
    resources.close();
    origin.close();
  }

  String url(String path) {
    return "https://localhost:" + origin.port() + path;
  }

  @Test
  void oneUpstreamTlsConnectionServesManyRequestsOfOneClient() throws Exception {
    HttpClient client = Pki.client(conduit.address("plain"), mitmCa.certificate());
    for (int i = 0; i < 10; i++) {
      HttpResponse<String> resp = client.send(HttpRequest.newBuilder(URI.create(url("/n" + i)))
          .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(resp.statusCode()).isEqualTo(200);
      assertThat(resp.body()).isEqualTo("ok /n" + i);
    }
    assertThat(origin.requests.get()).isEqualTo(10);
    assertThat(origin.connections.get()).as("TLS connections the origin accepted").isEqualTo(1);
    assertThat(proxy.idleUpstreamConnections()).isEqualTo(1);
  }

  @Test
  void clientsOneAfterAnotherShareThePooledConnection() throws Exception {
    Processes.requireTool("curl");
    for (int i = 0; i < 3; i++) {
      Processes.Result r = Processes.run(30, List.of("curl", "-sS", "--max-time", "20",
          "--cacert", dir.resolve("mitm.crt").toString(), "-x", "http://127.0.0.1:" + conduit.address("plain").getPort(),
          url("/curl" + i)));
      assertThat(r.exitCode()).as(r.stderr()).isZero();
      assertThat(r.out()).isEqualTo("ok /curl" + i);
    }
    assertThat(origin.connections.get()).isEqualTo(1);
  }

  @Test
  void aPooledConnectionTheOriginDroppedIsRetriedOnceForIdempotentRequests() throws Exception {
    origin.dropSecondRequest = true; // every connection dies when asked a second time, without answering
    HttpClient client = Pki.client(conduit.address("plain"), mitmCa.certificate());
    for (int i = 0; i < 3; i++) {
      HttpResponse<String> resp = client.send(HttpRequest.newBuilder(URI.create(url("/r" + i)))
          .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(resp.statusCode()).isEqualTo(200);
      assertThat(resp.body()).isEqualTo("ok /r" + i);
    }
    // request 1 on A; request 2 on A (dropped) then on B; request 3 on B (dropped) then on C
    assertThat(origin.connections.get()).isEqualTo(3);
    assertThat(origin.requests.get()).isEqualTo(3);
  }

  @Test
  void postIsNeverSentOnAReusedConnection() throws Exception {
    origin.dropSecondRequest = true;
    HttpClient client = Pki.client(conduit.address("plain"), mitmCa.certificate());
    for (int i = 0; i < 3; i++) {
      HttpResponse<String> resp = client.send(HttpRequest.newBuilder(URI.create(url("/p" + i)))
          .POST(HttpRequest.BodyPublishers.ofString("body")).timeout(Duration.ofSeconds(20)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(resp.statusCode()).isEqualTo(200);
    }
    assertThat(origin.connections.get()).isEqualTo(3);
    assertThat(origin.requests.get()).isEqualTo(3);
  }

  @Test
  void aReloadRoutesTheNextRequestAgainInsteadOfReusingThePooledConnection() throws Exception {
    HttpClient client = Pki.client(conduit.address("plain"), mitmCa.certificate());
    assertThat(get(client, "/before").body()).isEqualTo("ok /before");
    assertThat(get(client, "/kept").body()).isEqualTo("ok /kept");
    assertThat(origin.connections.get()).as("reused while the rules stand").isEqualTo(1);

    // the same rules, reloaded: the pooled connection was routed under the replaced ones, so it is not reused
    conduit.update(Router.builder().defaultDecision(RouteDecision.direct()).build(), List.of());
    assertThat(get(client, "/after-reload").body()).isEqualTo("ok /after-reload");
    assertThat(origin.connections.get()).isEqualTo(2);

    // rules that now refuse the origin answer the next request on the same client connection
    conduit.update(Router.builder()
        .rule(Rule.builder("no-origin").domain("localhost")
            .decision(RouteDecision.reject("the origin is off limits now")).build())
        .defaultDecision(RouteDecision.direct()).build(), List.of());
    HttpResponse<String> refused = get(client, "/refused");
    assertThat(refused.statusCode()).isEqualTo(403);
    assertThat(origin.requests.get()).isEqualTo(3);
    assertThat(origin.connections.get()).isEqualTo(2);
    assertThat(proxy.idleUpstreamConnections()).as("the stale connection was closed, not parked again").isZero();
  }

  private HttpResponse<String> get(HttpClient client, String path) throws Exception {
    return client.send(HttpRequest.newBuilder(URI.create(url(path))).timeout(Duration.ofSeconds(20)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void reuseCanBeTurnedOff() throws Exception {
    conduit.close();
    proxy = MitmProxy.builder().certificateAuthority(mitmCa).interceptHost("localhost")
        .trustUpstreamCa(originCa.certificate()).trustSystemCertificates(false).upstreamIdleTimeout(Duration.ZERO).build();
    conduit = Conduit.builder().resources(resources)
        .listener(Listener.builder("plain").bind("127.0.0.1:0").protocol(proxy).build())
        .timeouts(MitmProxyTest.NO_DRAIN).build().start();
    HttpClient client = Pki.client(conduit.address("plain"), mitmCa.certificate());
    for (int i = 0; i < 3; i++) {
      assertThat(client.send(HttpRequest.newBuilder(URI.create(url("/o" + i))).timeout(Duration.ofSeconds(20))
          .build(), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
    }
    assertThat(origin.connections.get()).isEqualTo(3);
    assertThat(proxy.idleUpstreamConnections()).isZero();
  }

  /** A keep-alive HTTPS origin (one thread per connection) counting the TLS connections it accepts. */
  static final class CountingOrigin implements AutoCloseable {
    final AtomicInteger connections = new AtomicInteger();
    final AtomicInteger requests = new AtomicInteger();
    volatile boolean dropSecondRequest;
    private final ServerSocket server;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();

    CountingOrigin(dev.conduit.core.pki.IssuedCertificate certificate) throws Exception {
      char[] password = "test".toCharArray();
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(new ByteArrayInputStream(certificate.toPkcs12(password)), password);
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(ks, password);
      SSLContext ssl = SSLContext.getInstance("TLS");
      ssl.init(kmf.getKeyManagers(), null, null);
      server = ssl.getServerSocketFactory().createServerSocket(0, 50, InetAddress.getLoopbackAddress());
      Thread t = new Thread(this::acceptLoop, "pool-test-origin");
      t.setDaemon(true);
      t.start();
    }

    int port() {
      return server.getLocalPort();
    }

    private void acceptLoop() {
      while (!server.isClosed()) {
        try {
          Socket s = server.accept();
          s.setSoTimeout(30_000);
          open.add(s);
          Thread t = new Thread(() -> serve(s), "pool-test-origin-conn");
          t.setDaemon(true);
          t.start();
        } catch (IOException e) {
          return;
        }
      }
    }

    private void serve(Socket s) {
      try (s) {
        BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1));
        OutputStream out = s.getOutputStream();
        boolean counted = false;
        for (int n = 0; ; n++) {
          String line = in.readLine();
          if (line == null) {
            return;
          }
          if (!counted) {
            connections.incrementAndGet(); // after the handshake: a TLS connection that carried a request
            counted = true;
          }
          String path = line.split(" ")[1];
          int length = 0;
          for (String h; (h = in.readLine()) != null && !h.isEmpty(); ) {
            if (h.regionMatches(true, 0, "content-length:", 0, 15)) {
              length = Integer.parseInt(h.substring(15).trim());
            }
          }
          for (int i = 0; i < length; i++) {
            in.read();
          }
          if (n == 1 && dropSecondRequest) {
            return; // closed without an answer, as an origin timing out an idle connection does
          }
          requests.incrementAndGet();
          byte[] body = ("ok " + path).getBytes(StandardCharsets.ISO_8859_1);
          out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + body.length + "\r\n\r\n")
              .getBytes(StandardCharsets.ISO_8859_1));
          out.write(body);
          out.flush();
        }
      } catch (IOException | RuntimeException e) {
        // the proxy closed the connection
      } finally {
        open.remove(s);
      }
    }

    @Override
    public void close() throws IOException {
      server.close();
      for (Socket s : open) {
        s.close();
      }
    }
  }
}
