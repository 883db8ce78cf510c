package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.admin.AdminServer;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.overload.OverloadLevel;
import dev.conduit.core.overload.OverloadPolicy;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The overload manager against real attackers: slow readers by the thousand ({@code slowhttptest -X}) and
 * idle connections past the file-descriptor budget. Asserted: every probe is answered (served, or told busy
 * with a 503), conduit's buffers go back to empty and the level to normal after, and new clients are served.
 */
class OverloadTest {
  private static final int BODY = 4 << 20;

  @Test
  void aThousandSlowReadersAgainstASmallBudget() throws Exception {
    Processes.requireTool("slowhttptest");
    long budget = 16L << 20;
    try (ConduitResources resources = ConduitResources.builder().ioThreads(2).build();
        BigOrigin big = new BigOrigin(resources);
        TestOrigin small = TestOrigin.start();
        Conduit conduit = Conduit.builder().resources(resources)
            .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http()).build())
            .overload(OverloadPolicy.builder().memoryBudget(budget).checkInterval(Duration.ofMillis(50)).build())
            .timeouts(Timeouts.builder().drain(Duration.ZERO).build())
            .build().start()) {
      InetSocketAddress proxy = conduit.address("http");
      Process attack = new ProcessBuilder("slowhttptest", "-X", "-c", "1000", "-r", "250", "-l", "240",
          "-w", "64", "-y", "256", "-n", "2", "-z", "32", "-k", "2", "-p", "5",
          "-u", "http://127.0.0.1:" + big.port() + "/big", "-d", "127.0.0.1:" + proxy.getPort())
          .redirectErrorStream(true).redirectOutput(new File("target/slowhttptest-x.log")).start();
      try {
        int answered = 0;
        int served = 0;
        OverloadLevel highest = OverloadLevel.NORMAL;
        // until the manager acted and probes were answered meanwhile (the attack's own length is only a bound:
        // on a busy machine its connections take longer to pile up)
        while (attack.isAlive() && !(highest.compareTo(OverloadLevel.PRESSURE) >= 0 && answered >= 5)) {
          String reply = probe(proxy, small.port());
          assertThat(reply).as("a probe under attack is answered: served or told busy")
              .satisfiesAnyOf(r -> assertThat(r).startsWith("HTTP/1.1 200").endsWith("hello"),
                  r -> assertThat(r).startsWith("HTTP/1.1 503").contains("Retry-After"));
          answered++;
          served += reply.startsWith("HTTP/1.1 200") ? 1 : 0;
          OverloadLevel level = conduit.overloadStatus().level();
          highest = level.compareTo(highest) > 0 ? level : highest;
          attack.waitFor(200, TimeUnit.MILLISECONDS); // the probes' pace, not a wait for an event
        }
        assertThat(answered).isPositive();
        assertThat(highest).as("the budget was reached and acted on (%d of %d probes served)", served, answered)
            .isGreaterThanOrEqualTo(OverloadLevel.PRESSURE);
      } finally {
        attack.destroy();
        attack.waitFor(10, TimeUnit.SECONDS);
      }
      // the attackers are gone: conduit's buffers and connections go back to nothing, the level to normal
      Net.await(Duration.ofSeconds(60), "connections closed", () -> conduit.activeConnections() == 0);
      Net.await(Duration.ofSeconds(10), "buffers empty", () -> conduit.bufferedBytes() == 0);
      Net.await(Duration.ofSeconds(10), "level normal", () -> conduit.overloadStatus().level() == OverloadLevel.NORMAL);
      assertThat(probe(proxy, small.port())).startsWith("HTTP/1.1 200").endsWith("hello");
    }
  }

  @Test
  void pastTheFileBudgetRequestsAreToldBusyAndConduitRecovers() throws Exception {
    try (ConduitResources resources = ConduitResources.builder().ioThreads(1).build();
        TestOrigin small = TestOrigin.start();
        Conduit conduit = Conduit.builder().resources(resources)
            .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http()).build())
            .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
            // descriptors open now (event loop, origin, this JVM's own) plus room for the listeners, the admin
            // endpoint, the probes and a few idle clients, not for forty more
            .overload(OverloadPolicy.builder().fileBudget(openFiles() + 60).checkInterval(Duration.ofMillis(50)).build())
            .timeouts(Timeouts.builder().drain(Duration.ZERO).build())
            .build().start();
        AdminServer admin = AdminServer.builder().bind("127.0.0.1:0").conduit(conduit).build().start()) {
      InetSocketAddress proxy = conduit.address("http");
      Net.await(Duration.ofSeconds(10), "first reading", () -> conduit.overloadStatus().openFiles() > 0);
      assertThat(probe(proxy, small.port())).startsWith("HTTP/1.1 200");
      assertThat(readyz(admin)).isEqualTo("200 ready\noverload: normal");
      // idle clients (both ends are in this process: two descriptors each) push it past the budget
      List<Socket> idle = new ArrayList<>();
      try {
        for (int i = 0; i < 40; i++) {
          idle.add(new Socket(proxy.getAddress(), proxy.getPort()));
        }
        Net.await(Duration.ofSeconds(10), "refusing", () -> conduit.overloadStatus().level().refusesNewWork());
        String busy = probe(proxy, small.port());
        assertThat(busy).startsWith("HTTP/1.1 503").contains("Retry-After");
        try (Net.Socks5Result r = Net.socks5(conduit.address("socks"), "127.0.0.1", small.port(), null)) {
          assertThat(r.reply()).as("SOCKS5 general failure: busy").isEqualTo(0x01);
        }
        assertThat(readyz(admin)).isEqualTo("503 not ready\noverload: refusing");
      } finally {
        for (Socket s : idle) {
          s.close();
        }
      }
      Net.await(Duration.ofSeconds(10), "level normal", () -> conduit.overloadStatus().level() == OverloadLevel.NORMAL);
      assertThat(probe(proxy, small.port())).startsWith("HTTP/1.1 200").endsWith("hello");
      assertThat(conduit.overloadStatus().refusedTotal()).isGreaterThanOrEqualTo(2);
      assertThat(readyz(admin)).isEqualTo("200 ready\noverload: normal");
    }
  }

  private static long openFiles() {
    return new File("/proc/self/fd").list().length;
  }

  /** The admin endpoint's {@code /readyz}: status and body. */
  private static String readyz(AdminServer admin) throws IOException, InterruptedException {
    java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(
        java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + admin.address().getPort()
            + "/readyz")).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
    return r.statusCode() + " " + r.body();
  }

  /** One GET of {@code /hello} through the proxy on a new connection; the whole response. */
  private static String probe(InetSocketAddress proxy, int originPort) throws IOException {
    try (Socket s = new Socket(proxy.getAddress(), proxy.getPort())) {
      s.setSoTimeout(30_000);
      s.getOutputStream().write(("GET http://127.0.0.1:" + originPort + "/hello HTTP/1.1\r\nHost: x\r\n"
          + "Connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      InputStream in = s.getInputStream();
      return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
    }
  }

  /** An origin answering every request with 4 MiB, from one shared buffer. */
  private static final class BigOrigin implements AutoCloseable {
    private static final ByteBuf CONTENT = Unpooled.unreleasableBuffer(Unpooled.wrappedBuffer(TestOrigin.bytes(BODY)));
    private final Channel server;
    private final io.netty.channel.group.ChannelGroup children =
        new io.netty.channel.group.DefaultChannelGroup(io.netty.util.concurrent.GlobalEventExecutor.INSTANCE);

    BigOrigin(ConduitResources resources) throws InterruptedException {
      server = new ServerBootstrap().group(resources.eventLoopGroup()).channel(resources.serverSocketChannelType())
          .childHandler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
              children.add(ch);
              ch.pipeline().addLast(new HttpServerCodec()).addLast(new SimpleChannelInboundHandler<HttpRequest>() {
                @Override
                protected void channelRead0(ChannelHandlerContext ctx, HttpRequest req) {
                  FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                      CONTENT.duplicate());
                  res.headers().set(HttpHeaderNames.CONTENT_LENGTH, BODY);
                  ctx.writeAndFlush(res);
                }
              });
            }
          }).bind("127.0.0.1", 0).sync().channel();
    }

    int port() {
      return ((InetSocketAddress) server.localAddress()).getPort();
    }

    @Override
    public void close() {
      server.close().syncUninterruptibly();
      children.close().awaitUninterruptibly(); // their unsent responses are released
    }
  }
}
