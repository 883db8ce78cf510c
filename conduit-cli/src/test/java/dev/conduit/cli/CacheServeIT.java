package dev.conduit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.testing.FileWatch;
import dev.conduit.core.testing.Processes;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code cache serve} from the shaded jar: its admin endpoint, SIGHUP reload and SIGTERM drain, as users run it. */
class CacheServeIT {
  private static final Pattern ADMIN = Pattern.compile("admin endpoint on http://127\\.0\\.0\\.1:(\\d+)/");

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  @Test
  void cacheServeAnswersOnItsAdminEndpointAndReloadsOnSighup(@TempDir Path dir) throws Exception {
    Path jar = Path.of(System.getProperty("conduit.jar", "target/conduit.jar"));
    assertThat(jar).as("built by package").exists();
    Path log = dir.resolve("conduit.log");
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
        jar.toString(), "cache", "serve", "--cert-dir", dir.resolve("certs").toString(), "--cache-dir",
        dir.resolve("files").toString(), "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
        "--drain-timeout", "5s").redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      int admin = waitFor(p, log, ADMIN);
      String base = "http://127.0.0.1:" + admin;
      assertThat(get(base + "/readyz").statusCode()).isEqualTo(200);
      assertThat(get(base + "/runtime").body()).contains("\"state\":\"running\"").doesNotContain("last_reload");

      Processes.Result hup = Processes.run(10, List.of("kill", "-HUP", Long.toString(p.pid())));
      assertThat(hup.exitCode()).as(hup.stderr()).isZero();
      FileWatch.await(log, Pattern.compile("reload done: .*\\bcache unchanged"), Duration.ofSeconds(30), p);
      assertThat(get(base + "/runtime").body()).contains("last_reload").contains("\"cache\":\"UNCHANGED\"");
      assertThat(p.isAlive()).isTrue();
      assertThat(get(base + "/readyz").statusCode()).isEqualTo(200);

      p.destroy();
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).as(Files.readString(log)).isZero();
      assertThat(Files.readString(log)).contains("SIGHUP received").contains("stopped");
    } finally {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
  }

  private HttpResponse<String> get(String uri) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(uri)).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static int waitFor(Process p, Path log, Pattern line) throws Exception {
    return FileWatch.awaitNumber(log, line, Duration.ofSeconds(30), p);
  }
}
