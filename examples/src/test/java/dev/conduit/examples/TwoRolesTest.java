package dev.conduit.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.runtime.ConduitRuntime;
import dev.conduit.core.runtime.ConfigSections;
import dev.conduit.core.runtime.ReloadReport;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two roles in one runtime, driven by curl and the JDK's HTTP client: the forward proxy and the cache
 * serve side by side, the admin endpoint shows both, a reload reaches the proxy's section, one stop
 * drains both; and the README shows this example's code as it is.
 */
class TwoRolesTest {
  private final HttpClient http = HttpClient.newHttpClient();

  @Test
  void proxyAndCacheServeFromOneRuntime(@TempDir Path dir) throws Exception {
    Processes.requireTool("curl");
    ConduitRuntime runtime = TwoRoles.build("127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", dir.resolve("certs"),
        dir.resolve("cache"), List.of("^/bytes$"), new TwoRoles.ProxySettings(List.of("169.254.0.0/16")));
    try (TestOrigin origin = TestOrigin.start()) {
      runtime.start();
      String proxyUrl = "http://127.0.0.1:" + conduitPort(runtime, "proxy", "http");
      String cacheUrl = "http://127.0.0.1:" + conduitPort(runtime, "cache-proxy", "tcp");
      String url = origin.uri("/bytes?n=4096").toString();

      assertThat(curlStatus(proxyUrl, url)).isEqualTo("200");
      assertThat(curl(cacheUrl, url)).containsIgnoringCase("X-Cache: MISS");
      assertThat(curl(cacheUrl, url)).containsIgnoringCase("X-Cache: HIT");

      String admin = "http://127.0.0.1:" + runtime.admin().orElseThrow().address().getPort();
      assertThat(get(admin + ConduitRuntime.STATUS_PATH)).contains(
          "\"services\":[\"cache\",\"cache-proxy\",\"proxy\",\"proxy-rules\",\"admin\"]");
      assertThat(get(admin + "/proxy")).isEqualTo("{\"blocked\":[\"169.254.0.0/16\"]}");

      ReloadReport report = runtime.reload(ConfigSections.builder()
          .section(TwoRoles.PROXY, new TwoRoles.ProxySettings(List.of("127.0.0.0/8"))).build());
      assertThat(report.succeeded()).isTrue();
      assertThat(report.outcomes().get("proxy-rules").detail()).isEqualTo("1 blocked network(s)");
      assertThat(curlStatus(proxyUrl, url)).isEqualTo("403");
      assertThat(curl(cacheUrl, url)).as("the other role is untouched").containsIgnoringCase("X-Cache: HIT");
      assertThat(get(admin + "/proxy")).isEqualTo("{\"blocked\":[\"127.0.0.0/8\"]}");
    } finally {
      assertThat(runtime.stop()).isTrue();
    }
    assertThat(runtime.state()).isEqualTo(ConduitRuntime.State.STOPPED);
  }

  @Test
  void theReadmeShowsThisExample() throws Exception {
    String source = Files.readString(Path.of("src/main/java/dev/conduit/examples/TwoRoles.java"));
    String begin = "// README-begin: two roles\n";
    String code = source.substring(source.indexOf(begin) + begin.length(), source.indexOf("  // README-end"));
    String snippet = code.substring(code.indexOf("  public static ConduitRuntime build")).lines()
        .map(line -> line.startsWith("  ") ? line.substring(2) : line).collect(java.util.stream.Collectors.joining("\n"));
    assertThat(Files.readString(Path.of("..", "README.md"))).contains(snippet);
  }

  private static int conduitPort(ConduitRuntime runtime, String service, String listener) {
    return runtime.services().stream().filter(s -> s.name().equals(service))
        .map(s -> ((dev.conduit.core.runtime.ConduitService) s).conduit().address(listener).getPort())
        .findFirst().orElseThrow();
  }

  private static String curl(String proxy, String url) throws Exception {
    Processes.Result r = Processes.run(30, List.of("curl", "-sS", "--max-time", "20", "-D", "-", "-o", "/dev/null",
        "-x", proxy, url));
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    return r.out();
  }

  private static String curlStatus(String proxy, String url) throws Exception {
    Processes.Result r = Processes.run(30, List.of("curl", "-sS", "--max-time", "20", "-o", "/dev/null", "-w",
        "%{http_code}", "-x", proxy, url));
    return r.out();
  }

  private String get(String uri) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(uri)).build(), HttpResponse.BodyHandlers.ofString()).body();
  }
}
