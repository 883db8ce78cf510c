package dev.conduit.netfilter.egress;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.net.IpAddress;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.testing.RecordingInboundContext;
import dev.conduit.netfilter.egress.internal.L7Handler;
import dev.conduit.netfilter.egress.internal.L7Policy;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The L7 check's handler on an {@link EmbeddedChannel}: a real ClientHello (the JDK's) or HTTP request, the
 * name checked with the original destination, then a dial to that destination with the first bytes, or a
 * refusal (TLS: closed; HTTP: 403 with the reason) recorded for the reports. Bounded in bytes and in (virtual)
 * time; every buffer released (paranoid leak detection).
 */
class L7HandlerTest {

  static final String CDN = "198.51.100.10";
  static final String OTHER = "198.51.100.99";

  /** A pushed state: api.example.com at CDN (shared with blocked.example.com, not listed), *.example.org, 203.0.113.0/24. */
  static Map<String, JsonNode> pushed() {
    Map<String, JsonNode> r = new LinkedHashMap<>();
    r.put(CDN, value("api.example.com"));
    r.put("2001:db8::10", value("api.example.com"));
    r.put("192.0.2.0/24", value("192.0.2.0/24"));
    r.put("*.example.org", value("*.example.org"));
    return r;
  }

  static ObjectNode value(String entry) {
    ObjectNode v = JsonNodeFactory.instance.objectNode();
    v.putArray("entries").add(entry);
    v.putArray("ports");
    return v;
  }

  final class TestPolicy implements L7Policy {
    NameAllowlist names = NameAllowlist.fromPushedState(pushed());
    boolean reportOnly;
    int limit = 2048;
    final List<String> denied = new ArrayList<>();
    final List<Promise<List<IpAddress>>> resolutions = new ArrayList<>();
    final List<String> resolved = new ArrayList<>();

    @Override
    public NameAllowlist names() {
      return names;
    }

    @Override
    public Future<List<IpAddress>> resolve(EventExecutor executor, String name) {
      resolved.add(name);
      Promise<List<IpAddress>> p = executor.newPromise();
      resolutions.add(p);
      return p;
    }

    @Override
    public boolean reportOnly() {
      return reportOnly;
    }

    @Override
    public int peekLimit() {
      return limit;
    }

    @Override
    public Duration peekTimeout() {
      return Duration.ofSeconds(5);
    }

    @Override
    public void denied(IpAddress destination, int port, Optional<String> sni, Optional<String> host, String reason) {
      denied.add(destination + ":" + port + " sni=" + sni.orElse("-") + " host=" + host.orElse("-") + " " + reason);
    }
  }

  final RecordingInboundContext context = new RecordingInboundContext();
  final TestPolicy policy = new TestPolicy();

  EmbeddedChannel channel(String destination, int port) {
    context.dials = new ArrayList<>();
    return new EmbeddedChannel(new L7Handler(context, new InetSocketAddress(destination, port), policy));
  }

  static ByteBuf bytes(byte[] b) {
    return Unpooled.wrappedBuffer(b);
  }

  static ByteBuf text(String s) {
    return Unpooled.copiedBuffer(s, StandardCharsets.ISO_8859_1);
  }

  /** Completes the pending dial with an upstream and returns what reached it. */
  byte[] dialAndRelay(EmbeddedChannel ch) {
    assertThat(context.dials).hasSize(1);
    EmbeddedChannel upstream = new EmbeddedChannel();
    context.dials.get(0).setSuccess(new Upstream(upstream, context.requests.get(0), "default", "direct",
        new InetSocketAddress(0)));
    ch.runPendingTasks();
    assertThat(context.relayed).hasSize(1);
    assertThat(ch.pipeline().get(L7Handler.NAME)).isNull();
    byte[] sent = RecordingInboundContext.written(upstream);
    upstream.finishAndReleaseAll();
    return sent;
  }

  @Test
  void anAllowedSniToOneOfItsAddressesIsDialedThereWithTheClientHelloUnchanged() throws Exception {
    byte[] hello = FlowParsingTest.clientHello("API.example.com");
    EmbeddedChannel ch = channel(CDN, 443);
    // in two reads: the first is not enough to find the name
    ch.writeInbound(bytes(Arrays.copyOf(hello, 20)));
    assertThat(context.requests).isEmpty();
    ch.writeInbound(bytes(Arrays.copyOfRange(hello, 20, hello.length)));
    assertThat(context.requests).singleElement().satisfies(r -> {
      assertThat(r.destination().toString()).isEqualTo(CDN + ":443");
      assertThat(r.sniffedHost()).contains("api.example.com");
    });
    assertThat(dialAndRelay(ch)).isEqualTo(hello);
    assertThat(policy.denied).isEmpty();
    ch.finishAndReleaseAll();
  }

