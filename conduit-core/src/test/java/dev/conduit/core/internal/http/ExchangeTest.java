package dev.conduit.core.internal.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** One exchange's state and header rewriting, on messages decoded by Netty's codecs in {@link EmbeddedChannel}s. */
class ExchangeTest {

  private static HttpRequest request(String head) {
    EmbeddedChannel ch = new EmbeddedChannel(new HttpRequestDecoder());
    ch.writeInbound(Unpooled.copiedBuffer(head, StandardCharsets.ISO_8859_1));
    HttpRequest req = ch.readInbound();
    ch.finishAndReleaseAll();
    return req;
  }

  private static HttpResponse response(String head) {
    EmbeddedChannel ch = new EmbeddedChannel(new HttpResponseDecoder());
    ch.writeInbound(Unpooled.copiedBuffer(head, StandardCharsets.ISO_8859_1));
    HttpResponse res = ch.readInbound();
    ch.finishAndReleaseAll();
    return res;
  }

  private static Exchange start(String head, boolean draining) {
    HttpRequest req = request(head);
    RequestTarget target = new RequestTarget();
    assertThat(target.parseAbsolute(req.uri())).isNull();
    return Exchange.start(req, target, target.authority(), draining);
  }

  @Test
  void eachRequestStartsAFreshExchange() {
    Exchange a = start("GET http://example.com/a HTTP/1.1\r\n\r\n", false);
    a.requestDone = true;
    a.responseStarted = true;
    Exchange b = start("GET http://example.com/b HTTP/1.1\r\n\r\n", false);
    assertThat(b.requestDone).isFalse();
    assertThat(b.responseStarted).isFalse();
    assertThat(b.closeAfterResponse).isFalse();
    assertThat(b.request.uri()).isEqualTo("/b");
  }

  @Test
  void http10WithoutKeepAliveAndDrainingCloseAfterTheResponse() {
    assertThat(start("GET http://example.com/ HTTP/1.0\r\n\r\n", false).closeAfterResponse).isTrue();
    assertThat(start("GET http://example.com/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false)
        .closeAfterResponse).isFalse();
    assertThat(start("GET http://example.com/ HTTP/1.1\r\n\r\n", true).closeAfterResponse).isTrue();
  }

  @Test
  void aCloseDelimitedResponseIsChunkedForHttp11AndTheUpstreamNotKept() {
    Exchange ex = start("GET http://example.com/ HTTP/1.1\r\n\r\n", false);
    ex.requestDone = true;
    HttpResponse res = response("HTTP/1.0 200 OK\r\n\r\n");
    assertThat(ex.responseHead(res)).isEqualTo(Exchange.Head.FINAL);
    assertThat(res.headers().get("transfer-encoding")).isEqualTo("chunked");
    assertThat(ex.upstreamReusable).isFalse();
    assertThat(ex.closeAfterResponse).isFalse();
    ReferenceCountUtil.release(res);
  }

  @Test
  void anEarlyAnswerEndsBothConnections() {
    Exchange ex = start("POST http://example.com/ HTTP/1.1\r\nContent-Length: 10\r\n\r\n", false);
    HttpResponse res = response("HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n");
    assertThat(ex.responseHead(res)).isEqualTo(Exchange.Head.FINAL);
    assertThat(ex.closeAfterResponse).isTrue();
    assertThat(ex.upstreamReusable).isFalse();
    assertThat(res.headers().get("connection")).isEqualTo("close");
  }

  @Test
  void interimAndSwitchingHeads() {
    Exchange ws = start("GET http://example.com/ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", false);
    assertThat(ws.upgradeRequest).isTrue();
    assertThat(ws.responseHead(response("HTTP/1.1 100 Continue\r\n\r\n"))).isEqualTo(Exchange.Head.INTERIM);
    assertThat(ws.interim).isTrue();
    assertThat(ws.responseHead(response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        + "Connection: Upgrade\r\n\r\n"))).isEqualTo(Exchange.Head.SWITCHING);
    assertThat(ws.switching).isTrue();
    Exchange plain = start("GET http://example.com/ HTTP/1.1\r\n\r\n", false);
    assertThat(plain.responseHead(response("HTTP/1.1 101 Switching Protocols\r\n\r\n")))
        .isEqualTo(Exchange.Head.BAD_SWITCH);
  }

  @Test
  void onlyAnUnansweredBodilessRequestOnAReusedUpstreamIsReplayed() {
    Exchange ex = start("GET http://example.com/ HTTP/1.1\r\n\r\n", false);
    ex.requestDone = true;
    assertThat(ex.replayable()).as("not on a reused upstream").isFalse();
    ex.reused = true;
    assertThat(ex.replayable()).isTrue();
    ex.replayed = true;
    assertThat(ex.replayable()).as("once").isFalse();
  }
}
