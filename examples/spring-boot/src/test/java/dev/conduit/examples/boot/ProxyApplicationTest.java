package dev.conduit.examples.boot;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.conduit.core.Conduit;
import io.netty.util.Version;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringBootVersion;
import org.springframework.boot.test.context.SpringBootTest;

/**
 * The application starts under Spring Boot 3 with conduit-bom, and the JDK's HTTP client goes through its
 * proxy to a real origin: the Netty Boot's BOM would pin (4.1) is replaced by the one conduit needs.
 */
@SpringBootTest(properties = "conduit.listen=127.0.0.1:0")
class ProxyApplicationTest {

  static HttpServer origin;
  static final AtomicInteger requests = new AtomicInteger();

  @Autowired
  Conduit conduit;

  @BeforeAll
  static void startOrigin() throws Exception {
    origin = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    origin.createContext("/hello", exchange -> {
      requests.incrementAndGet();
      byte[] body = "hello from the origin".getBytes(StandardCharsets.UTF_8);
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

  @Test
  void aRequestGoesThroughTheEmbeddedProxy() throws Exception {
    assertThat(SpringBootVersion.getVersion()).startsWith("3.");
    assertThat(Version.identify().get("netty-transport").artifactVersion()).startsWith("4.2.");
    InetSocketAddress proxy = conduit.address("mixed");
    HttpClient client = HttpClient.newBuilder().proxy(ProxySelector.of(proxy))
        .connectTimeout(Duration.ofSeconds(10)).build();
    URI uri = URI.create("http://127.0.0.1:" + origin.getAddress().getPort() + "/hello");
    HttpResponse<String> response = client.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(20)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).isEqualTo("hello from the origin");
    assertThat(requests.get()).isEqualTo(1);
    // the proxy's own rule: metadata addresses are refused with its reason, without dialing anything
    HttpResponse<String> refused = client.send(HttpRequest.newBuilder(URI.create("http://169.254.169.254/latest/"))
        .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(refused.statusCode()).isEqualTo(403);
  }
}