  @Test
  void domainFrontingAnAllowedSniToAnUnrelatedAddressIsClosedAndReported() throws Exception {
    EmbeddedChannel ch = channel(OTHER, 443);
    ch.writeInbound(bytes(FlowParsingTest.clientHello("api.example.com")));
    assertThat(ch.isOpen()).isFalse();
    assertThat(context.requests).isEmpty();
    assertThat(RecordingInboundContext.written(ch)).isEmpty();
    assertThat(context.outcomes).containsExactly(Outcome.REJECTED);
    assertThat(policy.denied).containsExactly(OTHER + ":443 sni=api.example.com host=- " + OTHER
        + " is not an address of api.example.com");
    ch.finishAndReleaseAll();
  }

  @Test
  void anotherNameToAnAllowlistedSharedAddressIsRefused() throws Exception {
    EmbeddedChannel ch = channel(CDN, 443);
    ch.writeInbound(bytes(FlowParsingTest.clientHello("blocked.example.com")));
    assertThat(ch.isOpen()).isFalse();
    assertThat(context.requests).isEmpty();
    assertThat(policy.denied).singleElement().asString().endsWith("blocked.example.com is not allowlisted");
    ch.finishAndReleaseAll();
  }

  @Test
  void httpWithAHostThatIsNotAllowedGets403WithTheReason() {
    EmbeddedChannel ch = channel(CDN, 80);
    ch.writeInbound(text("GET / HTTP/1.1\r\nHost: evil.example.net\r\n\r\n"));
    String response = new String(RecordingInboundContext.written(ch), StandardCharsets.UTF_8);
    assertThat(response).startsWith("HTTP/1.1 403 Forbidden\r\n").contains("Connection: close\r\n")
        .endsWith("\r\n\r\nconduit egress gateway: evil.example.net is not allowlisted\n");
    assertThat(ch.isOpen()).isFalse();
    assertThat(policy.denied).containsExactly(CDN + ":80 sni=- host=evil.example.net evil.example.net is not"
        + " allowlisted");
    ch.finishAndReleaseAll();
  }

  @Test
  void httpHeadersInPiecesAreReadUntilTheirEndThenTheAllowedHostIsDialed() {
    EmbeddedChannel ch = channel("2001:db8::10", 80);
    String request = "GET /x HTTP/1.1\r\nUser-Agent: t\r\nHost: api.example.com:80\r\nAccept: */*\r\n\r\n";
    for (int i = 0; i < request.length(); i += 7) {
      assertThat(context.requests).isEmpty();
      ch.writeInbound(text(request.substring(i, Math.min(request.length(), i + 7))));
    }
    assertThat(context.requests).singleElement().satisfies(r -> assertThat(r.sniffedHost()).contains("api.example.com"));
    assertThat(new String(dialAndRelay(ch), StandardCharsets.ISO_8859_1)).isEqualTo(request);
    ch.finishAndReleaseAll();
  }

  @Test
  void aRequestWithoutAHostWithinThePeekLimitIsRefused() {
    policy.limit = 512;
    EmbeddedChannel ch = channel(CDN, 80);
    ch.writeInbound(text("GET / HTTP/1.1\r\nX-Padding: " + "a".repeat(600) + "\r\nHost: api.example.com\r\n\r\n"));
    assertThat(new String(RecordingInboundContext.written(ch), StandardCharsets.UTF_8))
        .startsWith("HTTP/1.1 403 Forbidden").contains("no server name (TLS SNI or HTTP Host) for " + CDN);
    assertThat(ch.isOpen()).isFalse();
    assertThat(context.requests).isEmpty();
    ch.finishAndReleaseAll();
  }

