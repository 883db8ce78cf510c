package dev.conduit.core.egress;

import dev.conduit.core.testing.JdkTls;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.control.store.AuditEntry;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.net.IpPrefixSet;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.pki.IssuedCertificate;
import dev.conduit.core.pki.TlsMaterial;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The egress API over HTTPS with admin client certificates, through real clients (curl and the JDK's HttpClient)
 * and test-made certificates: a certificate from the admins' CA is accepted without a token and the audit log names
 * its identity; no certificate and no token gets 401; a certificate from another CA is refused in the handshake (curl
 * sends it) or not sent at all and 401 (the JDK's client), and nothing is stored; a bearer token still works over
 * HTTPS; a browser's cross-site request carrying a certificate gets 403. The server serves on after every refusal.
 */
class EgressAdminCertificateTest {

  private static final String TOKEN = "ops-token-0123456789abcdef";
  private static final String ALICE = "spiffe://conduit.test/admin/alice";
  private static final CertificateAuthority SERVER_CA = CertificateAuthority.builder().commonName("egress https CA")
      .build();
  private static final CertificateAuthority ADMIN_CA = CertificateAuthority.builder().commonName("egress admins CA")
      .build();
  private static final CertificateAuthority OTHER_CA = CertificateAuthority.builder().commonName("another CA").build();

  @TempDir
  static Path dir;
  static EgressServer server;
  static String base;
  static IssuedCertificate alice;
  static IssuedCertificate mallory;

  @BeforeAll
  static void start() throws Exception {
    IssuedCertificate serverLeaf = SERVER_CA.mintServerLeaf("127.0.0.1");
    server = EgressServer.start(EgressServerConfig.builder(StoreConfig.sqlite(dir.resolve("egress.db")).build())
        .bind(new InetSocketAddress("127.0.0.1", 0))
        .httpTls(TlsMaterial.of(serverLeaf.privateKey().orElseThrow(), serverLeaf.chain(),
            List.of(ADMIN_CA.certificate())), true)
        .adminToken("ops", TOKEN)
        .allowedSpecial(IpPrefixSet.parse("198.18.0.0/15", "fd00::/8"))
        .build());
    base = "https://127.0.0.1:" + server.httpAddress().getPort();
    alice = ADMIN_CA.issue(CertificateRequest.builder().commonName("alice").uri(ALICE)
        .usages(CertificateRequest.Usage.CLIENT).build());
    mallory = OTHER_CA.issue(CertificateRequest.builder().commonName("mallory")
        .uri("spiffe://conduit.test/admin/mallory").usages(CertificateRequest.Usage.CLIENT).build());
    Files.writeString(dir.resolve("server-ca.pem"), SERVER_CA.certificatePem());
    alice.writeTo(dir.resolve("alice.pem"), dir.resolve("alice.key"));
    mallory.writeTo(dir.resolve("mallory.pem"), dir.resolve("mallory.key"));
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void curlWithAnAdminCertificateAddsAndTheAuditNamesIt() throws Exception {
    Curl added = curl("alice", "-X", "POST", "-H", "Content-Type: application/json",
        "--data", "{\"value\":\"198.18.7.1\",\"comment\":\"by certificate\"}", base + "/api/v1/entries");
    assertThat(added.status()).as(added.toString()).isEqualTo("201");
    assertThat(server.entries()).anyMatch(e -> e.value().text().equals("198.18.7.1"));
    assertThat(server.audit(10)).anyMatch(a -> a.actor().equals("cert:" + ALICE) && a.action().equals("add")
        && a.subject().contains("198.18.7.1"));

    Curl audit = curl("alice", base + "/api/v1/audit?limit=5");
    assertThat(audit.status()).isEqualTo("200");
    assertThat(audit.body()).contains("\"cert:" + ALICE + "\"");
  }

  @Test
  void theJdkClientWithAnAdminCertificateListsAndDeletes() throws Exception {
    HttpClient client = client(alice);
    HttpResponse<String> added = client.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/entries"))
        .POST(HttpRequest.BodyPublishers.ofString("{\"value\":\"198.18.7.2\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(added.statusCode()).as(added.body()).isEqualTo(201);
    String id = com.fasterxml.jackson.databind.json.JsonMapper.builder().build().readTree(added.body())
        .get("id").asText();
    HttpResponse<String> listed = client.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/entries")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(listed.statusCode()).isEqualTo(200);
    assertThat(listed.body()).contains("198.18.7.2");
    HttpResponse<String> deleted = client.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/entries/" + id))
        .DELETE().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(deleted.statusCode()).as(deleted.body()).isEqualTo(204);
    List<AuditEntry> audit = server.audit(20);
    assertThat(audit).anyMatch(a -> a.actor().equals("cert:" + ALICE) && a.action().equals("delete")
        && a.subject().contains("198.18.7.2"));
  }

  @Test
  void noCertificateAndNoTokenGets401AndATokenStillWorks() throws Exception {
    Curl none = curl(null, "-X", "POST", "--data", "{\"value\":\"198.18.7.3\"}", base + "/api/v1/entries");
    assertThat(none.status()).as(none.toString()).isEqualTo("401");
    assertThat(none.body()).contains("an admin certificate");
    assertThat(server.entries()).noneMatch(e -> e.value().text().equals("198.18.7.3"));

    HttpResponse<String> byToken = client(null).send(HttpRequest.newBuilder(URI.create(base + "/api/v1/entries"))
        .header("Authorization", "Bearer " + TOKEN)
        .POST(HttpRequest.BodyPublishers.ofString("{\"value\":\"198.18.7.4\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(byToken.statusCode()).as(byToken.body()).isEqualTo(201);
    assertThat(server.audit(10)).anyMatch(a -> a.actor().equals("token:ops") && a.subject().contains("198.18.7.4"));
    Curl wrongToken = curl("alice", "-H", "Authorization: Bearer not-the-token-0123456789", base + "/api/v1/entries");
    assertThat(wrongToken.status()).as("a wrong token is not excused by a certificate").isEqualTo("401");
  }

  @Test
  void aCertificateFromAnotherCaIsRefusedAndTheServerServesOn() throws Exception {
    Curl refused = curl("mallory", "-X", "POST", "--data", "{\"value\":\"198.18.7.5\"}", base + "/api/v1/entries");
    assertThat(refused.exit()).as("the handshake fails: %s", refused).isNotZero();
    assertThat(refused.status()).isEqualTo("000");
    // the JDK's client sends only a certificate under the CAs the server names: none, so 401
    HttpResponse<String> jdk = client(mallory).send(HttpRequest.newBuilder(URI.create(base + "/api/v1/entries"))
        .POST(HttpRequest.BodyPublishers.ofString("{\"value\":\"198.18.7.5\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(jdk.statusCode()).as(jdk.body()).isEqualTo(401);
    assertThat(server.entries()).noneMatch(e -> e.value().text().equals("198.18.7.5"));
    assertThat(server.audit(50)).noneMatch(a -> a.actor().contains("mallory"));

    Curl after = curl("alice", base + "/api/v1/entries");
    assertThat(after.status()).as("the server serves on").isEqualTo("200");
  }

  @Test
  void aCrossSiteRequestCarryingTheCertificateIsRefused() throws Exception {
    Curl crossSite = curl("alice", "-X", "POST", "-H", "Sec-Fetch-Site: cross-site", "-H",
        "Origin: https://evil.example", "--data", "{\"value\":\"198.18.7.6\"}", base + "/api/v1/entries");
    assertThat(crossSite.status()).as(crossSite.toString()).isEqualTo("403");
    assertThat(server.entries()).noneMatch(e -> e.value().text().equals("198.18.7.6"));
  }

  /** curl's exit code, the status it printed and the body. */
  record Curl(int exit, String status, String body) {}

  private static Curl curl(String certificate, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "20", "--cacert",
        dir.resolve("server-ca.pem").toString(), "-o", "-", "-w", "\n%{http_code}"));
    if (certificate != null) {
      cmd.addAll(List.of("--cert", dir.resolve(certificate + ".pem").toString(), "--key",
          dir.resolve(certificate + ".key").toString()));
    }
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    int nl = out.lastIndexOf('\n');
    return new Curl(p.exitValue(), out.substring(nl + 1).strip(), nl < 0 ? "" : out.substring(0, nl));
  }

  /** The JDK's client trusting the server's CA, presenting {@code certificate} when not null. */
  private static HttpClient client(IssuedCertificate certificate) throws Exception {
    return HttpClient.newBuilder().sslContext(JdkTls.context(certificate, SERVER_CA.certificate())).build();
  }
}
