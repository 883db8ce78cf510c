package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.observe.Outcome;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

/** ProxyHandler's routing on an EmbeddedChannel: targets, hop-by-hop headers, interceptors, pipelining. */
class ProxyHandlerTest {

  static MitmProxy proxy(HttpInterceptor... interceptors) {
    MitmProxy.Builder b = MitmProxy.builder().certificateAuthority(Pki.ca("handler test CA")).interceptHost("secure.test");
    for (HttpInterceptor i : interceptors) {
      b.interceptor(i);
    }
    return b.build();
  }

  @Test
  void anOriginFormRequestOutsideATunnelIs400AndCloses() {
    try (MitmHarness h = new MitmHarness(proxy())) {
      h.send("GET /relative HTTP/1.1\r\nHost: x\r\n\r\n");
      String out = h.written();
      assertThat(out).startsWith("HTTP/1.1 400").contains("expected an absolute-form http:// request target")
          .contains("connection: close");
      assertThat(h.context.requests).isEmpty();
      assertThat(h.client.isOpen()).isFalse();
    }
  }

  @Test
  void anAbsoluteRequestGoesUpstreamInOriginFormWithoutProxyHeaders() {
    try (MitmHarness h = new MitmHarness(proxy())) {
      h.send("GET http://origin.test:8080/a/b?q=1 HTTP/1.1\r\nHost: origin.test:8080\r\nProxy-Connection: keep-alive\r\n"
          + "Proxy-Authorization: Basic eDp5\r\nX-Keep: yes\r\n\r\n");
      EmbeddedChannel origin = h.answerDial(0);
      assertThat(h.context.requests.get(0).destination().toString()).isEqualTo("origin.test:8080");
      String sent = MitmHarness.request(origin);
      assertThat(sent).startsWith("GET /a/b?q=1 HTTP/1.1\r\n").containsIgnoringCase("host: origin.test:8080")
          .contains("X-Keep: yes").doesNotContainIgnoringCase("proxy-connection").doesNotContainIgnoringCase("proxy-authorization");
      h.respond(origin, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
      assertThat(h.awaitWritten("hello")).startsWith("HTTP/1.1 200 OK");
    }
  }

  @Test
  void pipelinedRequestsAreAnsweredInOrder() {
    try (MitmHarness h = new MitmHarness(proxy())) {
      h.send("GET http://o.test/1 HTTP/1.1\r\nHost: o.test\r\n\r\nGET http://o.test/2 HTTP/1.1\r\nHost: o.test\r\n\r\n");
      EmbeddedChannel first = h.answerDial(0);
      assertThat(MitmHarness.request(first)).startsWith("GET /1 ");
      assertThat(h.context.dials).hasSize(1); // the second waits for the first answer
      h.respond(first, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\none");
      // the pooled connection is not reusable (Connection: close): the second request dials again
      EmbeddedChannel second = h.answerDial(1);
      assertThat(MitmHarness.request(second)).startsWith("GET /2 ");
      h.respond(second, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo");
      String out = h.awaitWritten("two");
      assertThat(out.indexOf("one")).isLessThan(out.indexOf("two"));
    }
  }

  @Test
  void anInterceptorAnswersWithoutDialing() {
    HttpInterceptor answer = new HttpInterceptor() {
      @Override
      public void onRequest(InterceptedExchange exchange) {
        exchange.respond(403, "text/plain", "blocked");
      }
    };
    try (MitmHarness h = new MitmHarness(proxy(answer))) {
      h.send("GET http://o.test/x HTTP/1.1\r\nHost: o.test\r\n\r\n");
      assertThat(h.awaitWritten("blocked")).startsWith("HTTP/1.1 403");
      assertThat(h.context.requests).isEmpty();
    }
  }

  @Test
  void aMalformedRequestIs400AndAProtocolError() {
    try (MitmHarness h = new MitmHarness(proxy())) {
      h.send("GET http://o.test/x HTTP/1.1\r\nBad Header Line\r\n\r\n");
      assertThat(h.written()).startsWith("HTTP/1.1 400");
      assertThat(h.context.outcomes).contains(Outcome.PROTOCOL_ERROR);
    }
  }

  @Test
  void headersTheConnectionHeaderNamesAreNotForwardedEitherWay() {
    try (MitmHarness h = new MitmHarness(proxy())) {
      h.send("GET http://origin.test/a HTTP/1.1\r\nHost: origin.test\r\nConnection: keep-alive, X-Hop\r\n"
          + "X-Hop: private\r\nX-Keep: yes\r\n\r\n");
      EmbeddedChannel origin = h.answerDial(0);
      assertThat(MitmHarness.request(origin)).contains("X-Keep: yes").doesNotContainIgnoringCase("x-hop")
          .doesNotContainIgnoringCase("connection:");
      h.respond(origin, "HTTP/1.1 200 OK\r\nConnection: X-Secret\r\nX-Secret: 1\r\nX-Shown: 2\r\n"
          + "Content-Length: 5\r\n\r\nhello");
      assertThat(h.awaitWritten("hello")).startsWith("HTTP/1.1 200 OK").contains("X-Shown: 2")
          .doesNotContainIgnoringCase("x-secret");
    }
  }

  @Test
  void whileOverloadedAPlainHttpRequestIsRefusedWith503AndNothingDialed() {
    try (MitmHarness h = new MitmHarness(proxy())) {
      h.context.overloaded = true;
      h.send("GET http://origin.test:8080/a HTTP/1.1\r\nHost: origin.test:8080\r\n\r\n");
      assertThat(h.written()).startsWith("HTTP/1.1 503")
          .containsIgnoringCase("retry-after: 5")
          .containsIgnoringCase("proxy-status: conduit; error=proxy_internal_response; details=\"conduit is overloaded\"")
          .containsIgnoringCase("connection: close")
          .contains("conduit is overloaded");
      assertThat(h.context.outcomes).containsExactly(Outcome.REJECTED);
      assertThat(h.context.requests).as("nothing dialed").isEmpty();
      assertThat(h.client.isOpen()).as("the refused connection closes").isFalse();
    }
  }

  @Test
  void anOverloadedDialOfAPlainRequestIsTheSameBusyReply() {
    try (MitmHarness h = new MitmHarness(proxy())) {
      h.context.dials = null; // dials fail at once, with the failure below (the descriptor budget's refusal)
      h.context.failure = dev.conduit.core.DialFailure.OVERLOADED;
      h.send("GET http://origin.test/a HTTP/1.1\r\nHost: origin.test\r\n\r\n");
      assertThat(h.written()).startsWith("HTTP/1.1 503")
          .containsIgnoringCase("retry-after: 5")
          .containsIgnoringCase("proxy-status: conduit; error=proxy_internal_response");
    }
  }
}
