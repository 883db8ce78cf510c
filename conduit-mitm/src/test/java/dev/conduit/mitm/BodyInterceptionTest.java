package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.Conduit;
import dev.conduit.core.Listener;
import dev.conduit.core.Timeouts;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.testing.LeakDetectionExtension;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Interceptors reading and rewriting bodies, with the JDK HttpClient trusting only conduit's CA in
 * front of a real TLS origin.
 */
@ExtendWith(LeakDetectionExtension.class)
class BodyInterceptionTest {
  static final int LIMIT = 64 * 1024;

  static CertificateAuthority mitmCa;
  static Origin origin;
  static Conduit conduit;
  static HttpClient client;
  /** What the interceptor saw, as "request|response path: body text or TOO LARGE size". */
  static final List<String> seen = new CopyOnWriteArrayList<>();
  static final List<byte[]> requestBodies = new CopyOnWriteArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    mitmCa = Pki.ca("conduit test MITM CA");
    CertificateAuthority originCa = Pki.ca("test origin CA");
    origin = Origin.https(Pki.server(originCa, "localhost", "127.0.0.1"));
    MitmProxy proxy = MitmProxy.builder()
        .certificateAuthority(mitmCa)
        .interceptHost("localhost")
        .trustUpstreamCa(originCa.certificate())
        .interceptedBodyLimit(LIMIT)
        .interceptor(new HttpInterceptor() {
          @Override
          public void onRequest(InterceptedExchange exchange) {
            if (exchange.uri().getPath().equals("/echo")) {
              exchange.receiveRequestBody();
            }
          }

          @Override
          public void onResponse(InterceptedExchange exchange) {
            if (!exchange.uri().getPath().equals("/echo") && !exchange.uri().getPath().startsWith("/plain")) {
              exchange.receiveResponseBody();
            }
          }

          @Override
          public void onRequestBody(InterceptedExchange exchange, InterceptedBody body) {
            if (body.tooLarge()) {
              seen.add("request " + exchange.uri().getPath() + ": TOO LARGE " + body.size());
              return;
            }
            requestBodies.add(body.bytes());
            if ("rewrite".equals(exchange.requestHeaders().get("X-Body"))) {
              body.replace("rewritten request of " + body.size() + " bytes");
            }
          }

          @Override
          public void onResponseBody(InterceptedExchange exchange, InterceptedBody body) {
            String path = exchange.uri().getPath();
            if (body.tooLarge()) {
              seen.add("response " + path + ": TOO LARGE " + body.size());
              assertThatThrownBy(body::bytes).isInstanceOf(IllegalStateException.class);
              return;
            }
            seen.add("response " + path + ": " + body.size());
            if (path.startsWith("/files/rewrite") || path.startsWith("/chunked/rewrite")) {
              body.replace("new body, was " + body.size() + " bytes");
            }
          }
        })
        .build();
    conduit = Conduit.builder()
        .listener(Listener.builder("plain").bind("127.0.0.1:0").protocol(proxy).build())
        .timeouts(Timeouts.builder().drain(Duration.ZERO).build())
        .build().start();
    client = Pki.client(conduit.address("plain"), mitmCa.certificate());
  }

  @AfterAll
  static void stop() {
    conduit.close();
    origin.close();
  }

  static HttpResponse<byte[]> get(String path) throws Exception {
    return client.send(HttpRequest.newBuilder(URI.create("https://localhost:" + origin.port() + path))
        .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  static HttpResponse<byte[]> post(String path, byte[] body, String mode) throws Exception {
    return client.send(HttpRequest.newBuilder(URI.create("https://localhost:" + origin.port() + path))
        .header("X-Body", mode)
        .POST(HttpRequest.BodyPublishers.ofByteArray(body))
        .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  @Test
  void recordsTheRequestBodyAndForwardsItUnchanged() throws Exception {
    byte[] sent = Origin.data("record", 20_000);
    HttpResponse<byte[]> resp = post("/echo", sent, "record");
    assertThat(resp.statusCode()).isEqualTo(200);
    assertThat(resp.body()).isEqualTo(sent); // the origin echoes what it got
    assertThat(requestBodies).anySatisfy(b -> assertThat(b).isEqualTo(sent));
  }

  @Test
  void rewritesTheRequestBodyWithItsLength() throws Exception {
    HttpResponse<byte[]> resp = post("/echo", Origin.data("rewrite", 3000), "rewrite");
    assertThat(resp.statusCode()).isEqualTo(200);
    assertThat(new String(resp.body(), StandardCharsets.UTF_8)).isEqualTo("rewritten request of 3000 bytes");
  }

  @Test
  void aRequestBodyOverTheLimitIsForwardedByteExactAndTheInterceptorIsTold() throws Exception {
    byte[] sent = Origin.data("big request", LIMIT + 1);
    HttpResponse<byte[]> resp = post("/echo", sent, "rewrite");
    assertThat(resp.body()).isEqualTo(sent);
    assertThat(seen).contains("request /echo: TOO LARGE " + (LIMIT + 1));
  }

  @Test
  void rewritesAResponseBodyWithACorrectLength() throws Exception {
    for (String path : List.of("/files/rewrite?n=5000", "/chunked/rewrite?n=5000")) {
      HttpResponse<byte[]> resp = get(path);
      String expected = "new body, was 5000 bytes";
      assertThat(resp.statusCode()).isEqualTo(200);
      assertThat(new String(resp.body(), StandardCharsets.UTF_8)).as(path).isEqualTo(expected);
      assertThat(resp.headers().firstValueAsLong("content-length")).as(path).hasValue(expected.length());
      assertThat(resp.headers().firstValue("transfer-encoding")).as(path).isEmpty();
    }
    // kept alive: the next response on the same connection is intact
    assertThat(get("/plain/hello").statusCode()).isEqualTo(404);
  }

  @Test
  void aResponseBodyWithinTheLimitIsSeenAndPassedOnUnchanged() throws Exception {
    HttpResponse<byte[]> resp = get("/chunked/seen?n=" + LIMIT);
    assertThat(resp.body()).isEqualTo(Origin.data("/chunked/seen", LIMIT));
    assertThat(seen).contains("response /chunked/seen: " + LIMIT);
  }

  @Test
  void aResponseBodyOverTheLimitStreamsThroughByteExactAndTheInterceptorIsTold() throws Exception {
    int n = 3 * LIMIT + 17;
    // declared by Content-Length: told at the head
    HttpResponse<byte[]> declared = get("/files/large?n=" + n);
    assertThat(declared.body()).isEqualTo(Origin.data("/files/large", n));
    assertThat(declared.headers().firstValueAsLong("content-length")).hasValue(n);
    assertThat(seen).contains("response /files/large: TOO LARGE " + n);
    // chunked: told once what was collected passes the limit; what was held goes on first
    HttpResponse<byte[]> chunked = get("/chunked/large?n=" + n);
    assertThat(chunked.body()).isEqualTo(Origin.data("/chunked/large", n));
    assertThat(seen).contains("response /chunked/large: TOO LARGE -1");
  }

  static MitmHarness harness(HttpInterceptor interceptor) {
    return new MitmHarness(MitmProxy.builder().certificateAuthority(mitmCa).interceptHost("secure.test")
        .interceptedBodyLimit(LIMIT).interceptor(interceptor).build());
  }

  static final HttpInterceptor ASKS_FOR_RESPONSE_BODY = new HttpInterceptor() {
    @Override
    public void onResponse(InterceptedExchange exchange) {
      exchange.receiveResponseBody();
    }
  };

  @Test
  void aClientLeavingWhileTheBodyIsCollectedReleasesItAndEndsTheUpstreamCall() {
    try (MitmHarness h = harness(ASKS_FOR_RESPONSE_BODY)) {
      h.send("GET http://o.test/x HTTP/1.1\r\nHost: o.test\r\n\r\n");
      EmbeddedChannel origin = h.answerDial(0);
      h.respond(origin, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
      assertThat(h.written()).as("the head is held until the body is complete").isEmpty();
      h.client.close();
      h.awaitTrue(() -> !origin.isOpen());
    } // the leak detector fails the class if the collected chunk was not released
  }

  @Test
  void anInterceptorFailingOnTheBodyIsA502() {
    HttpInterceptor failing = new HttpInterceptor() {
      @Override
      public void onResponse(InterceptedExchange exchange) {
        exchange.receiveResponseBody();
      }

      @Override
      public void onResponseBody(InterceptedExchange exchange, InterceptedBody body) {
        throw new IllegalStateException("test interceptor refuses");
      }
    };
    try (MitmHarness h = harness(failing)) {
      h.send("GET http://o.test/x HTTP/1.1\r\nHost: o.test\r\n\r\n");
      EmbeddedChannel origin = h.answerDial(0);
      h.respond(origin, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
      assertThat(h.awaitWritten("refuses")).startsWith("HTTP/1.1 502")
          .contains("response body interceptor failed: test interceptor refuses").doesNotContain("hello");
    }
  }

  @Test
  void theLimitIsChecked() {
    assertThatThrownBy(() -> MitmProxy.builder().interceptedBodyLimit(MitmProxy.MAX_INTERCEPTED_BODY_LIMIT + 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("interceptedBodyLimit: 67108865 (expected: 0-67108864)");
  }
}
