package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

/** UpstreamFetcher and UpstreamCall on EmbeddedChannels: relaying, pooling, retries and failures. */
class UpstreamCallTest {

  @Test
  void aCompleteKeptAliveResponseReturnsTheConnectionToThePool() {
    MitmProxy proxy = ProxyHandlerTest.proxy();
    try (MitmHarness h = new MitmHarness(proxy)) {
      h.send("GET http://o.test/1 HTTP/1.1\r\nHost: o.test\r\n\r\n");
      EmbeddedChannel origin = h.answerDial(0);
      assertThat(MitmHarness.request(origin)).startsWith("GET /1 ");
      h.respond(origin, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      assertThat(h.awaitWritten("ok")).startsWith("HTTP/1.1 200 OK");
      assertThat(proxy.idleUpstreamConnections()).isEqualTo(1);
      assertThat(origin.isOpen()).isTrue();
      assertThat(origin.pipeline().get(UpstreamCall.class)).as("the call left the pooled connection").isNull();
    }
  }

  @Test
  void aResponseThatClosesTheConnectionIsNotPooled() {
    MitmProxy proxy = ProxyHandlerTest.proxy();
    try (MitmHarness h = new MitmHarness(proxy)) {
      h.send("GET http://o.test/1 HTTP/1.1\r\nHost: o.test\r\n\r\n");
      EmbeddedChannel origin = h.answerDial(0);
      MitmHarness.request(origin);
      h.respond(origin, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
      h.awaitWritten("ok");
      assertThat(proxy.idleUpstreamConnections()).isZero();
      assertThat(origin.isOpen()).isFalse();
    }
  }

  @Test
  void anOriginThatClosesBeforeAnsweringIs502() {
    try (MitmHarness h = new MitmHarness(ProxyHandlerTest.proxy())) {
      h.send("GET http://o.test/x HTTP/1.1\r\nHost: o.test\r\n\r\n");
      EmbeddedChannel origin = h.answerDial(0);
      MitmHarness.request(origin);
      origin.close();
      h.client.runPendingTasks();
      assertThat(h.awaitWritten("502")).startsWith("HTTP/1.1 502").contains("upstream closed the connection");
    }
  }

  @Test
  void aBrokenResponseIs502() {
    try (MitmHarness h = new MitmHarness(ProxyHandlerTest.proxy())) {
      h.send("GET http://o.test/x HTTP/1.1\r\nHost: o.test\r\n\r\n");
      EmbeddedChannel origin = h.answerDial(0);
      MitmHarness.request(origin);
      h.respond(origin, "HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n");
      assertThat(h.awaitWritten("502")).startsWith("HTTP/1.1 502").contains("bad response from upstream");
    }
  }
}
