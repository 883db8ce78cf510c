package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.conduit.cli.Cli;
import dev.conduit.cli.ExitCode;
import dev.conduit.core.Conduit;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.IssuedCertificate;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import java.io.ByteArrayInputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code cache serve} with seed 004's TOML file and its two curl examples; the admin endpoint with
 * {@code cache ls/purge/pin} on a directory the server holds; a bare relative {@code --cache-dir}.
 */
class CacheSeedAndAdminTest {

  /** Seed 004's file as written, except that directories and ports are the test's own. */
  private static final String SEED_TOML = """
      [misc]
      log_level = 'info'
      cert_dir  = '%s'
      file_dir  = '%s'

      [proxy]
      tcp_bind = '127.0.0.1:%d'
      tls_bind = '127.0.0.1:%d'
      filters  = [
        '^/v2/.*/blobs/sha256:\\w+$',
        '^/.*\\.(?:apk|deb|rpm)$',
        '^/.*\\.(?:tar|tbz|tgz|txz)$',
        '^/.*\\.(?:7z|bz2|gz|xz|zip|zst)$',
      ]

      [certs]
      rsa_key_bits    = 3072
      days_from_now   = 3072
      ca_cn           = 'dduct'
      server_cn       = '*.dduct.rs'
      server_dns_sans = [
        '*.dduct.rs',
        '*.docker.io',
        '*.gcr.io',
        '*.githubusercontent.com',
        '*.k8s.io',
        '*.quay.io',
        'ghcr.io',
        'quay.io',
        'localhost',
      ]
      server_ip_sans  = ['127.0.0.1']
      client_cn       = 'client.dduct.rs'
      p12_pass        = 'dduct'
      """;

  @Test
  void seedTomlRunsWithBothCurlExamples(@TempDir Path dir) throws Exception {
    Processes.requireTool("curl");
    Path certs = dir.resolve("certs");
    int tcp = freePort();
    int tls = freePort();
    Path toml = dir.resolve("dduct.toml");
    Files.writeString(toml, SEED_TOML.formatted(certs, dir.resolve("files"), tcp, tls));
    CertificateAuthority originCa = CertificateAuthority.builder().commonName("origin CA").build();
    Path originCaFile = dir.resolve("origin-ca.crt");
    originCa.writeTo(originCaFile, dir.resolve("origin-ca.key"));
    byte[] body = TestOrigin.bytes(300_000);
    AtomicInteger requests = new AtomicInteger();
    HttpsServer origin = httpsOrigin(originCa.mintServerLeaf("localhost"), body, requests);
    try (Cli.Running running = Cli.start("cache", "serve", "--cfg", toml.toString(),
        "--trust-upstream-ca", originCaFile.toString(), "--access-log", "off")) {
      running.conduit();
      String url = "https://localhost:" + origin.getAddress().getPort() + "/some/thing/here.txz";
      Path ca = certs.resolve("ca.crt");
      // curl -fv -x http://127.0.0.1:8000 --cacert ca.crt -LO https://some.thing/here.txz
      Processes.Result plain = Processes.run(40, List.of("curl", "-fsS", "--max-time", "30", "-D", "-", "-o",
          dir.resolve("a.txz").toString(), "-x", "http://127.0.0.1:" + tcp, "--cacert", ca.toString(), "-L", url));
      assertThat(plain.exitCode()).as(plain.stderr()).isZero();
      assertThat(plain.out()).containsIgnoringCase("X-Cache: MISS");
      // curl -fv --proxy-cacert ca.crt -x https://127.0.0.1:4430 --cacert ca.crt -LO https://some.thing/here.txz
      Processes.Result tlsProxy = Processes.run(40, List.of("curl", "-fsS", "--max-time", "30", "-D", "-", "-o",
          dir.resolve("b.txz").toString(), "--proxy-cacert", ca.toString(), "-x", "https://127.0.0.1:" + tls,
          "--cacert", ca.toString(), "-L", url));
      assertThat(tlsProxy.exitCode()).as(tlsProxy.stderr()).isZero();
      assertThat(tlsProxy.out()).containsIgnoringCase("X-Cache: HIT");
      assertThat(Files.readAllBytes(dir.resolve("a.txz"))).isEqualTo(body);
      assertThat(Files.readAllBytes(dir.resolve("b.txz"))).isEqualTo(body);
      assertThat(requests.get()).isEqualTo(1);
      assertThat(certs.resolve("ca.p12")).exists();
      Cli.Result result = running.stop();
      assertThat(result.exitCode()).isZero();
      assertThat(result.err()).contains("notice: certs.rsa_key_bits: not followed: conduit's CA and leaf keys are ECDSA");
      assertThat(result.err().lines().filter(l -> l.contains("rsa_key_bits"))).hasSize(1);
    } finally {
      origin.stop(0);
    }
  }

