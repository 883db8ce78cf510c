package dev.conduit.core.internal.http;

import dev.conduit.core.internal.proxy.ProxyHttp;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Authenticator;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.Credentials;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import dev.conduit.core.Timeouts;
import dev.conduit.core.inbound.HttpInboundOptions;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.testing.RecordingInboundContext;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The HTTP inbound's decoding and error paths, on an {@link EmbeddedChannel}. */
class HttpServerHandlerTest {

  private final RecordingInboundContext context = new RecordingInboundContext();

  private EmbeddedChannel channel(HttpInboundOptions options) {
    EmbeddedChannel ch = new EmbeddedChannel();
    HttpInbound.install(ch, context, options);
    return ch;
  }

  /** Writes {@code request} and returns everything conduit answered. */
  private static String exchange(EmbeddedChannel ch, String request) {
    ch.writeInbound(Unpooled.copiedBuffer(request, StandardCharsets.ISO_8859_1));
    ch.runPendingTasks();
    return written(ch);
  }

  private String exchange(String request) {
    EmbeddedChannel ch = channel(HttpInboundOptions.defaults());
    String out = exchange(ch, request);
    assertThat(ch.isOpen()).as("closed after an error").isFalse();
    ch.finishAndReleaseAll();
    return out;
  }

  @Test
  void garbageRequestLineIs400() {
    assertThat(exchange("\u0001\u0002 garbage\r\n\r\n")).startsWith("HTTP/1.1 400 Bad Request\r\n")
        .contains("Connection: close\r\n").contains("Content-Type: text/plain");
    assertThat(context.outcomes).containsExactly(Outcome.PROTOCOL_ERROR);
  }

  @Test
  void originFormIs400() {
    assertThat(exchange("GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n")).startsWith("HTTP/1.1 400")
        .contains("origin-form");
    assertThat(context.requests).isEmpty();
  }

