package dev.conduit.core.internal.tunnel;

import static dev.conduit.core.testing.RecordingInboundContext.written;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.Destination;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.testing.RecordingInboundContext;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The tunnel server's HTTP/1.1 CONNECT handler on an EmbeddedChannel: requests, replies, dial outcomes. */
class ConnectServerHandlerTest {
  private final RecordingInboundContext context = new RecordingInboundContext();
  private final List<EmbeddedChannel> channels = new ArrayList<>();

  @AfterEach
  void finish() {
    for (EmbeddedChannel ch : channels) {
      ch.finishAndReleaseAll();
    }
  }

  private EmbeddedChannel channel() {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.pipeline().addLast(ConduitPipeline.TUNNEL_CONNECT, new ConnectServerHandler(context));
    channels.add(ch);
    return ch;
  }

  private static void send(EmbeddedChannel ch, String text) {
    ch.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.ISO_8859_1));
  }

  private static String reply(EmbeddedChannel ch) {
    return new String(written(ch), StandardCharsets.ISO_8859_1);
  }

  private Upstream upstream(EmbeddedChannel upCh) {
    channels.add(upCh);
    return new Upstream(upCh, context.requests.get(0), "default", "direct", new InetSocketAddress("127.0.0.1", 443));
  }

  @Test
  void connectDialsTheAuthorityAnswers200AndHandsEarlyBytesToTheUpstream() {
    context.dials = new ArrayList<>();
    EmbeddedChannel ch = channel();
    // the client does not wait for the reply: its first bytes follow the head in the same read
    send(ch, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nForwarded: for=\"10.0.0.1\"\r\n\r\nEARLY");
    assertThat(context.requests).singleElement()
        .satisfies(r -> assertThat(r.destination()).isEqualTo(Destination.of("example.com", 443)));
    assertThat(reply(ch)).isEmpty(); // nothing before the dial ends

    send(ch, "-MORE"); // while dialing: kept
    EmbeddedChannel upCh = new EmbeddedChannel();
    context.dials.get(0).setSuccess(upstream(upCh));

    assertThat(reply(ch)).isEqualTo("HTTP/1.1 200 Connection Established\r\n\r\n");
    assertThat(new String(written(upCh), StandardCharsets.ISO_8859_1)).isEqualTo("EARLY-MORE");
    assertThat(context.relayed).hasSize(1);
    assertThat(ch.pipeline().get(ConduitPipeline.TUNNEL_CONNECT)).isNull();
    assertThat(ch.isActive()).isTrue();
  }

  @Test
  void aHeadInPiecesIsReadUntilItsEnd() {
    context.dials = new ArrayList<>();
    EmbeddedChannel ch = channel();
    send(ch, "CONNECT [2001:db8::1]:8443 HT");
    send(ch, "TP/1.1\r\n");
    assertThat(context.requests).isEmpty();
    send(ch, "\r\n");
    assertThat(context.requests).singleElement()
        .satisfies(r -> assertThat(r.destination()).isEqualTo(Destination.of("2001:db8::1", 8443)));
  }

  @Test
  void otherMethodsGet405WithAllow() {
    EmbeddedChannel ch = channel();
    send(ch, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assertThat(reply(ch)).startsWith("HTTP/1.1 405 Method Not Allowed\r\n").contains("Allow: CONNECT\r\n")
        .contains("Connection: close\r\n");
    assertThat(context.outcomes).containsExactly(Outcome.PROTOCOL_ERROR);
    assertThat(context.details.get(0)).contains("method GET");
    assertThat(context.requests).isEmpty();
    assertThat(ch.isActive()).isFalse();
  }

  @Test
  void malformedRequestsGet400() {
    for (String bad : List.of("CONNECT example.com:443\r\n\r\n", "CONNECT example.com HTTP/1.1\r\n\r\n",
        "CONNECT example.com:http HTTP/1.1\r\n\r\n", "CONNECT user@example.com:443 HTTP/1.1\r\n\r\n",
        "CONNECT 2001:db8::1:443 HTTP/1.1\r\n\r\n", "CONNECT example.com:443 HTTP/1.1\r\nno colon\r\n\r\n",
        "CONNECT example.com:443 HTTP/1.1\r\n folded: header\r\n\r\n")) {
      EmbeddedChannel ch = channel();
      send(ch, bad);
      assertThat(reply(ch)).as(bad).startsWith("HTTP/1.1 400 Bad Request\r\n");
      assertThat(ch.isActive()).as(bad).isFalse();
      assertThat(context.requests).as(bad).isEmpty();
    }
    assertThat(context.outcomes).containsOnly(Outcome.PROTOCOL_ERROR).hasSize(7);
  }

  @Test
  void aHeadOverTheLimitGets431() {
    EmbeddedChannel ch = channel();
    send(ch, "CONNECT example.com:443 HTTP/1.1\r\nX-Long: " + "a".repeat(ConnectServerHandler.MAX_REQUEST_BYTES));
    assertThat(reply(ch)).startsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n");
    assertThat(context.outcomes).containsExactly(Outcome.PROTOCOL_ERROR);
    assertThat(ch.isActive()).isFalse();
  }

  @Test
  void dialFailuresBecomeStatusesWithProxyStatus() {
    record Case(DialFailure failure, String status, Outcome outcome, String error) {}
    for (Case c : List.of(
        new Case(DialFailure.NOT_ALLOWED, "403 Forbidden", Outcome.REJECTED, "destination_ip_prohibited"),
        new Case(DialFailure.TIMEOUT, "504 Gateway Timeout", Outcome.DIAL_FAILED, "connection_timeout"),
        new Case(DialFailure.CONNECTION_REFUSED, "502 Bad Gateway", Outcome.DIAL_FAILED, "connection_refused"))) {
      RecordingInboundContext ctx = new RecordingInboundContext();
      ctx.dials = new ArrayList<>();
      EmbeddedChannel ch = new EmbeddedChannel(new ConnectServerHandler(ctx));
      channels.add(ch);
      send(ch, "CONNECT example.com:443 HTTP/1.1\r\n\r\n");
      ctx.dials.get(0).setFailure(new DialException(c.failure(), "dial \"example.com:443\" failed\n"));
      String reply = reply(ch);
      assertThat(reply).as(c.toString()).startsWith("HTTP/1.1 " + c.status() + "\r\n")
          .contains("Proxy-Status: conduit; error=" + c.error() + "; details=\"dial 'example.com:443' failed \"\r\n");
      assertThat(ctx.outcomes).as(c.toString()).containsExactly(c.outcome());
      assertThat(ch.isActive()).isFalse();
    }
  }

  @Test
  void aClientGoneWhileDialingClosesTheUpstreamThatArrivesLater() {
    context.dials = new ArrayList<>();
    EmbeddedChannel ch = channel();
    send(ch, "CONNECT example.com:443 HTTP/1.1\r\n\r\nEARLY");
    ch.close();
    EmbeddedChannel upCh = new EmbeddedChannel();
    context.dials.get(0).setSuccess(upstream(upCh));
    assertThat(upCh.isActive()).isFalse();
    assertThat(written(upCh)).isEmpty();
    assertThat(context.relayed).isEmpty();
  }
}
