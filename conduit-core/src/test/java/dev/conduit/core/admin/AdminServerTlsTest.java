package dev.conduit.core.admin;

import dev.conduit.core.testing.JdkTls;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.pki.IssuedCertificate;
import dev.conduit.core.pki.TlsMaterial;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The admin endpoint over HTTPS, with the JDK's HttpClient and test-made certificates: without client certificates a
 * token is needed as over HTTP; with optional client certificates a verified one stands for the token and routes see
 * its identity, while a request with neither (or with a certificate from another CA, which the client does not
 * send) gets 401; with required ones a handshake without a certificate, or with
 * one from another CA, fails, and the endpoint serves on.
 */
class AdminServerTlsTest {

  private static final String TOKEN = "admin-token-0123456789";
  private static final CertificateAuthority SERVER_CA = CertificateAuthority.builder().commonName("admin https CA")
      .build();
  private static final CertificateAuthority ADMIN_CA = CertificateAuthority.builder().commonName("admins CA").build();
  private static final CertificateAuthority OTHER_CA = CertificateAuthority.builder().commonName("other CA").build();
  private static final IssuedCertificate ALICE = ADMIN_CA.issue(CertificateRequest.builder().commonName("alice")
      .usages(CertificateRequest.Usage.CLIENT).build());
  private static final IssuedCertificate MALLORY = OTHER_CA.issue(CertificateRequest.builder().commonName("mallory")
      .usages(CertificateRequest.Usage.CLIENT).build());

  /** Answers with the identity of the client certificate the route saw. */
  private static final AdminRoute WHO = request -> AdminResponse.text(200,
      request.clientCertificate().map(p -> p.kind() + " " + p.value()).orElse("nobody"));

  @Test
  void withoutClientCertificatesATokenIsNeededAsOverHttp() throws Exception {
    try (AdminServer server = server(AdminServer.ClientCertificates.NONE)) {
      assertThat(server.isTls()).isTrue();
      assertThat(get(server, client(null), null).statusCode()).isEqualTo(401);
      HttpResponse<String> withToken = get(server, client(null), TOKEN);
      assertThat(withToken.statusCode()).isEqualTo(200);
      assertThat(withToken.body()).isEqualTo("nobody");
    }
  }

  @Test
  void anOptionalClientCertificateStandsForTheToken() throws Exception {
    try (AdminServer server = server(AdminServer.ClientCertificates.OPTIONAL)) {
      HttpResponse<String> byCertificate = get(server, client(ALICE), null);
      assertThat(byCertificate.statusCode()).isEqualTo(200);
      assertThat(byCertificate.body()).isEqualTo("COMMON_NAME alice");
      assertThat(get(server, client(null), null).statusCode()).isEqualTo(401);
      assertThat(get(server, client(null), TOKEN).body()).isEqualTo("nobody");
      // the JDK's client offers only a certificate under the CAs the server names: mallory's goes unsent
      assertThat(get(server, client(MALLORY), null).statusCode()).as("a certificate from another CA").isEqualTo(401);
      assertThat(get(server, client(ALICE), null).statusCode()).as("serving on").isEqualTo(200);
    }
  }

  @Test
  void aRequiredClientCertificateRefusesHandshakesWithoutOne() throws Exception {
    try (AdminServer server = server(AdminServer.ClientCertificates.REQUIRED)) {
      assertThatThrownBy(() -> get(server, client(null), TOKEN)).isInstanceOf(IOException.class);
      assertThatThrownBy(() -> get(server, client(MALLORY), TOKEN)).isInstanceOf(IOException.class);
      HttpResponse<String> ok = get(server, client(ALICE), null);
      assertThat(ok.statusCode()).isEqualTo(200);
      assertThat(ok.body()).isEqualTo("COMMON_NAME alice");
      assertThat(server.toString()).contains("client certificates REQUIRED").contains("token ****")
          .doesNotContain(TOKEN);
    }
  }

  @Test
  void plainHttpIsNotServedOnAnHttpsEndpoint() throws Exception {
    try (AdminServer server = server(AdminServer.ClientCertificates.NONE)) {
      assertThatThrownBy(() -> HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
          "http://127.0.0.1:" + server.address().getPort() + "/who")).header("Authorization", "Bearer " + TOKEN)
          .build(), HttpResponse.BodyHandlers.ofString())).isInstanceOf(IOException.class);
      assertThat(get(server, client(null), TOKEN).statusCode()).isEqualTo(200);
    }
  }

  private static AdminServer server(AdminServer.ClientCertificates mode) throws IOException {
    IssuedCertificate leaf = SERVER_CA.mintServerLeaf("127.0.0.1");
    return AdminServer.builder().bind("127.0.0.1:0").token(TOKEN).route("/who", WHO)
        .tls(TlsMaterial.of(leaf.privateKey().orElseThrow(), leaf.chain(), List.of(ADMIN_CA.certificate())), mode)
        .build().start();
  }

  private static HttpResponse<String> get(AdminServer server, HttpClient client, String token) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + server.address().getPort()
        + "/who"));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** The JDK's client trusting the server's CA, presenting {@code certificate} when not null. */
  private static HttpClient client(IssuedCertificate certificate) throws Exception {
    return HttpClient.newBuilder().sslContext(JdkTls.context(certificate, SERVER_CA.certificate())).build();
  }
}
