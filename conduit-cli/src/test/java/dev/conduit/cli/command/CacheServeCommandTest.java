package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.Cli;
import dev.conduit.core.Conduit;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code conduit cache serve}: seed 004's caching proxy from the command line. */
class CacheServeCommandTest {

  @Test
  void secondDownloadIsAHitAndTheOriginIsAskedOnce(@TempDir Path dir) throws Exception {
    Processes.requireTool("curl");
    Path certs = dir.resolve("certs");
    Path files = dir.resolve("files");
    try (TestOrigin origin = TestOrigin.start();
        Cli.Running running = Cli.start("cache", "serve", "--cert-dir", certs.toString(), "--cache-dir",
            files.toString(), "--listen", "127.0.0.1:0", "--filter", "^/bytes$", "--access-log", "off")) {
      Conduit conduit = running.conduit();
      String proxy = "http://127.0.0.1:" + conduit.address(conduit.listeners().get(0).name()).getPort();
      String url = origin.uri("/bytes?n=1048576").toString();
      Processes.Result miss = Processes.run("curl", "-sS", "--max-time", "20", "-D", "-", "-o",
          dir.resolve("a").toString(), "-x", proxy, url);
      assertThat(miss.exitCode()).as(miss.stderr()).isZero();
      assertThat(miss.out()).containsIgnoringCase("X-Cache: MISS");
      Processes.Result hit = Processes.run("curl", "-sS", "--max-time", "20", "-D", "-", "-o",
          dir.resolve("b").toString(), "-x", proxy, url);
      assertThat(hit.exitCode()).as(hit.stderr()).isZero();
      assertThat(hit.out()).containsIgnoringCase("X-Cache: HIT");
      assertThat(Files.readAllBytes(dir.resolve("b"))).isEqualTo(TestOrigin.bytes(1 << 20))
          .isEqualTo(Files.readAllBytes(dir.resolve("a")));
      assertThat(origin.requests()).isEqualTo(1);
      // the CA was created on first start, its key private
      assertThat(certs.resolve("ca.crt")).exists();
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(certs.resolve("ca.key"))))
          .isEqualTo("rw-------");
      assertThat(running.stop().exitCode()).isZero();
    }
    Cli.Result ls = Cli.run("cache", "ls", "--dir", files.toString());
    assertThat(ls.exitCode()).as(ls.toString()).isZero();
    assertThat(ls.out()).contains("1 entries, 1048576 bytes");
  }

  @Test
  void cacheSectionOfConduitYamlRunsTheSameProxy(@TempDir Path dir) throws Exception {
    Processes.requireTool("curl");
    Path certs = dir.resolve("certs");
    Path files = dir.resolve("files");
    Path yaml = dir.resolve("conduit.yaml");
    Files.writeString(yaml, """
        version: 1
        cache:
          cert_dir: %s
          cache_dir: %s
          listen: 127.0.0.1:0
          intercept: ["*.example.test"]
          filters: ['^/bytes$']
          max_cache_size: 1073741824
        log:
          access: "off"
        """.formatted(certs, files));
    try (TestOrigin origin = TestOrigin.start();
        Cli.Running running = Cli.start("run", "-c", yaml.toString())) {
      Conduit conduit = running.conduit();
      assertThat(conduit.listeners()).extracting(l -> l.name()).containsExactly("cache");
      String proxy = "http://127.0.0.1:" + conduit.address("cache").getPort();
      String url = origin.uri("/bytes?n=65536").toString();
      for (String expected : new String[] {"MISS", "HIT"}) {
        Processes.Result r = Processes.run("curl", "-sS", "--max-time", "20", "-D", "-", "-o",
            dir.resolve(expected).toString(), "-x", proxy, url);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(r.out()).containsIgnoringCase("X-Cache: " + expected);
      }
      assertThat(Files.readAllBytes(dir.resolve("HIT"))).isEqualTo(TestOrigin.bytes(65536));
      assertThat(origin.requests()).isEqualTo(1);
      assertThat(certs.resolve("ca.crt")).exists();
      assertThat(running.stop().exitCode()).isZero();
    }
  }

  @Test
  void cacheSectionWithoutCertDirIsAConfigError(@TempDir Path dir) throws Exception {
    Path yaml = dir.resolve("conduit.yaml");
    Files.writeString(yaml, "version: 1\ncache:\n  cache_dir: " + dir + "\n");
    Cli.Result r = Cli.run("check", "-c", yaml.toString());
    assertThat(r.exitCode()).as(r.toString()).isNotZero();
    assertThat(r.toString()).contains("cache.cert_dir is required");
  }

  @Test
  void badFilterIsAUsageError(@TempDir Path dir) {
    Cli.Result r = Cli.run("cache", "serve", "--cert-dir", dir.toString(), "--cache-dir", dir.toString(),
        "--filter", "([unclosed");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
    assertThat(r.errLines()).hasSize(1);
  }

  /** {@code cache serve --admin-listen}: the runtime's admin endpoint, answering a real HTTP client; reload reaches the cache. */
  @Test
  void cacheServeAnswersOnItsAdminEndpointAndReloads(@TempDir Path dir) throws Exception {
    int adminPort = AdminAndMetricsTest.freePort();
    try (Cli.Running running = Cli.start("cache", "serve", "--cert-dir", dir.resolve("certs").toString(),
        "--cache-dir", dir.resolve("files").toString(), "--listen", "127.0.0.1:0", "--access-log", "off",
        "--admin-listen", "127.0.0.1:" + adminPort, "--drain-timeout", "2s")) {
      Conduit conduit = running.conduit();
      assertThat(AdminAndMetricsTest.get(adminPort, "/readyz", null).statusCode()).isEqualTo(200);
      assertThat(AdminAndMetricsTest.get(adminPort, "/connections", null).body()).startsWith("[");
      assertThat(AdminAndMetricsTest.get(adminPort, "/config", null).body()).contains("cache_dir: " + dir.resolve("files"));
      assertThat(AdminAndMetricsTest.get(adminPort, "/metrics", null).body()).contains("conduit_");
      String status = AdminAndMetricsTest.get(adminPort, "/runtime", null).body();
      assertThat(status).contains("\"services\":[\"event-loops\",\"metrics\",\"cache\",\"conduit\",\"admin\"]")
          .contains("\"drain_timeout_ms\":12000");
      assertThat(conduit.isRunning()).isTrue();

      running.reload();
      assertThat(AdminAndMetricsTest.get(adminPort, "/runtime", null).body()).contains("\"cache\":\"UNCHANGED\"");
      assertThat(running.stop().exitCode()).isZero();
    }
  }

  @Test
  void badAdminListenIsAUsageError(@TempDir Path dir) {
    Cli.Result r = Cli.run("cache", "serve", "--cert-dir", dir.toString(), "--cache-dir", dir.toString(),
        "--admin-listen", "nowhere");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
    assertThat(r.err()).contains("--admin-listen");
  }
}