  @Test
  void aFileThatIsNotTomlIsAUsageError(@TempDir Path dir) throws Exception {
    Path bad = dir.resolve("bad.toml");
    Files.writeString(bad, "[misc\nlog_level = ");
    Cli.Result r = Cli.run("cache", "serve", "--cfg", bad.toString());
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(ExitCode.USAGE);
    assertThat(r.errLines()).hasSize(1);
    assertThat(r.err()).contains("not valid TOML");
  }

  @Test
  void lsPurgeAndPinGoThroughTheAdminEndpointOfTheServerHoldingTheDirectory(@TempDir Path dir) throws Exception {
    Processes.requireTool("curl");
    Path files = dir.resolve("files");
    try (TestOrigin origin = TestOrigin.start();
        Cli.Running running = Cli.start("cache", "serve", "--cert-dir", dir.resolve("certs").toString(),
            "--cache-dir", files.toString(), "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
            "--filter", "^/bytes$", "--max-age", "^/bytes$=1h", "--access-log", "off")) {
      Conduit conduit = running.conduit();
      String proxy = "http://127.0.0.1:" + conduit.address(conduit.listeners().get(0).name()).getPort();
      String url = origin.uri("/bytes?n=4096").toString();
      for (int i = 0; i < 2; i++) {
        assertThat(Processes.run("curl", "-sS", "-o", "/dev/null", "-x", proxy, url).exitCode()).isZero();
      }
      Cli.Result ls = Cli.run("cache", "ls", "--dir", files.toString());
      assertThat(ls.exitCode()).as(ls.toString()).isZero();
      assertThat(ls.out()).contains("MUTABLE", "4096", url.replace("?n=4096", ""), "1 entries, 4096 bytes");
      String admin = Files.readString(files.resolve(".admin")).strip();
      Processes.Result metrics = Processes.run("curl", "-sS", admin + "/metrics");
      assertThat(metrics.out()).contains("conduit_cache_hits_total 1.0", "conduit_cache_entries 1.0",
          "conduit_connections_accepted_total");
      Cli.Result pin = Cli.run("cache", "pin", "--dir", files.toString(), "--prefix", "http://");
      assertThat(pin.out()).as(pin.toString()).isEqualTo("pinned 1 entry\n");
      assertThat(Cli.run("cache", "ls", "--dir", files.toString()).out()).contains(" yes ");
      Cli.Result purge = Cli.run("cache", "purge", "--dir", files.toString(), "--older-than", "0s");
      assertThat(purge.out()).as(purge.toString()).isEqualTo("purged 1 entry\n");
      assertThat(Cli.run("cache", "ls", "--dir", files.toString()).out()).contains("0 entries, 0 bytes");
      assertThat(running.stop().exitCode()).isZero();
    }
    assertThat(files.resolve(".admin")).doesNotExist();
  }

