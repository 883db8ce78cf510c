package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.Cli;
import dev.conduit.cli.ExitCode;
import dev.conduit.core.testing.Poll;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The admin section of {@code run -c} and {@code proxy --admin-listen}: Prometheus metrics after real traffic. */
class AdminAndMetricsTest {

  static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  static HttpResponse<String> get(int port, String path, String token) throws Exception {
    HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(10));
    if (token != null) {
      r.header("Authorization", "Bearer " + token);
    }
    return HTTP.send(r.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** The value of the first sample of {@code name} whose labels contain all of {@code labels}. */
  static Optional<Double> sample(String scrape, String name, String... labels) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{([^}]*)\\} (\\S+)$").matcher(scrape);
    while (m.find()) {
      boolean all = true;
      for (String l : labels) {
        all &= m.group(1).contains(l);
      }
      if (all) {
        return Optional.of(Double.parseDouble(m.group(2)));
      }
    }
    return Optional.empty();
  }

  @Test
  void runServesMetricsCountingCurlTrafficAndTheMaskedConfig(@TempDir Path dir) throws Exception {
    Processes.requireTool("curl");
    int adminPort = freePort();
    Files.writeString(dir.resolve("token"), "s3cret-token\n");
    Path yaml = dir.resolve("conduit.yaml");
    Files.writeString(yaml, """
        version: 1
        listeners:
          - name: web
            type: http
            listen: 127.0.0.1:0
            auth: {users: [{username: alice, password: pa55word}]}
        admin:
          listen: 127.0.0.1:%d
          token_file: %s
        log: {access: json}
        """.formatted(adminPort, dir.resolve("token")));
    try (TestOrigin origin = TestOrigin.start(); Cli.Running running = Cli.start("run", "-c", yaml.toString())) {
      int proxyPort = running.conduit().address("web").getPort();
      for (int i = 0; i < 3; i++) {
        Processes.Result curl = Processes.run("curl", "-sS", "--max-time", "10", "-x",
            "http://alice:pa55word@127.0.0.1:" + proxyPort, origin.uri("/hello").toString());
        assertThat(curl.exitCode()).as(curl.stderr()).isZero();
        assertThat(curl.out()).isEqualTo("hello");
      }
      assertThat(get(adminPort, "/metrics", null).statusCode()).isEqualTo(401);
      // closes are counted when conduit sees them, just after curl exits; a counter announces no event
      Poll.until("3 closes counted", Duration.ofSeconds(30), () -> sample(scrape(adminPort),
          "conduit_connections_closed_total", "listener=\"web\"", "outcome=\"ok\"").orElse(0.0) >= 3);
      String scrape = scrape(adminPort);
      assertThat(sample(scrape, "conduit_connections_accepted_total", "listener=\"web\"")).as(scrape).contains(3.0);
      assertThat(sample(scrape, "conduit_connections_closed_total", "listener=\"web\"", "outcome=\"ok\""))
          .as(scrape).contains(3.0);
      assertThat(sample(scrape, "conduit_traffic_bytes_total", "listener=\"web\"", "direction=\"download\""))
          .as(scrape).hasValueSatisfying(v -> assertThat(v).isGreaterThan(3 * "hello".length()));

      HttpResponse<String> config = get(adminPort, "/config", "s3cret-token");
      assertThat(config.statusCode()).isEqualTo(200);
      assertThat(config.body()).contains("name: web").contains("username: alice").contains("'****'")
          .contains("admin:").contains("access: json").doesNotContain("pa55word").doesNotContain("s3cret-token");
      assertThat(get(adminPort, "/readyz", "s3cret-token").statusCode()).isEqualTo(200);
      assertThat(running.stop().exitCode()).isEqualTo(ExitCode.OK);
    }
  }

  private static String scrape(int adminPort) {
    try {
      HttpResponse<String> metrics = get(adminPort, "/metrics", "s3cret-token");
      assertThat(metrics.statusCode()).isEqualTo(200);
      return metrics.body();
    } catch (Exception e) {
      throw new AssertionError("GET /metrics: " + e, e);
    }
  }

  static HttpResponse<String> post(int port, String path, String token, String body) throws Exception {
    HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.ofString(body))
        .header("Content-Type", "application/json");
    if (token != null) {
      r.header("Authorization", "Bearer " + token);
    }
    return HTTP.send(r.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void loggersEndpointListsAndChangesLevelsBehindTheToken(@TempDir Path dir) throws Exception {
    int adminPort = freePort();
    Path yaml = dir.resolve("conduit.yaml");
    Files.writeString(yaml, """
        version: 1
        listeners:
          - {name: socks, type: socks5, listen: 127.0.0.1:0}
        admin: {listen: 127.0.0.1:%d, token: t0ken}
        """.formatted(adminPort));
    try (Cli.Running running = Cli.start("run", "-c", yaml.toString())) {
      running.conduit();
      assertThat(get(adminPort, "/loggers", null).statusCode()).isEqualTo(401);
      assertThat(post(adminPort, "/loggers/dev.conduit.core", null, "{\"configuredLevel\":\"DEBUG\"}").statusCode())
          .isEqualTo(401);
      HttpResponse<String> all = get(adminPort, "/loggers", "t0ken");
      assertThat(all.statusCode()).isEqualTo(200);
      assertThat(all.body()).contains("\"levels\":[\"OFF\",\"ERROR\",\"WARN\",\"INFO\",\"DEBUG\",\"TRACE\"]",
          "\"ROOT\":{\"configuredLevel\":\"INFO\",\"effectiveLevel\":\"INFO\"}");
      assertThat(org.slf4j.LoggerFactory.getLogger("dev.conduit.core.Conduit").isDebugEnabled()).isFalse();

      HttpResponse<String> set = post(adminPort, "/loggers/dev.conduit.core", "t0ken", "{\"configuredLevel\": \"debug\"}");
      assertThat(set.statusCode()).as(set.body()).isEqualTo(204);
      assertThat(get(adminPort, "/loggers/dev.conduit.core", "t0ken").body())
          .isEqualTo("{\"configuredLevel\":\"DEBUG\",\"effectiveLevel\":\"DEBUG\"}");
      assertThat(get(adminPort, "/loggers/dev.conduit.core.Conduit", "t0ken").body())
          .isEqualTo("{\"configuredLevel\":null,\"effectiveLevel\":\"DEBUG\"}");
      assertThat(org.slf4j.LoggerFactory.getLogger("dev.conduit.core.Conduit").isDebugEnabled()).isTrue();

      HttpResponse<String> bad = post(adminPort, "/loggers/dev.conduit.core", "t0ken", "{\"configuredLevel\":\"LOUD\"}");
      assertThat(bad.statusCode()).isEqualTo(400);
      assertThat(bad.body()).contains("configuredLevel: LOUD (expected: one of");
      assertThat(post(adminPort, "/loggers/ROOT", "t0ken", "{\"configuredLevel\":null}").statusCode()).isEqualTo(400);

      assertThat(post(adminPort, "/loggers/dev.conduit.core", "t0ken", "{\"configuredLevel\":null}").statusCode())
          .isEqualTo(204);
      assertThat(get(adminPort, "/loggers/dev.conduit.core", "t0ken").body())
          .isEqualTo("{\"configuredLevel\":null,\"effectiveLevel\":\"INFO\"}");
      // the proxy still serves its admin endpoint after the bad requests
      assertThat(get(adminPort, "/healthz", "t0ken").statusCode()).isEqualTo(200);
      assertThat(running.stop().exitCode()).isEqualTo(ExitCode.OK);
    }
  }

  /** {@code promtool check metrics} over a scrape: required on CI, skipped where promtool is missing. */
  static void promtoolAccepts(String exposition) throws Exception {
    if (!Processes.available("promtool")) {
      if ("true".equals(System.getenv("CI"))) {
        throw new AssertionError("promtool is not installed (apt-get install prometheus); CI must have it");
      }
      return;
    }
    Path file = Files.createTempFile("conduit-metrics", ".txt");
    try {
      Files.writeString(file, exposition);
      Process p = new ProcessBuilder("promtool", "check", "metrics").redirectInput(file.toFile())
          .redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      assertThat(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).as("promtool check metrics:\n" + out).isZero();
    } finally {
      Files.delete(file);
    }
  }

  @Test
  void proxyAdminListenFlag() throws Exception {
    int adminPort = freePort();
    try (Cli.Running running = Cli.start("proxy", "--socks5-listen", "127.0.0.1:0", "--admin-listen",
        "127.0.0.1:" + adminPort, "--access-log", "off")) {
      running.conduit();
      HttpResponse<String> metrics = get(adminPort, "/metrics", null);
      assertThat(metrics.statusCode()).isEqualTo(200);
      assertThat(metrics.body()).contains("conduit_");
      // the JVM's and the process's meters, and the build, by name
      assertThat(metrics.body()).contains("jvm_memory_used_bytes{", "jvm_gc_", "jvm_threads_live_threads ",
          "jvm_classes_loaded_classes ", "process_cpu_usage ", "process_uptime_seconds ", "process_files_open_files ",
          "system_cpu_logical_processors ");
      assertThat(sample(metrics.body(), "conduit_build_info", "version=\"" + VersionCommand.version() + "\""))
          .as(metrics.body()).contains(1.0);
      promtoolAccepts(metrics.body());
      assertThat(get(adminPort, "/config", null).body()).contains("access: off").contains("socks5");
    }
    Cli.Result bad = Cli.run("proxy", "--socks5-listen", "127.0.0.1:0", "--admin-listen", "nowhere");
    assertThat(bad.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(bad.err()).contains("--admin-listen");
  }
}