  @Test
  void aClientThatSendsNothingIsClosedAtThePeekTimeout() {
    EmbeddedChannel ch = channel(CDN, 443);
    ch.advanceTimeBy(4, TimeUnit.SECONDS);
    ch.runScheduledPendingTasks();
    assertThat(ch.isOpen()).isTrue();
    ch.writeInbound(bytes(new byte[] {0x16, 0x03})); // a ClientHello that never completes
    ch.advanceTimeBy(2, TimeUnit.SECONDS);
    ch.runScheduledPendingTasks();
    assertThat(ch.isOpen()).isFalse();
    assertThat(context.requests).isEmpty();
    assertThat(policy.denied).singleElement().asString().endsWith("no TLS ClientHello or HTTP request within 5000 ms");
    ch.finishAndReleaseAll();
  }

  @Test
  void somethingElseThanTlsOrHttpIsClosed() {
    EmbeddedChannel ch = channel(CDN, 443);
    ch.writeInbound(text("SSH-2.0-OpenSSH_9.2\r\n"));
    assertThat(ch.isOpen()).isFalse();
    assertThat(RecordingInboundContext.written(ch)).isEmpty();
    assertThat(policy.denied).singleElement().asString().contains("no server name");
    ch.finishAndReleaseAll();
  }

  @Test
  void aNameBelowAWildcardIsDialedOnlyWhenTheGatewayResolvesItToTheDestination() throws Exception {
    EmbeddedChannel ch = channel(OTHER, 443);
    ch.writeInbound(bytes(FlowParsingTest.clientHello("a.example.org")));
    assertThat(policy.resolved).containsExactly("a.example.org");
    policy.resolutions.get(0).setSuccess(List.of(IpAddress.parse(OTHER)));
    ch.runPendingTasks();
    assertThat(context.requests).singleElement().satisfies(r -> assertThat(r.sniffedHost()).contains("a.example.org"));
    dialAndRelay(ch);
    ch.finishAndReleaseAll();

    context.requests.clear();
    context.relayed.clear();
    EmbeddedChannel fronted = channel(CDN, 443);
    fronted.writeInbound(bytes(FlowParsingTest.clientHello("b.example.org")));
    policy.resolutions.get(1).setSuccess(List.of(IpAddress.parse(OTHER)));
    fronted.runPendingTasks();
    assertThat(fronted.isOpen()).isFalse();
    assertThat(context.requests).isEmpty();
    assertThat(policy.denied).singleElement().asString().endsWith(CDN + " is not an address of b.example.org"
        + " (it resolves to [" + OTHER + "])");
    fronted.finishAndReleaseAll();

    EmbeddedChannel unresolved = channel(CDN, 80);
    unresolved.writeInbound(text("GET / HTTP/1.1\r\nHost: c.example.org\r\n\r\n"));
    policy.resolutions.get(2).setFailure(new java.net.UnknownHostException("c.example.org: NXDOMAIN"));
    unresolved.runPendingTasks();
    assertThat(new String(RecordingInboundContext.written(unresolved), StandardCharsets.UTF_8))
        .contains("403").endsWith("c.example.org does not resolve: c.example.org: NXDOMAIN\n");
    unresolved.finishAndReleaseAll();
  }

  @Test
  void anAddressEntryPassesWithoutReadingAndReportOnlyLetsRefusedFlowsThrough() {
    EmbeddedChannel ch = channel("192.0.2.7", 443);
    assertThat(context.requests).singleElement().satisfies(r -> assertThat(r.sniffedHost()).isEmpty());
    dialAndRelay(ch);
    ch.finishAndReleaseAll();

    context.requests.clear();
    context.relayed.clear();
    policy.reportOnly = true;
    EmbeddedChannel reported = channel(CDN, 80);
    reported.writeInbound(text("GET / HTTP/1.1\r\nHost: evil.example.net\r\n\r\n"));
    assertThat(policy.denied).hasSize(1);
    assertThat(new String(dialAndRelay(reported), StandardCharsets.ISO_8859_1)).startsWith("GET / HTTP/1.1");
    reported.finishAndReleaseAll();
  }

  @Test
  void aClientThatLeavesBeforeTheDecisionLeaksNothing() {
    EmbeddedChannel ch = channel(CDN, 80);
    ch.writeInbound(text("GET / HTTP/1.1\r\nHost: api.exa"));
    ch.close();
    assertThat(context.requests).isEmpty();
    assertThat(ch.pipeline().get(L7Handler.NAME)).isNull(); // removed with the held bytes released
    assertThat(ch.finishAndReleaseAll()).isFalse();
  }
}