  @Test
  void aServerWithoutAdminEndpointIsListedReadOnlyAndPurgeSaysWhy(@TempDir Path dir) throws Exception {
    Processes.requireTool("curl");
    // a bare relative name, as `--cache-dir files` (it crashed with a NullPointerException)
    Path files = Path.of("target", "cache-test-" + System.nanoTime());
    try (TestOrigin origin = TestOrigin.start();
        Cli.Running running = Cli.start("cache", "serve", "--cert-dir", dir.resolve("certs").toString(),
            "--cache-dir", files.toString(), "--listen", "127.0.0.1:0", "--filter", "^/bytes$", "--access-log", "off")) {
      Conduit conduit = running.conduit();
      String proxy = "http://127.0.0.1:" + conduit.address(conduit.listeners().get(0).name()).getPort();
      assertThat(Processes.run("curl", "-sS", "-o", "/dev/null", "-x", proxy,
          origin.uri("/bytes?n=1000").toString()).exitCode()).isZero();
      Cli.Result ls = Cli.run("cache", "ls", "--dir", files.toString());
      assertThat(ls.exitCode()).as(ls.toString()).isZero();
      assertThat(ls.err()).contains("in use; listing it read-only");
      assertThat(ls.out()).contains("1 entries, 1000 bytes");
      Cli.Result purge = Cli.run("cache", "purge", "--dir", files.toString(), "--all");
      assertThat(purge.exitCode()).isEqualTo(ExitCode.FAILURE);
      assertThat(purge.errLines()).hasSize(1);
      assertThat(purge.err()).contains("in use by a server without an admin endpoint");
      assertThat(running.stop().exitCode()).isZero();
    }
    Cli.Result ls = Cli.run("cache", "ls", "--dir", files.toString());
    assertThat(ls.out()).contains("1 entries, 1000 bytes");
    assertThat(Cli.run("cache", "purge", "--dir", files.toString(), "--all").out()).isEqualTo("purged 1 entry\n");
  }

  @Test
  void theCacheSectionOfRunMountsTheCacheRouteOnItsAdminEndpoint(@TempDir Path dir) throws Exception {
    Processes.requireTool("curl");
    int admin = freePort();
    Path yaml = dir.resolve("conduit.yaml");
    Files.writeString(yaml, """
        version: 1
        cache:
          cert_dir: %s
          cache_dir: %s
          listen: 127.0.0.1:0
          filters: ['^/bytes$']
        admin:
          listen: 127.0.0.1:%d
        log:
          access: "off"
        """.formatted(dir.resolve("certs"), dir.resolve("files"), admin));
    try (TestOrigin origin = TestOrigin.start(); Cli.Running running = Cli.start("run", "-c", yaml.toString())) {
      Conduit conduit = running.conduit();
      String proxy = "http://127.0.0.1:" + conduit.address("cache").getPort();
      assertThat(Processes.run("curl", "-sS", "-o", "/dev/null", "-x", proxy,
          origin.uri("/bytes?n=2048").toString()).exitCode()).isZero();
      Processes.Result entries = Processes.run("curl", "-sS", "http://127.0.0.1:" + admin + "/cache/entries");
      assertThat(entries.out()).contains("\"count\": 1, \"bytes\": 2048");
      assertThat(Processes.run("curl", "-sS", "http://127.0.0.1:" + admin + "/metrics").out())
          .contains("conduit_cache_entries 1.0");
      assertThat(running.stop().exitCode()).isZero();
    }
  }

  private static HttpsServer httpsOrigin(IssuedCertificate leaf, byte[] body, AtomicInteger requests) throws Exception {
    char[] pw = "test".toCharArray();
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(new ByteArrayInputStream(leaf.toPkcs12(pw)), pw);
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, pw);
    SSLContext ssl = SSLContext.getInstance("TLS");
    ssl.init(kmf.getKeyManagers(), null, null);
    HttpsServer s = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
    s.setHttpsConfigurator(new HttpsConfigurator(ssl));
    s.createContext("/", ex -> {
      try (ex) {
        requests.incrementAndGet();
        ex.getResponseHeaders().set("Cache-Control", "max-age=600");
        ex.sendResponseHeaders(200, body.length);
        try (OutputStream out = ex.getResponseBody()) {
          out.write(body);
        }
      }
    });
    s.start();
    return s;
  }

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
