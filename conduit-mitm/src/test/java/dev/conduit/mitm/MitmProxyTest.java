package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.Conduit;
import dev.conduit.core.Listener;
import dev.conduit.core.Timeouts;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.IssuedCertificate;
import dev.conduit.core.testing.Processes;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Interception with real clients (curl, the JDK HttpClient) trusting only conduit's CA. */
class MitmProxyTest {
  static final Timeouts NO_DRAIN = Timeouts.builder().drain(Duration.ZERO).build();

  @TempDir
  static Path dir;
  static CertificateAuthority mitmCa;
  static CertificateAuthority originCa;
  static Origin origin;
  static Origin untrustedOrigin;
  static Origin misnamedOrigin;
  static MitmProxy proxy;
  static Conduit conduit;
  static Conduit interceptAll;
  static Path mitmCaFile;
  static Path originCaFile;

  @BeforeAll
  static void start() throws Exception {
    mitmCa = Pki.ca("conduit test MITM CA");
    originCa = Pki.ca("test origin CA");
    mitmCa.writeTo(dir.resolve("mitm.crt"), dir.resolve("mitm.key"));
    originCa.writeTo(dir.resolve("origin.crt"), dir.resolve("origin.key"));
    mitmCaFile = dir.resolve("mitm.crt");
    originCaFile = dir.resolve("origin.crt");
    origin = Origin.https(Pki.server(originCa, "localhost", "127.0.0.1"));
    untrustedOrigin = Origin.https(Pki.server(Pki.ca("nobody trusts me"), "localhost", "127.0.0.1"));
    misnamedOrigin = Origin.https(Pki.server(originCa, "other.test"));
    proxy = MitmProxy.builder()
        .certificateAuthority(mitmCa)
        .interceptHost("localhost")
        .trustUpstreamCa(originCa.certificate())
        .interceptor(new HttpInterceptor() {
          @Override
          public void onRequest(InterceptedExchange exchange) {
            if (exchange.uri().getPath().equals("/blocked")) {
              exchange.respond(403, "text/plain", "blocked by the test interceptor");
            }
            exchange.requestHeaders().set("X-Test", "rewritten");
          }

          @Override
          public void onResponse(InterceptedExchange exchange) {
            exchange.responseHeaders().set("X-Intercepted", exchange.method() + " " + exchange.uri());
          }
        })
        .build();
    IssuedCertificate proxyCert = mitmCa.mintServerLeaf("127.0.0.1");
    SslContext proxyTls = SslContextBuilder.forServer(proxyCert.privateKey().orElseThrow(), proxyCert.chain()).build();
    conduit = Conduit.builder()
        .listener(Listener.builder("plain").bind("127.0.0.1:0").protocol(proxy).build())
        .listener(Listener.builder("tls").bind("127.0.0.1:0").protocol(proxy).tls(() -> proxyTls).build())
        .timeouts(NO_DRAIN)
        .build().start();
    interceptAll = Conduit.builder()
        .listener(Listener.builder("plain").bind("127.0.0.1:0").protocol(MitmProxy.builder()
            .certificateAuthority(mitmCa).interceptAll().trustUpstreamCa(originCa.certificate()).build()).build())
        .timeouts(NO_DRAIN)
        .build().start();
  }

  @AfterAll
  static void stop() {
    conduit.close();
    interceptAll.close();
    origin.close();
    untrustedOrigin.close();
    misnamedOrigin.close();
  }

  static String proxyUrl(Conduit c) {
    return "http://127.0.0.1:" + c.address("plain").getPort();
  }

