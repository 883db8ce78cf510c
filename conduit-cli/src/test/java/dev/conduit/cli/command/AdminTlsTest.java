package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.Cli;
import dev.conduit.cli.ExitCode;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code admin} section's TLS keys ({@code tls_cert}, {@code tls_key}, {@code client_ca},
 * {@code client_certificates}) on a proxy started by {@code run -c}, through curl with test-made certificates.
 */
class AdminTlsTest {

  private static final CertificateAuthority SERVER_CA = CertificateAuthority.builder().commonName("admin https CA")
      .build();
  private static final CertificateAuthority ADMIN_CA = CertificateAuthority.builder().commonName("admin clients CA")
      .build();
  private static final CertificateAuthority OTHER_CA = CertificateAuthority.builder().commonName("another CA").build();

  @TempDir
  static Path dir;

  @BeforeAll
  static void certificates() throws Exception {
    SERVER_CA.mintServerLeaf("127.0.0.1").writeTo(dir.resolve("server.pem"), dir.resolve("server.key"));
    Files.writeString(dir.resolve("server-ca.pem"), SERVER_CA.certificatePem());
    Files.writeString(dir.resolve("admin-ca.pem"), ADMIN_CA.certificatePem());
    ADMIN_CA.issue(CertificateRequest.builder().commonName("alice").uri("spiffe://conduit.test/admin/alice")
        .usages(CertificateRequest.Usage.CLIENT).build()).writeTo(dir.resolve("alice.pem"), dir.resolve("alice.key"));
    OTHER_CA.issue(CertificateRequest.builder().commonName("mallory").usages(CertificateRequest.Usage.CLIENT).build())
        .writeTo(dir.resolve("mallory.pem"), dir.resolve("mallory.key"));
  }

  @Test
  void optionalClientCertificatesStandInForTheTokenOverHttpsOnly() throws Exception {
    int port = AdminAndMetricsTest.freePort();
    Path yaml = config(port, "client_certificates: optional");
    try (Cli.Running running = Cli.start("run", "-c", yaml.toString())) {
      running.conduit();
      String url = "https://127.0.0.1:" + port + "/metrics";
      assertThat(curl(null, url).status()).isEqualTo("401");
      assertThat(curl(null, "-H", "Authorization: Bearer t0ken", url).status()).isEqualTo("200");
      Curl alice = curl("alice", url);
      assertThat(alice.status()).as(alice.output()).isEqualTo("200");
      assertThat(alice.output()).contains("# TYPE");
      // a certificate from another CA fails the handshake (or, at best, is no credential)
      Curl mallory = curl("mallory", url);
      assertThat(mallory.exit() != 0 || mallory.status().equals("401")).as(mallory.output()).isTrue();
      // plain HTTP gets no admin answer
      Curl plain = curl(null, "-H", "Authorization: Bearer t0ken", "http://127.0.0.1:" + port + "/metrics");
      assertThat(plain.status()).isNotEqualTo("200");
      assertThat(running.stop().exitCode()).isEqualTo(ExitCode.OK);
    }
  }

  @Test
  void requiredClientCertificatesRefuseHandshakesWithoutOne() throws Exception {
    int port = AdminAndMetricsTest.freePort();
    Path yaml = config(port, "client_certificates: required");
    try (Cli.Running running = Cli.start("run", "-c", yaml.toString())) {
      running.conduit();
      String url = "https://127.0.0.1:" + port + "/metrics";
      Curl none = curl(null, "-H", "Authorization: Bearer t0ken", url);
      assertThat(none.exit()).as(none.output()).isNotEqualTo(0);
      assertThat(curl("alice", url).status()).isEqualTo("200");
      // the proxy serves on after the refused handshake
      assertThat(curl("alice", "https://127.0.0.1:" + port + "/healthz").status()).isEqualTo("200");
      assertThat(running.stop().exitCode()).isEqualTo(ExitCode.OK);
    }
  }

  @Test
  void badTlsKeysAreOneLineErrors() throws Exception {
    for (String[] bad : List.of(
        new String[] {"tls_cert: " + dir.resolve("server.pem"), "tls_cert without tls_key"},
        new String[] {"client_ca: " + dir.resolve("admin-ca.pem"), "client_ca without tls_cert/tls_key"},
        new String[] {"tls_cert: " + dir.resolve("server.pem") + "\n  tls_key: " + dir.resolve("server.key")
            + "\n  client_certificates: maybe", "client_certificates: maybe (expected: none, optional or required)"},
        new String[] {"tls_cert: " + dir.resolve("server.pem") + "\n  tls_key: " + dir.resolve("server.key")
            + "\n  client_certificates: required", "client_certificates: required without client_ca"},
        new String[] {"tls_cert: " + dir.resolve("nothing.pem") + "\n  tls_key: " + dir.resolve("server.key"),
            "nothing.pem"})) {
      Path yaml = dir.resolve("bad.yaml");
      Files.writeString(yaml, "version: 1\nlisteners:\n  - {name: socks, type: socks5, listen: 127.0.0.1:0}\n"
          + "admin:\n  listen: 127.0.0.1:" + AdminAndMetricsTest.freePort() + "\n  " + bad[0] + "\n");
      Cli.Result r = Cli.run("run", "-c", yaml.toString());
      assertThat(r.exitCode()).as(r.toString()).isNotEqualTo(ExitCode.OK);
      assertThat(r.errLines()).as(r.toString()).hasSize(1);
      assertThat(r.err()).as(bad[0]).contains(bad[1]);
    }
  }

  private static Path config(int port, String clientCertificates) throws Exception {
    Path yaml = dir.resolve("conduit-" + port + ".yaml");
    Files.writeString(yaml, """
        version: 1
        listeners:
          - {name: socks, type: socks5, listen: 127.0.0.1:0}
        admin:
          listen: 127.0.0.1:%d
          token: t0ken
          tls_cert: %s
          tls_key: %s
          client_ca: %s
          %s
        """.formatted(port, dir.resolve("server.pem"), dir.resolve("server.key"), dir.resolve("admin-ca.pem"),
        clientCertificates));
    return yaml;
  }

  /** curl's exit code, the status it printed and its whole output. */
  record Curl(int exit, String status, String output) {}

  private static Curl curl(String certificate, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "20", "--cacert",
        dir.resolve("server-ca.pem").toString(), "-w", "\n%{http_code}"));
    if (certificate != null) {
      cmd.addAll(List.of("--cert", dir.resolve(certificate + ".pem").toString(), "--key",
          dir.resolve(certificate + ".key").toString()));
    }
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    int exit = p.waitFor();
    String[] lines = out.strip().split("\n");
    return new Curl(exit, lines[lines.length - 1].strip(), out);
  }
}
