package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.inbound.SocksInboundOptions;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import dev.conduit.core.testing.TestOrigin;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.proxy.ProxyConnectException;
import io.netty.handler.proxy.Socks5ProxyHandler;
import java.net.InetSocketAddress;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** SOCKS5 replies say why a connect failed; traffic stays on loopback. */
class ReplyCodesTest {
  static ConduitResources resources;
  static TestOrigin origin;
  static Net.TcpServer blackhole;
  static Conduit upstreamWithAuth;
  static Conduit conduit;
  static final Net.RecordingObserver observer = new Net.RecordingObserver();

  @BeforeAll
  static void start() throws Exception {
    resources = ConduitResources.builder().ioThreads(2).build();
    origin = TestOrigin.start();
    blackhole = Net.blackhole();
    upstreamWithAuth = Conduit.builder().resources(resources)
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks(
            SocksInboundOptions.builder().authenticator(Authenticator.of(new Credentials("bob", "right"))).build()))
            .build())
        .build().start();
    conduit = Conduit.builder().resources(resources)
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
        .timeouts(Timeouts.builder().dial(Duration.ofMillis(700)).build())
        .outbound(Outbound.builder("hung").hop(Hop.builder(Hop.Protocol.SOCKS5)
            .endpoint(Destination.of("127.0.0.1", blackhole.port())).build()).build())
        .outbound(Outbound.builder("bad-credentials").hop(Hop.builder(Hop.Protocol.SOCKS5)
            .endpoint(Destination.of("127.0.0.1", upstreamWithAuth.address("socks").getPort()))
            .credentials(new Credentials("bob", "wrong")).build()).build())
        .outbound(Outbound.builder("good-credentials").hop(Hop.builder(Hop.Protocol.SOCKS5)
            .endpoint(Destination.of("127.0.0.1", upstreamWithAuth.address("socks").getPort()))
            .credentials(new Credentials("bob", "right")).build()).build())
        .router(Router.builder()
            .rule(Rule.builder("no-blocked").domainSuffix("blocked.test").decision(RouteDecision.reject("policy")).build())
            .rule(Rule.builder("slow").domain("slow.test").decision(RouteDecision.via("hung")).build())
            .rule(Rule.builder("bad").domain("bad.test").decision(RouteDecision.via("bad-credentials")).build())
            .rule(Rule.builder("good").domain("localhost").decision(RouteDecision.via("good-credentials")).build())
            .build())
        .observer(observer)
        .build().start();
  }

  @AfterAll
  static void stop() throws Exception {
    conduit.close();
    upstreamWithAuth.close();
    blackhole.close();
    origin.close();
    resources.close();
  }

  private static InetSocketAddress proxy() {
    return conduit.address("socks");
  }

  private ConnectionSummary summaryFor(String destinationHost) throws InterruptedException {
    while (true) {
      ConnectionSummary s = observer.nextClosed();
      if (s.destination().isPresent() && s.destination().get().host().equals(destinationHost)) {
        return s;
      }
    }
  }

  @Test
  void connectionRefused() throws Exception {
    int port = Net.closedPort();
    try (Net.Socks5Result r = Net.socks5(proxy(), "127.0.0.1", port, null)) {
      assertThat(r.reply()).isEqualTo(0x05);
      assertThat(r.socket().getInputStream().read()).isEqualTo(-1);
    }
    ConnectionSummary s = summaryFor("127.0.0.1");
    assertThat(s.outcome()).isEqualTo(Outcome.DIAL_FAILED);
    assertThat(s.detail()).containsIgnoringCase("refused");
  }

  @Test
  void connectionRefusedSeenByNettysProxyHandler() throws Exception {
    int port = Net.closedPort();
    // kept here: the pipeline loses its handlers when the channel closes, which the refusal may do before we look
    Socks5ProxyHandler handler = new Socks5ProxyHandler(proxy());
    Bootstrap b = new Bootstrap().group(resources.eventLoopGroup()).channel(resources.socketChannelType())
        .handler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast(handler, new ChannelInboundHandlerAdapter() {
              @Override
              public void exceptionCaught(io.netty.channel.ChannelHandlerContext ctx, Throwable cause) {
                ctx.close(); // the handler's connect future reports it
              }
            });
          }
        });
    ChannelFuture cf = b.connect(new InetSocketAddress("127.0.0.1", port)).syncUninterruptibly();
    handler.connectFuture().awaitUninterruptibly(10_000);
    assertThat(handler.connectFuture().cause()).isInstanceOf(ProxyConnectException.class)
        .hasMessageContaining("CONNECTION_REFUSED");
    cf.channel().close().syncUninterruptibly();
  }

  @Test
  void unresolvableNameIsHostUnreachable() throws Exception {
    try (Net.Socks5Result r = Net.socks5(proxy(), "no-such-host.invalid", 80, null)) {
      assertThat(r.reply()).isEqualTo(0x04);
    }
    assertThat(summaryFor("no-such-host.invalid").detail()).contains("cannot resolve no-such-host.invalid");
  }

  @Test
  void ruleRejection() throws Exception {
    try (Net.Socks5Result r = Net.socks5(proxy(), "www.blocked.test", 443, null)) {
      assertThat(r.reply()).isEqualTo(0x02);
    }
    ConnectionSummary s = summaryFor("www.blocked.test");
    assertThat(s.outcome()).isEqualTo(Outcome.REJECTED);
    assertThat(s.rule()).contains("no-blocked");
    assertThat(s.detail()).contains("policy");
  }

  @Test
  void hungUpstreamIsTimeout() throws Exception {
    try (Net.Socks5Result r = Net.socks5(proxy(), "slow.test", 80, null)) {
      assertThat(r.reply()).isEqualTo(0x06);
    }
    // conduit's own record says which timer ended it (not how long the test thread happened to wait)
    ConnectionSummary s = summaryFor("slow.test");
    assertThat(s.outcome()).isEqualTo(Outcome.DIAL_FAILED);
    // the dial deadline fires in conduit's dialer ("timed out after") or, set to the same remaining time, in the
    // hop's proxy handshake ("…, timeout"): which of the two runs first is up to the scheduler
    assertThat(s.detail()).containsAnyOf("timed out after", ", timeout");
  }

  @Test
  void upstreamRefusesOurCredentials() throws Exception {
    try (Net.Socks5Result r = Net.socks5(proxy(), "bad.test", 80, null)) {
      assertThat(r.reply()).isEqualTo(0x01);
    }
    ConnectionSummary s = summaryFor("bad.test");
    assertThat(s.outcome()).isEqualTo(Outcome.DIAL_FAILED);
    assertThat(s.detail()).contains("refused our credentials").doesNotContain("wrong");
    assertThat(observer.dialFailures).anySatisfy(e -> assertThat(e.failure()).isEqualTo(DialFailure.UPSTREAM_AUTH_FAILED));
  }

  @Test
  void rightCredentialsThroughTheSameUpstreamWork() throws Exception {
    try (Net.Socks5Result r = Net.socks5(proxy(), "localhost", origin.port(), null)) {
      assertThat(r.reply()).isEqualTo(0);
      assertThat(Net.httpGet(r.socket(), "/hello")).startsWith("HTTP/1.1 200").endsWith("hello");
    }
  }
}