  @Test
  void badAbsoluteUrisAre400() {
    assertThat(exchange("GET http:///path HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 400").contains("missing host");
    assertThat(exchange("GET http://:80/ HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 400").contains("missing host");
    assertThat(exchange("GET http://example.com:0/ HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 400").contains("bad port");
    assertThat(exchange("GET http://example.com:http/ HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 400").contains("bad port");
    assertThat(exchange("GET http://user:pw@example.com/ HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 400")
        .contains("user information");
    assertThat(exchange("GET ftp://example.com/ HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 400").contains("scheme");
    assertThat(exchange("CONNECT example.com HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 400").contains("missing port");
    assertThat(exchange("CONNECT example.com:99999 HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 400").contains("bad port");
    assertThat(context.requests).isEmpty();
  }

  @Test
  void oversizedRequestLineIs414AndHeadersAre431() {
    HttpInboundOptions small = HttpInboundOptions.builder().maxInitialLineLength(256).maxHeaderSize(1024).build();
    EmbeddedChannel a = channel(small);
    assertThat(exchange(a, "GET http://example.com/" + "a".repeat(300) + " HTTP/1.1\r\n\r\n"))
        .startsWith("HTTP/1.1 414 URI Too Long");
    a.finishAndReleaseAll();
    EmbeddedChannel b = channel(small);
    assertThat(exchange(b, "GET http://example.com/ HTTP/1.1\r\nX-Big: " + "b".repeat(2000) + "\r\n\r\n"))
        .startsWith("HTTP/1.1 431 Request Header Fields Too Large");
    assertThat(b.isOpen()).isFalse();
    b.finishAndReleaseAll();
  }

  @Test
  void proxyAuthenticationMissingMalformedOrWrongIs407() {
    HttpInboundOptions auth = HttpInboundOptions.builder()
        .authenticator(Authenticator.of(new Credentials("alice", "s3cret"))).realm("corp").build();
    String[] headers = {
      "",
      "Proxy-Authorization: Basic !!!not-base64\r\n",
      "Proxy-Authorization: Bearer abc\r\n",
      "Proxy-Authorization: Basic " + b64("no-colon") + "\r\n",
      "Proxy-Authorization: Basic " + b64("alice:wrong") + "\r\n",
    };
    for (String h : headers) {
      EmbeddedChannel ch = channel(auth);
      String out = exchange(ch, "GET http://example.com/ HTTP/1.1\r\n" + h + "\r\n");
      assertThat(out).as(h).startsWith("HTTP/1.1 407 Proxy Authentication Required\r\n")
          .contains("Proxy-Authenticate: Basic realm=\"corp\"\r\n");
      assertThat(ch.isOpen()).isFalse();
      ch.finishAndReleaseAll();
    }
    assertThat(context.outcomes).containsOnly(Outcome.AUTH_FAILED);
    assertThat(context.requests).isEmpty();
  }

  @Test
  void validCredentialsSetThePrincipal() {
    HttpInboundOptions auth = HttpInboundOptions.builder()
        .authenticator(Authenticator.of(new Credentials("alice", "s3cret"))).build();
    EmbeddedChannel ch = channel(auth);
    String out = exchange(ch, "CONNECT example.com:443 HTTP/1.1\r\nProxy-Authorization: Basic " + b64("alice:s3cret")
        + "\r\n\r\n");
    // the fake dial fails: the point is that it was tried with the principal
    assertThat(out).startsWith("HTTP/1.1 502");
    assertThat(context.principal).isEqualTo("alice");
    assertThat(context.requests).singleElement().satisfies(r -> {
      assertThat(r.principal()).contains("alice");
      assertThat(r.destination().toString()).isEqualTo("example.com:443");
    });
    ch.finishAndReleaseAll();
  }

  @Test
  void dialFailuresMapToStatusesWithProxyStatus() {
    context.failure = DialFailure.CONNECTION_REFUSED;
    assertThat(exchange("GET http://example.com:8080/x HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 502 Bad Gateway")
        .contains("Proxy-Status: conduit; error=connection_refused; details=\"dial failed: CONNECTION_REFUSED\"");
    context.failure = DialFailure.TIMEOUT;
    assertThat(exchange("CONNECT example.com:443 HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 504 Gateway Timeout")
        .contains("error=connection_timeout");
    context.failure = DialFailure.NOT_ALLOWED;
    assertThat(exchange("GET http://example.com/ HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 403 Forbidden");
    context.failure = DialFailure.HOST_UNREACHABLE;
    assertThat(exchange("GET http://[::1]:81/ HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 502")
        .contains("error=destination_unavailable");
    assertThat(context.outcomes).containsExactly(Outcome.DIAL_FAILED, Outcome.DIAL_FAILED, Outcome.REJECTED,
        Outcome.DIAL_FAILED);
    assertThat(context.requests).extracting(r -> r.destination().toString())
        .containsExactly("example.com:8080", "example.com:443", "example.com:80", "[::1]:81");
  }

  @Test
  void connectOnlyRefusesOtherMethodsWith405() {
    EmbeddedChannel ch = channel(HttpInboundOptions.builder().connectOnly(true).build());
    assertThat(exchange(ch, "GET http://example.com/ HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 405")
        .contains("Allow: CONNECT\r\n");
    ch.finishAndReleaseAll();
    assertThat(context.requests).isEmpty();
  }

  @Test
  void pipelinedBytesAfterAFailedConnectAreReleased() {
    context.failure = DialFailure.CONNECTION_REFUSED;
    assertThat(exchange("CONNECT example.com:443 HTTP/1.1\r\n\r\n\u0016\u0003\u0001 early tls bytes"))
        .startsWith("HTTP/1.1 502");
  }

  @Test
  void requestTargetParsing() {
    RequestTarget t = new RequestTarget();
    assertThat(t.parseAbsolute("http://example.com")).isNull();
    assertThat(t.host()).isEqualTo("example.com");
    assertThat(t.port).isEqualTo(80);
    assertThat(t.path).isEqualTo("/");
    assertThat(t.emptyPath).isTrue();
    assertThat(t.parseAbsolute("HTTP://[2001:db8::1]:8080?q=1#frag")).isNull();
    assertThat(t.host()).isEqualTo("2001:db8::1");
    assertThat(t.port).isEqualTo(8080);
    assertThat(t.authority()).isEqualTo("[2001:db8::1]:8080");
    assertThat(t.path).isEqualTo("/?q=1");
    assertThat(t.parseAbsolute("http://a.example:81/p/q?x#y")).isNull();
    assertThat(t.path).isEqualTo("/p/q?x");
    assertThat(t.parseAbsolute("ws://a.example/chat")).isNull();
    assertThat(t.parseAbsolute("http://2001:db8::1/")).contains("brackets");
    assertThat(t.parseAbsolute("http://[2001:db8::1/")).contains("IPv6");
    assertThat(t.parseAbsolute("http://host:65536/")).contains("bad port");
    assertThat(t.parseAuthority("host:443")).isNull();
    assertThat(t.authority()).isEqualTo("host:443");
    assertThat(t.parseAuthority("[::1]:443")).isNull();
    assertThat(t.host()).isEqualTo("::1");
    assertThat(t.parseAuthority("host")).contains("missing port");
    assertThat(t.parseAuthority("ho st:80")).contains("malformed host");
  }

  @Test
  void hopByHopHeadersRemoved() {
    HttpHeaders h = new DefaultHttpHeaders()
        .add("Connection", "close, X-Foo")
        .add("Connection", "x-bar")
        .add("X-Foo", "1").add("X-Bar", "2").add("Keep-Alive", "5").add("Proxy-Connection", "keep-alive")
        .add("TE", "trailers").add("Trailer", "X-T").add("Upgrade", "h2c").add("Proxy-Authorization", "Basic x")
        .add("Transfer-Encoding", "chunked").add("X-Kept", "3");
    assertThat(ProxyHttp.removeHopByHop(h, true)).isEqualTo(ProxyHttp.CLOSE | ProxyHttp.KEEP_ALIVE);
    assertThat(h.names()).containsExactlyInAnyOrder("Transfer-Encoding", "X-Kept");
    assertThat(ProxyHttp.hasToken(" Upgrade ,x", "upgrade")).isTrue();
    assertThat(ProxyHttp.hasToken("upgrades", "upgrade")).isFalse();
  }

  @Test
  void errorTextCannotSplitHeaders() {
    assertThat(ProxyHttp.proxyStatus("x", "a\r\nInjected: 1 \"q\"")).isEqualTo(
        "Proxy-Status: conduit; error=x; details=\"a??Injected: 1 \\\"q\\\"\"");
  }

  /** Everything {@code ch} wrote, as text. */
  private static String written(EmbeddedChannel ch) {
    return new String(RecordingInboundContext.written(ch), StandardCharsets.ISO_8859_1);
  }

  /** Completes the {@code i}th dial with {@code upstream}. */
  private void dialSucceeds(int i, EmbeddedChannel upstream) {
    ConnectRequest r = context.requests.get(i);
    context.dials.get(i).setSuccess(new Upstream(upstream, r, "default", "direct",
        new InetSocketAddress("192.0.2.7", r.destination().port())));
  }

  /**
   * An absolute-form GET reaches the upstream in origin form, with Host set, Via added and every
   * hop-by-hop header gone (Connection, the headers Connection names, Keep-Alive, Proxy-*, TE,
   * Upgrade); the response comes back, and the next request to the same destination goes to the
   * same upstream.
   */
  @Test
  void absoluteFormGetIsForwardedInOriginForm() {
    context.dials = new ArrayList<>();
    EmbeddedChannel ch = channel(HttpInboundOptions.defaults());
    String out = exchange(ch, "GET http://Example.com:8080/a/b?q=1#frag HTTP/1.1\r\n"
        + "Host: example.com:8080\r\n"
        + "Connection: keep-alive, X-Secret\r\n"
        + "X-Secret: hop\r\n"
        + "Keep-Alive: timeout=5\r\n"
        + "Proxy-Connection: keep-alive\r\n"
        + "Proxy-Authorization: Basic eDp5\r\n"
        + "TE: trailers\r\n"
        + "Upgrade: h2c\r\n"
        + "Accept: */*\r\n"
        + "X-Kept: yes\r\n\r\n");
    assertThat(out).as("nothing answered before the dial completes").isEmpty();
    assertThat(context.requests).singleElement()
        .satisfies(r -> assertThat(r.destination().toString()).isEqualTo("Example.com:8080"));

    EmbeddedChannel up = new EmbeddedChannel();
    dialSucceeds(0, up);
    assertThat(written(up)).isEqualTo("GET /a/b?q=1 HTTP/1.1\r\n"
        + "Accept: */*\r\n"
        + "X-Kept: yes\r\n"
        + "host: Example.com:8080\r\n"
        + "via: 1.1 conduit\r\n\r\n");

    up.writeInbound(Unpooled.copiedBuffer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=9\r\n\r\nhi",
        StandardCharsets.ISO_8859_1));
    assertThat(written(ch)).isEqualTo("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nvia: 1.1 conduit\r\n\r\nhi");
    assertThat(ch.isOpen()).as("keep-alive").isTrue();
    assertThat(up.isOpen()).as("upstream kept for the next request").isTrue();
    // the next request to the same destination reuses the upstream: no second dial
    assertThat(exchange(ch, "GET http://example.com:8080/next HTTP/1.1\r\n\r\n")).isEmpty();
    assertThat(written(up)).isEqualTo("GET /next HTTP/1.1\r\nhost: Example.com:8080\r\nvia: 1.1 conduit\r\n\r\n");
    assertThat(context.requests).hasSize(1);
    assertThat(context.outcomes).isEmpty();
    assertThat(context.relayed).isEmpty();
    up.finishAndReleaseAll();
    ch.finishAndReleaseAll();
  }

  /**
   * A CONNECT whose dial succeeds: 200 to the client, and the bytes the client pipelined after the
   * request (in the request's own read and in a later one, before the dial finished) reach the
   * upstream first, whole and in order; then the relay takes over and the HTTP handlers are gone.
   */
  @Test
  void connectSucceedsAndPipelinedBytesReachTheUpstreamInOrder() {
    context.dials = new ArrayList<>();
    EmbeddedChannel ch = channel(HttpInboundOptions.defaults());
    assertThat(exchange(ch, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
        + "\u0016\u0003\u0001first|")).isEmpty();
    ch.writeInbound(Unpooled.copiedBuffer("second|", StandardCharsets.ISO_8859_1));
    ch.writeInbound(Unpooled.copiedBuffer("third", StandardCharsets.ISO_8859_1));
    assertThat(context.requests).singleElement()
        .satisfies(r -> assertThat(r.destination().toString()).isEqualTo("example.com:443"));

    EmbeddedChannel up = new EmbeddedChannel();
    dialSucceeds(0, up);
    assertThat(written(ch)).isEqualTo("HTTP/1.1 200 Connection established\r\n\r\n");
    assertThat(written(up)).isEqualTo("\u0016\u0003\u0001first|second|third");
    assertThat(context.relayed).singleElement().satisfies(u -> assertThat(u.channel()).isSameAs(up));
    assertThat(ch.pipeline().get(HttpInbound.HANDLER)).isNull();
    assertThat(ch.pipeline().get(HttpInbound.CODEC)).isNull();
    assertThat(ch.pipeline().get(HttpInbound.HEAD_WATCH)).isNull();
    // later bytes pass untouched to where the relay sits (here: the pipeline's tail)
    ch.writeInbound(Unpooled.copiedBuffer("GET / HTTP/1.1\r\n", StandardCharsets.ISO_8859_1));
    ByteBuf later = ch.readInbound();
    assertThat(later.toString(StandardCharsets.ISO_8859_1)).isEqualTo("GET / HTTP/1.1\r\n");
    later.release();
    assertThat(ch.isOpen()).isTrue();
    assertThat(context.outcomes).isEmpty();
    up.finishAndReleaseAll();
    ch.finishAndReleaseAll();
  }

  /** A request head that does not complete within the negotiation timeout is answered 408 and closed. */
  @Test
  void incompleteHeadIs408AfterTheNegotiationTimeout() {
    context.negotiation = Duration.ofMillis(50);
    EmbeddedChannel ch = channel(HttpInboundOptions.defaults());
    assertThat(exchange(ch, "GET http://example.com/ HTTP/1.1\r\nHost: exa")).isEmpty();
    assertThat(ch.isOpen()).isTrue();
    ch.advanceTimeBy(200, TimeUnit.MILLISECONDS); // the event loop's virtual time
    ch.runPendingTasks();
    assertThat(written(ch)).startsWith("HTTP/1.1 408 Request Timeout\r\n").contains("Connection: close\r\n")
        .contains("request head not complete within 50 ms");
    assertThat(ch.isOpen()).isFalse();
    assertThat(context.outcomes).containsExactly(Outcome.NEGOTIATION_TIMEOUT);
    assertThat(context.requests).isEmpty();
    ch.finishAndReleaseAll();
  }

  private static String b64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }
}