  static Processes.Result curl(String... args) throws Exception {
    Processes.requireTool("curl");
    List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "20"));
    cmd.addAll(List.of(args));
    return Processes.run(30, cmd);
  }

  /** curl's output without the proxy's reply to CONNECT. */
  static String afterConnect(Processes.Result r) {
    String out = r.out();
    String prefix = "HTTP/1.1 200 Connection established\r\n\r\n";
    assertThat(out).startsWith(prefix);
    return out.substring(prefix.length());
  }

  @Test
  void curlTrustingOnlyConduitsCaSeesALeafForTheHost() throws Exception {
    Processes.Result r = curl("-v", "-i", "--cacert", mitmCaFile.toString(), "-x", proxyUrl(conduit),
        "https://localhost:" + origin.port() + "/hello");
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(afterConnect(r)).startsWith("HTTP/1.1 200").endsWith("hello");
    assertThat(r.stderr()).contains("issuer: CN=conduit test MITM CA").contains("subject: CN=localhost")
        .contains("ALPN: server accepted http/1.1");
    // the interceptor rewrote a request header and saw the response
    assertThat(r.out()).containsIgnoringCase("X-Seen-Test: rewritten")
        .contains("X-Intercepted: GET https://localhost:" + origin.port() + "/hello");
  }

  @Test
  void jdkHttpClientTrustingOnlyConduitsCa() throws Exception {
    HttpClient client = Pki.client(conduit.address("plain"), mitmCa.certificate());
    for (int i = 0; i < 2; i++) {
      HttpResponse<String> resp = client.send(HttpRequest.newBuilder(
          URI.create("https://localhost:" + origin.port() + "/hello")).timeout(Duration.ofSeconds(20)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(resp.statusCode()).isEqualTo(200);
      assertThat(resp.body()).isEqualTo("hello");
      X509Certificate leaf = (X509Certificate) resp.sslSession().orElseThrow().getPeerCertificates()[0];
      assertThat(leaf.getIssuerX500Principal()).isEqualTo(mitmCa.certificate().getSubjectX500Principal());
      assertThat(leaf.getSubjectAlternativeNames()).extracting(san -> (Object) san.get(1)).containsExactly((Object) "localhost");
      assertThat(leaf.getNotAfter().getTime() - leaf.getNotBefore().getTime())
          .isLessThanOrEqualTo(Duration.ofDays(1).plusHours(1).toMillis());
    }
    // one leaf per host, reused across connections
    assertThat(proxy.cachedLeafCertificates()).isEqualTo(1);
  }

  @Test
  void ipTargetsGetAnIpSan() throws Exception {
    Processes.Result r = curl("-v", "--cacert", mitmCaFile.toString(), "-x", proxyUrl(interceptAll),
        "https://127.0.0.1:" + origin.port() + "/hello");
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(r.out()).isEqualTo("hello");
    assertThat(r.stderr()).contains("issuer: CN=conduit test MITM CA");
  }

  @Test
  void hostsNotInterceptedGetABlindTunnel() throws Exception {
    String url = "https://127.0.0.1:" + origin.port() + "/hello";
    Processes.Result r = curl("--cacert", originCaFile.toString(), "-x", proxyUrl(conduit), url);
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(r.out()).isEqualTo("hello");
    Processes.Result refused = curl("--cacert", mitmCaFile.toString(), "-x", proxyUrl(conduit), url);
    assertThat(refused.exitCode()).as("the origin's own certificate is not signed by conduit's CA").isEqualTo(60);
  }

  @Test
  void untrustedUpstreamCertificateIs502WithTheReason() throws Exception {
    Processes.Result r = curl("-i", "--cacert", mitmCaFile.toString(), "-x", proxyUrl(conduit),
        "https://localhost:" + untrustedOrigin.port() + "/hello");
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(afterConnect(r)).startsWith("HTTP/1.1 502")
        .contains("upstream certificate of localhost:" + untrustedOrigin.port() + " is not trusted")
        .contains("PKIX path building failed");
    assertThat(untrustedOrigin.requests("/hello")).isZero();
  }

  @Test
  void upstreamCertificateForAnotherNameIs502() throws Exception {
    HttpClient client = Pki.client(conduit.address("plain"), mitmCa.certificate());
    HttpResponse<String> resp = client.send(HttpRequest.newBuilder(
        URI.create("https://localhost:" + misnamedOrigin.port() + "/hello")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(resp.statusCode()).isEqualTo(502);
    assertThat(resp.body()).contains("upstream TLS handshake with localhost:" + misnamedOrigin.port() + " failed")
        .contains("No subject alternative DNS name matching localhost found");
  }

  @Test
  void httpsProxyListenerServesTheSameProtocol() throws Exception {
    Processes.Result r = curl("--proxy-cacert", mitmCaFile.toString(),
        "-x", "https://127.0.0.1:" + conduit.address("tls").getPort(),
        "--cacert", mitmCaFile.toString(), "https://localhost:" + origin.port() + "/hello");
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(r.out()).isEqualTo("hello");
  }

  @Test
  void interceptorCanBlockARequest() throws Exception {
    Processes.Result r = curl("-i", "--cacert", mitmCaFile.toString(), "-x", proxyUrl(conduit),
        "https://localhost:" + origin.port() + "/blocked");
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(afterConnect(r)).startsWith("HTTP/1.1 403").endsWith("blocked by the test interceptor");
    assertThat(origin.requests("/blocked")).isZero();
  }

  @Test
  void interceptionMatchesAtLabelBoundaries() {
    MitmProxy p = MitmProxy.builder().certificateAuthority(mitmCa)
        .interceptDomain("*.quay.io").interceptDomain("docker.io").interceptHost("ghcr.io").build();
    assertThat(p.intercepts("quay.io")).isTrue();
    assertThat(p.intercepts("cdn01.Quay.IO.")).isTrue();
    assertThat(p.intercepts("evilquay.io")).isFalse();
    assertThat(p.intercepts("registry-1.docker.io")).isTrue();
    assertThat(p.intercepts("ghcr.io")).isTrue();
    assertThat(p.intercepts("pkg.ghcr.io")).isFalse();
    assertThat(p.intercepts("io")).isFalse();
    assertThatThrownBy(() -> MitmProxy.builder().build()).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("certificateAuthority");
  }

  @Test
  void pipelinedRequestsAreAnsweredInOrder() throws Exception {
    try (Origin plain = Origin.http();
        java.net.Socket s = new java.net.Socket("127.0.0.1", conduit.address("plain").getPort())) {
      s.setSoTimeout(10_000);
      String a = "GET http://127.0.0.1:" + plain.port() + "/hello HTTP/1.1\r\nHost: x\r\nX-Test: one\r\n\r\n";
      String b = "GET http://127.0.0.1:" + plain.port() + "/hello HTTP/1.1\r\nHost: x\r\nX-Test: two\r\n"
          + "Connection: close\r\n\r\n";
      s.getOutputStream().write((a + b).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      String both = new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII);
      // the interceptor rewrites X-Test, so tell the responses apart by their order only
      assertThat(both.split("HTTP/1.1 200", -1)).hasSize(3);
      assertThat(both).endsWith("hello");
      assertThat(plain.requests("/hello")).isEqualTo(2);
    }
  }

  @Test
  void badRequestsGet400() throws Exception {
    Processes.Result r = curl("-i", "-x", proxyUrl(conduit), "--request-target", "/relative",
        "http://localhost:" + origin.port() + "/x");
    assertThat(r.out()).startsWith("HTTP/1.1 400").contains("absolute-form");
  }
}
