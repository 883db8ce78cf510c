package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.DialFailure;
import dev.conduit.core.observe.Outcome;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.SniHandler;
import org.junit.jupiter.api.Test;

/** CONNECT on an EmbeddedChannel: intercepted hosts get TLS here, others a blind relay. */
class InterceptedConnectTest {

  @Test
  void anInterceptedHostIsAnsweredHereAndTlsIsTerminated() {
    try (MitmHarness h = new MitmHarness(ProxyHandlerTest.proxy())) {
      h.send("CONNECT secure.test:443 HTTP/1.1\r\nHost: secure.test:443\r\n\r\n");
      assertThat(h.written()).isEqualTo("HTTP/1.1 200 Connection established\r\n\r\n");
      assertThat(h.context.requests).as("nothing dialed yet").isEmpty();
      assertThat(h.client.pipeline().get(SniHandler.class)).isNotNull();
      assertThat(h.client.pipeline().get(ProxyHandler.CODEC)).isNull();
    }
  }

  @Test
  void anyOtherHostBecomesABlindRelay() {
    try (MitmHarness h = new MitmHarness(ProxyHandlerTest.proxy())) {
      h.send("CONNECT other.test:8443 HTTP/1.1\r\nHost: other.test:8443\r\n\r\n");
      EmbeddedChannel origin = h.answerDial(0);
      assertThat(h.context.requests.get(0).destination().toString()).isEqualTo("other.test:8443");
      assertThat(h.written()).isEqualTo("HTTP/1.1 200 Connection established\r\n\r\n");
      assertThat(h.context.relayed).extracting(u -> u.channel()).containsExactly(origin);
      assertThat(h.client.pipeline().get(ProxyHandler.class)).isNull();
      assertThat(h.client.pipeline().get(ProxyHandler.CODEC)).isNull();
    }
  }

  @Test
  void aBadTargetIs400AndAProtocolError() {
    try (MitmHarness h = new MitmHarness(ProxyHandlerTest.proxy())) {
      h.send("CONNECT :99999 HTTP/1.1\r\nHost: x\r\n\r\n");
      assertThat(h.written()).startsWith("HTTP/1.1 400").contains("bad CONNECT target");
      assertThat(h.context.outcomes).contains(Outcome.PROTOCOL_ERROR);
    }
  }

  @Test
  void aFailedDialAnswersWithTheDialStatus() {
    try (MitmHarness h = new MitmHarness(ProxyHandlerTest.proxy())) {
      h.context.dials = null; // dials fail at once, connection refused
      h.send("CONNECT down.test:443 HTTP/1.1\r\nHost: down.test:443\r\n\r\n");
      assertThat(h.written()).startsWith("HTTP/1.1 502").contains("cannot reach down.test:443");
    }
  }

  @Test
  void whileOverloadedAnInterceptedHostIsRefusedWith503AndNotIntercepted() {
    try (MitmHarness h = new MitmHarness(ProxyHandlerTest.proxy())) {
      h.context.overloaded = true;
      h.send("CONNECT secure.test:443 HTTP/1.1\r\nHost: secure.test:443\r\n\r\n");
      String reply = h.written();
      assertThat(reply).startsWith("HTTP/1.1 503")
          .containsIgnoringCase("retry-after: 5")
          .containsIgnoringCase("proxy-status: conduit; error=proxy_internal_response")
          .containsIgnoringCase("connection: close")
          .contains("conduit is overloaded");
      assertThat(h.context.outcomes).containsExactly(Outcome.REJECTED);
      assertThat(h.context.requests).as("nothing dialed").isEmpty();
      assertThat(h.client.pipeline().get(SniHandler.class)).as("no TLS termination").isNull();
      assertThat(h.client.isOpen()).as("the refused connection closes").isFalse();
    }
  }

  @Test
  void anOverloadedDialOfABlindRelayIsTheSameBusyReply() {
    try (MitmHarness h = new MitmHarness(ProxyHandlerTest.proxy())) {
      h.context.dials = null; // dials fail at once, with the failure below
      h.context.failure = DialFailure.OVERLOADED;
      h.send("CONNECT other.test:8443 HTTP/1.1\r\nHost: other.test:8443\r\n\r\n");
      assertThat(h.written()).startsWith("HTTP/1.1 503")
          .containsIgnoringCase("retry-after: 5")
          .containsIgnoringCase("proxy-status: conduit; error=proxy_internal_response");
      assertThat(h.context.outcomes).containsExactly(Outcome.REJECTED);
    }
  }
}
