package dev.conduit.core.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Routes that roles mount on the admin endpoint, driven by the JDK's HTTP client. */
class AdminRoutesTest {
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @Test
  void mountedRoutesAnswerBelowTheirPrefixAfterTheTokenCheck() throws Exception {
    AtomicReference<AdminRequest> seen = new AtomicReference<>();
    AtomicReference<String> thread = new AtomicReference<>();
    try (AdminServer admin = AdminServer.builder().bind("127.0.0.1:0").token("t0ken")
        .route("/cache", req -> {
          seen.set(req);
          thread.set(Thread.currentThread().getName());
          return AdminResponse.json(200, "{\"path\":\"" + req.path() + "\"}");
        })
        .route("/cache/entries", req -> AdminResponse.text(201, "deeper"))
        .route("/fails", req -> {
          throw new IllegalArgumentException("key: missing");
        })
        .build().start()) {
      String base = "http://127.0.0.1:" + admin.address().getPort();

      HttpResponse<String> unauthorised = http.send(HttpRequest.newBuilder(URI.create(base + "/cache")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(unauthorised.statusCode()).isEqualTo(401);
      assertThat(seen.get()).isNull();

      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/cache/x?key=a%20b&key=c"))
          .header("Authorization", "Bearer t0ken").header("X-Test", "1")
          .POST(HttpRequest.BodyPublishers.ofString("hello")).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("content-type")).hasValue(AdminResponse.JSON);
      assertThat(r.body()).isEqualTo("{\"path\":\"/cache/x\"}");
      assertThat(seen.get().method()).isEqualTo("POST");
      assertThat(seen.get().parameter("key")).hasValue("a b");
      assertThat(seen.get().query().get("key")).containsExactly("a b", "c");
      assertThat(seen.get().header("x-test")).hasValue("1");
      assertThat(seen.get().bodyText()).isEqualTo("hello");
      assertThat(thread.get()).startsWith("conduit-admin-route");

      HttpResponse<String> deeper = http.send(HttpRequest.newBuilder(URI.create(base + "/cache/entries/1"))
          .header("Authorization", "Bearer t0ken").build(), HttpResponse.BodyHandlers.ofString());
      assertThat(deeper.statusCode()).isEqualTo(201);

      HttpResponse<String> sibling = http.send(HttpRequest.newBuilder(URI.create(base + "/cachex"))
          .header("Authorization", "Bearer t0ken").build(), HttpResponse.BodyHandlers.ofString());
      assertThat(sibling.statusCode()).isEqualTo(404);

      HttpResponse<String> bad = http.send(HttpRequest.newBuilder(URI.create(base + "/fails"))
          .header("Authorization", "Bearer t0ken").build(), HttpResponse.BodyHandlers.ofString());
      assertThat(bad.statusCode()).isEqualTo(400);
      assertThat(bad.body()).contains("key: missing");
    }
  }

  @Test
  void anOversizedBodyStillInFlightGetsItsAnswer() throws Exception {
    try (AdminServer admin = AdminServer.builder().bind("127.0.0.1:0").token("t0ken")
        .route("/cache", req -> AdminResponse.noContent()).build().start()) {
      String base = "http://127.0.0.1:" + admin.address().getPort();
      // 8 MiB: far more than the kernel buffers, so most of it is still being sent when the server answers
      byte[] body = new byte[8 << 20];
      for (int round = 0; round < 3; round++) {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/cache"))
            .header("Authorization", "Bearer t0ken").POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
            HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(413);
        assertThat(r.body()).contains("request body: " + body.length + " bytes");
      }
      HttpResponse<String> next = http.send(HttpRequest.newBuilder(URI.create(base + "/cache"))
          .header("Authorization", "Bearer t0ken").build(), HttpResponse.BodyHandlers.ofString());
      assertThat(next.statusCode()).as("the endpoint still serves").isEqualTo(204);
    }
  }

  @Test
  void builtInPathsAndBadPrefixesCannotBeMounted() {
    assertThatThrownBy(() -> AdminServer.builder().route("/metrics", req -> AdminResponse.noContent()))
        .hasMessageContaining("built-in");
    assertThatThrownBy(() -> AdminServer.builder().route("cache", req -> AdminResponse.noContent()))
        .hasMessageContaining("expected: a path");
    assertThatThrownBy(() -> AdminServer.builder().route("/a", req -> AdminResponse.noContent())
        .route("/a", req -> AdminResponse.noContent())).hasMessageContaining("mounted already");
  }
}
