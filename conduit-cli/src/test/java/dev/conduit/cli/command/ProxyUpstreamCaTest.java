package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.Cli;
import dev.conduit.core.pki.Pem;
import dev.conduit.core.testing.TestOrigin;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code proxy --upstream https://... --upstream-ca FILE}: the upstream is a real HTTPS CONNECT proxy
 * (JDK TLS) whose certificate a private CA made by {@code conduit ca init} / {@code cert issue}
 * signed; the client is the JDK's HttpClient.
 */
class ProxyUpstreamCaTest {

  @Test
  void httpsUpstreamSignedByAPrivateCaIsTrustedWithUpstreamCa(@TempDir Path dir) throws Exception {
    Path ca = dir.resolve("ca");
    assertThat(Cli.run("ca", "init", "--dir", ca.toString()).exitCode()).isZero();
    Path crt = dir.resolve("proxy.crt");
    Path key = dir.resolve("proxy.key");
    Cli.Result issued = Cli.run("cert", "issue", "--ca-dir", ca.toString(), "--name", "proxy", "--san",
        "IP:127.0.0.1", "--server", "--out-cert", crt.toString(), "--out-key", key.toString());
    assertThat(issued.exitCode()).as("%s", issued).isZero();

    try (TestOrigin origin = TestOrigin.start(); TlsConnectProxy upstream = new TlsConnectProxy(crt, key)) {
      String upstreamUrl = "https://127.0.0.1:" + upstream.port();
      try (Cli.Running trusted = Cli.start("proxy", "--http-listen", "127.0.0.1:0", "--upstream", upstreamUrl,
          "--upstream-ca", ca.resolve("ca.crt").toString())) {
        HttpResponse<String> r = get(trusted, origin);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(upstream.tunnels.get()).isEqualTo(1);
      }
      // without it, the JDK's trust store does not know the private CA: the hop's handshake fails
      try (Cli.Running untrusted = Cli.start("proxy", "--http-listen", "127.0.0.1:0", "--upstream", upstreamUrl)) {
        assertThat(get(untrusted, origin).statusCode()).isEqualTo(502);
        assertThat(upstream.tunnels.get()).isEqualTo(1);
      }
    }
  }

  @Test
  void upstreamCaNeedsAnHttpsUpstreamAndAReadableFile(@TempDir Path dir) {
    Cli.Result noHttps = Cli.run("proxy", "--http-listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:3128",
        "--upstream-ca", dir.resolve("x.crt").toString());
    assertThat(noHttps.exitCode()).isEqualTo(2);
    assertThat(noHttps.errLines()).hasSize(1);
    assertThat(noHttps.err()).contains("--upstream-ca: ");
    Cli.Result missing = Cli.run("proxy", "--http-listen", "127.0.0.1:0", "--upstream", "https://127.0.0.1:3128",
        "--upstream-ca", dir.resolve("missing.crt").toString());
    assertThat(missing.exitCode()).isEqualTo(2);
    assertThat(missing.errLines()).containsExactly("conduit proxy: --upstream-ca: " + dir.resolve("missing.crt")
        + " (expected: a readable PEM file of CA certificates)");
  }

  private static HttpResponse<String> get(Cli.Running proxy, TestOrigin origin) throws Exception {
    InetSocketAddress listener = proxy.conduit().address("http");
    // the JDK client tunnels with CONNECT only for https; plain http goes absolute-form through the
    // proxy, which conduit then carries through the upstream hop's CONNECT
    HttpClient client = HttpClient.newBuilder().proxy(ProxySelector.of(listener))
        .connectTimeout(Duration.ofSeconds(10)).build();
    return client.send(HttpRequest.newBuilder(origin.uri("/hello")).timeout(Duration.ofSeconds(20)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** An HTTPS proxy that serves CONNECT only, on 127.0.0.1, with a thread per tunnel. */
  static final class TlsConnectProxy implements AutoCloseable {
    final AtomicInteger tunnels = new AtomicInteger();
    private final ServerSocket server;

    TlsConnectProxy(Path crt, Path key) throws Exception {
      List<X509Certificate> chain = Pem.readCertificates(crt);
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      ks.setKeyEntry("proxy", Pem.readPrivateKey(key), new char[0], chain.toArray(new X509Certificate[0]));
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(ks, new char[0]);
      SSLContext tls = SSLContext.getInstance("TLS");
      tls.init(kmf.getKeyManagers(), null, null);
      SSLServerSocket s = (SSLServerSocket) tls.getServerSocketFactory().createServerSocket();
      s.bind(new InetSocketAddress("127.0.0.1", 0));
      server = s;
      Thread t = new Thread(this::accept, "tls-connect-proxy");
      t.setDaemon(true);
      t.start();
    }

    int port() {
      return server.getLocalPort();
    }

    private void accept() {
      while (!server.isClosed()) {
        try {
          Socket client = server.accept();
          Thread t = new Thread(() -> serve(client), "tls-connect-tunnel");
          t.setDaemon(true);
          t.start();
        } catch (IOException e) {
          return;
        }
      }
    }

    private void serve(Socket client) {
      try (client) {
        client.setSoTimeout(20_000);
        InputStream in = client.getInputStream();
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) >= 0 && head.size() < 8192) {
          head.write(c);
          if (head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
            break;
          }
        }
        String[] line = head.toString(StandardCharsets.ISO_8859_1).split("\r\n", 2)[0].split(" ");
        OutputStream out = client.getOutputStream();
        if (line.length < 2 || !line[0].equals("CONNECT")) {
          out.write("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
          return;
        }
        int colon = line[1].lastIndexOf(':');
        try (Socket target = new Socket(line[1].substring(0, colon), Integer.parseInt(line[1].substring(colon + 1)))) {
          tunnels.incrementAndGet();
          out.write("HTTP/1.1 200 Connection established\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
          out.flush();
          Thread up = new Thread(() -> pipe(in, target));
          up.setDaemon(true);
          up.start();
          pipe(target.getInputStream(), client);
        }
      } catch (IOException e) {
        // the client went away (or failed the handshake): nothing to relay
      }
    }

    private static void pipe(InputStream from, Socket to) {
      try {
        from.transferTo(to.getOutputStream());
        to.shutdownOutput();
      } catch (IOException e) {
        // the other direction closes both
      }
    }

    @Override
    public void close() throws IOException {
      server.close();
    }
  }
}
