package dev.conduit.junit5;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The extension as an embedder's test uses it: a real origin, the JDK's client through the proxy. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ConduitExtensionTest {

  @RegisterExtension
  static final ConduitExtension proxy = ConduitExtension.configure(b -> b.router(Router.builder()
      .rule(Rule.builder("no-metadata").destinationCidr("169.254.0.0/16")
          .decision(RouteDecision.reject("cloud metadata is off limits")).build())
      .defaultDecision(RouteDecision.direct())
      .build()));

  static HttpServer origin;
  static int firstPort;

  @BeforeAll
  static void startOrigin() throws Exception {
    origin = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    origin.createContext("/hello", exchange -> {
      byte[] body = "hello".getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    origin.start();
  }

  @AfterAll
  static void stopOrigin() {
    origin.stop(0);
  }

  private static HttpResponse<String> get(String url) throws Exception {
    HttpClient client = HttpClient.newBuilder().proxy(proxy.proxySelector()).build();
    return client.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** curl through the proxy: its connection closes when it exits, so conduit reports it closed. */
  private static String curl(String url) throws Exception {
    Process p = new ProcessBuilder("curl", "-sS", "--max-time", "20", "-x", proxy.httpProxyUrl(), url)
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as(out).isZero();
    return out;
  }

  @Test
  @Order(1)
  void requestsGoThroughTheProxyAndAreRecorded() throws Exception {
    firstPort = proxy.address().getPort();
    assertThat(proxy.httpProxyUrl()).isEqualTo("http://127.0.0.1:" + firstPort);
    String url = "http://127.0.0.1:" + origin.getAddress().getPort() + "/hello";
    HttpResponse<String> r = get(url);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("hello");
    assertThat(curl(url)).isEqualTo("hello");
    ConnectionSummary s = proxy.recorder().awaitClosed(
        c -> c.destination().map(d -> d.port() == origin.getAddress().getPort()).orElse(false), Duration.ofSeconds(30));
    assertThat(s.outcome()).isEqualTo(Outcome.OK);
    assertThat(s.bytesToClient()).isPositive();
    assertThat(proxy.recorder().requests()).anyMatch(q -> q.destination().port() == origin.getAddress().getPort());
  }

  @Test
  @Order(2)
  void theClassSharesOneProxyAndItsRulesApply() throws Exception {
    assertThat(proxy.address().getPort()).isEqualTo(firstPort);
    HttpResponse<String> refused = get("http://169.254.169.254/latest/");
    assertThat(refused.statusCode()).isEqualTo(403);
    assertThatThrownBy(() -> proxy.recorder().awaitClosed(c -> false, Duration.ofMillis(1)))
        .isInstanceOf(TimeoutException.class);
  }
}
