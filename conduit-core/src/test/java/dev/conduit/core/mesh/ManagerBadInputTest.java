package dev.conduit.core.mesh;

import static dev.conduit.core.mesh.ManagerFixture.admin;
import static dev.conduit.core.mesh.ManagerFixture.node;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.control.enrol.NodeEnrolment;
import dev.conduit.core.control.enrol.internal.Csrs;
import dev.conduit.core.control.enrol.internal.ManagerCalls;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.IssuedCertificate;
import dev.conduit.core.testing.Processes;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Malformed, hostile and flooding requests to a real manager, sent with curl: clear refusals, nothing stored. */
class ManagerBadInputTest {

  @TempDir
  Path dir;

  @BeforeAll
  static void curl() {
    Processes.requireTool("curl");
  }

  /** POSTs {@code body} with curl, returning "STATUS BODY". */
  private static String post(MeshManager manager, Path ca, String path, String body, String... extra)
      throws Exception {
    List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "30", "--cacert", ca.toString(),
        "-H", "Content-Type: application/json", "--data-binary", body, "-w", "\n%{http_code}"));
    cmd.addAll(List.of(extra));
    cmd.add("https://127.0.0.1:" + manager.address().getPort() + path);
    Processes.Result r = Processes.run(60, cmd);
    String out = r.out().strip();
    int nl = out.lastIndexOf('\n');
    return out.substring(nl + 1) + " " + (nl < 0 ? r.stderr() : out.substring(0, nl));
  }

  private static String enrolBody(String name, List<String> addresses, String csr) {
    ObjectNode body = ManagerCalls.JSON.createObjectNode();
    body.put("name", name).put("role", "client").put("csr", csr);
    body.putArray("addresses").addAll(addresses.stream().map(ManagerCalls.JSON.getNodeFactory()::textNode).toList());
    return body.toString();
  }

  @Test
  void csrsForSomeoneElsesNameOrAddressesAreRefused() throws Exception {
    try (MeshManager manager = ManagerFixture.start(dir.resolve("m"), b -> b.autoApprove(true))) {
      Path ca = dir.resolve("m").resolve(MeshManager.CA_FILE);
      KeyPair keys = Csrs.generateKeyPair();
      String otherName = Csrs.csr(keys, "victim", List.of(), List.of("198.18.0.20"));
      assertThat(post(manager, ca, "/v1/enrol", enrolBody("mallory", List.of("198.18.0.20"), otherName)))
          .startsWith("403 ").contains("common name 'victim' is not the node's name 'mallory'");
      String otherUri = Csrs.csr(keys, "mallory", List.of("spiffe://test.mesh/node/victim"), List.of());
      assertThat(post(manager, ca, "/v1/enrol", enrolBody("mallory", List.of("198.18.0.20"), otherUri)))
          .startsWith("403 ").contains("URI:spiffe://test.mesh/node/victim");
      String otherIp = Csrs.csr(keys, "mallory", List.of(), List.of("198.18.0.99"));
      assertThat(post(manager, ca, "/v1/enrol", enrolBody("mallory", List.of("198.18.0.20"), otherIp)))
          .startsWith("403 ").contains("IP:198.18.0.99");
      assertThat(post(manager, ca, "/v1/enrol", enrolBody("Bad_Name", List.of("198.18.0.20"), otherIp)))
          .startsWith("400 ").contains("expected: 1-63 lower-case letters");
      assertThat(post(manager, ca, "/v1/enrol", enrolBody("mallory", List.of("127.0.0.1"), otherIp)))
          .startsWith("400 ").contains("not unspecified, loopback or multicast");
      assertThat(post(manager, ca, "/v1/enrol", enrolBody("mallory", List.of("198.18.0.20"), "-----BEGIN x")))
          .startsWith("400 ").contains("csr");
      assertThat(post(manager, ca, "/v1/enrol", "{\"name\": ")).startsWith("400 ").contains("not valid JSON");
      assertThat(post(manager, ca, "/v1/enrol", "[]")).startsWith("400 ").contains("expected a JSON object");
      Path big = dir.resolve("big.json");
      Files.writeString(big, "{\"name\":\"" + "a".repeat(100_000) + "\"}", StandardCharsets.US_ASCII);
      assertThat(post(manager, ca, "/v1/enrol", "@" + big)).startsWith("413");
      assertThat(post(manager, ca, "/v1/nodes", "{}")).startsWith("401 ").contains("Bearer");
      assertThat(post(manager, ca, "/v1/nope", "{}", "-H", "Authorization: Bearer " + ManagerFixture.ADMIN_TOKEN))
          .startsWith("404 ");
      assertThat(post(manager, ca, "/v1/status", "{}", "-H", "Authorization: Bearer " + ManagerFixture.ADMIN_TOKEN))
          .startsWith("405 ").contains("expected: GET");
      assertThat(manager.store().nodes()).as("nothing stored on refusal").isEmpty();
      // and the manager still serves a good node afterwards
      try (NodeEnrolment good = node(manager, dir.resolve("good"), "good", "198.18.0.21").caPin(manager.caPin())
          .build()) {
        good.start();
      }
      assertThat(manager.store().nodes()).hasSize(1);
    }
  }

  @Test
  void enrolmentsBeyondTheRateLimitGet429() throws Exception {
    try (MeshManager manager = ManagerFixture.start(dir.resolve("m"), b -> b.enrolmentRateLimit(0.001, 2))) {
      Path ca = dir.resolve("m").resolve(MeshManager.CA_FILE);
      assertThat(post(manager, ca, "/v1/enrol", "{}")).startsWith("400 ");
      assertThat(post(manager, ca, "/v1/enrol", "{}")).startsWith("400 ");
      assertThat(post(manager, ca, "/v1/enrol", "{}", "-D", "-")).startsWith("429 ")
          .contains("too many enrolment requests from 127.0.0.1").containsIgnoringCase("retry-after: 1");
      // operators are not rate-limited with the nodes
      assertThat(admin(manager).status().get("version").asLong()).isZero();
    }
  }

  @Test
  void certificatesFromAnotherCaAreRefusedOnMutualTlsEndpoints() throws Exception {
    try (MeshManager manager = ManagerFixture.start(dir.resolve("m"))) {
      Path ca = dir.resolve("m").resolve(MeshManager.CA_FILE);
      CertificateAuthority other = CertificateAuthority.builder().commonName("not the mesh").build();
      IssuedCertificate forged = other.issue(dev.conduit.core.pki.CertificateRequest.builder().commonName("host-x")
          .uri("spiffe://test.mesh/node/host-x").uri("spiffe://test.mesh/admin/root").build());
      forged.writeTo(dir.resolve("x.crt"), dir.resolve("x.key"));
      KeyPair keys = Csrs.generateKeyPair();
      String csr = Csrs.csr(keys, "host-x", List.of(), List.of("198.18.0.30"));
      String renew = post(manager, ca, "/v1/renew", enrolBody("host-x", List.of("198.18.0.30"), csr),
          "--cert", dir.resolve("x.crt").toString(), "--key", dir.resolve("x.key").toString());
      // the TLS handshake itself fails: curl gets no HTTP status at all
      assertThat(renew).startsWith("000 ");
      String adminCall = post(manager, ca, "/v1/tokens", "{\"ttl\": \"1h\"}",
          "--cert", dir.resolve("x.crt").toString(), "--key", dir.resolve("x.key").toString());
      assertThat(adminCall).startsWith("000 ");
      // without a client certificate, renewal is refused in HTTP
      assertThat(post(manager, ca, "/v1/renew", enrolBody("host-x", List.of("198.18.0.30"), csr)))
          .startsWith("401 ").contains("mutual TLS");
      assertThat(manager.store().nodes()).isEmpty();
      assertThat(manager.store().auditLog(10)).noneMatch(a -> a.action().startsWith("token"));
    }
  }

  @Test
  void aFloodOfBadEnrolmentsIsRefusedWhileAGoodOneSucceeds() throws Exception {
    try (MeshManager manager = ManagerFixture.start(dir.resolve("m"), b -> b.enrolmentRateLimit(20, 40))) {
      String token = admin(manager).createToken(Duration.ofMinutes(10), null).get("token").asText();
      ManagerCalls raw = new ManagerCalls(List.of(ManagerFixture.address(manager)), ManagerCalls.tls(
          new dev.conduit.core.control.enrol.internal.PinnedTrustManager(manager.caPin()), null, List.of()),
          Duration.ofSeconds(30));
      KeyPair keys = Csrs.generateKeyPair();
      List<String> csrs = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        csrs.add(Csrs.csr(keys, "intruder" + i, List.of(), List.of("198.18.0.40")));
      }
      ExecutorService flood = Executors.newFixedThreadPool(8);
      try {
        List<Future<Integer>> statuses = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
          int n = i;
          statuses.add(flood.submit(() -> {
            ObjectNode body = (ObjectNode) ManagerCalls.JSON.readTree(enrolBody("intruder" + (n % 10),
                List.of("198.18.0.40"), n % 3 == 0 ? csrs.get((n + 1) % 10) : csrs.get(n % 10)));
            body.put("token", n % 2 == 0 ? "aaaaaa.bbbbbbbbbbbbbbbb" : "garbage");
            return raw.call("POST", "/v1/enrol", java.util.Optional.of(body), java.util.Optional.empty()).status();
          }));
        }
        CompletableFuture<Void> good = CompletableFuture.runAsync(() -> {
          try (NodeEnrolment n = node(manager, dir.resolve("good"), "good", "198.18.0.41").token(token)
              .caPin(manager.caPin()).build()) {
            n.start();
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
        List<Integer> answered = new ArrayList<>();
        for (Future<Integer> f : statuses) {
          answered.add(f.get(120, TimeUnit.SECONDS));
        }
        good.get(120, TimeUnit.SECONDS);
        // wrong tokens 401, someone else's CSR 403, over the rate limit 429 (how many depends on the machine)
        assertThat(answered).allMatch(s -> s == 401 || s == 403 || s == 429, "401, 403 or 429").contains(401, 403);
      } finally {
        flood.shutdownNow();
      }
      assertThat(manager.store().nodes()).extracting(n -> n.name()).containsExactly("good");
    }
  }
}
