package dev.conduit.benchmarks;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.pki.Pem;
import dev.conduit.core.pki.TlsMaterial;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * The cheap watchers of {@link PushFanoutBench}: many push-channel agents in one JVM on one event loop group, each
 * with its own TLS connection (one shared client context, so sessions resume), its own WebSocket upgrade and hello.
 * Each decodes every message it receives in full (a streaming JSON parse of every byte, no tree, no kept state),
 * notes the {@link System#nanoTime()} at which it had decoded a measured change, and acknowledges every message with
 * the hash the server announced (a watcher keeps no membership to hash: that is a real agent's work, not the server's). The
 * latency of a change is that time minus the publish time the bench wrote into the changed member ({@code t0}).
 */
final class PushWatchers {

  private static final JsonFactory JSON = new JsonFactory();
  private static final int BATCH = 250;

  private final int agents;
  private final URI uri;
  private final int port;
  private final SslContext ssl;
  private final ConduitResources resources;
  private final AtomicInteger upgraded = new AtomicInteger();
  private final AtomicIntegerArray upgradedOnce;
  private final PushTally tally;
  private final AtomicInteger malformed = new AtomicInteger();
  private volatile boolean finished;

  private PushWatchers(int agents, int changes, int port, SslContext ssl, ConduitResources resources) {
    this.agents = agents;
    this.port = port;
    this.uri = URI.create("wss://127.0.0.1:" + port + PushServer.DEFAULT_PATH);
    this.ssl = ssl;
    this.resources = resources;
    this.upgradedOnce = new AtomicIntegerArray(agents);
    this.tally = new PushTally(agents, changes);
  }

  /** {@code watchers DIR PORT AGENTS CHANGES}: runs until every watcher decoded every change, prints the RESULT. */
  static void run(Path dir, int port, int agents, int changes) throws Exception {
    Path caFile = dir.resolve("ca.crt");
    long start = System.nanoTime();
    while (!Files.exists(caFile) || Files.size(caFile) == 0) {
      if (System.nanoTime() - start > Duration.ofMinutes(1).toNanos()) {
        throw new IllegalStateException(caFile + ": not written by the server within a minute");
      }
      Thread.sleep(100);
    }
    SslProvider provider = TlsMaterial.preferredProvider();
    SslContext ssl = SslContextBuilder.forClient().sslProvider(provider).protocols(TlsMaterial.PROTOCOLS)
        .trustManager(Pem.readCertificates(caFile)).endpointIdentificationAlgorithm("HTTPS").build();
    try (ConduitResources resources = ConduitResources.builder().ioThreads(2).build()) {
      PushWatchers watchers = new PushWatchers(agents, changes, port, ssl, resources);
      System.out.printf("watchers: TLS by %s, %s transport%n", provider,
          resources.isNativeTransport() ? "native" : "NIO");
      watchers.connectAll(start);
      long cpuStart = PushTally.cpuNanos();
      watchers.tally.awaitAll();
      watchers.finished = true;
      double cpuSeconds = (PushTally.cpuNanos() - cpuStart) / 1e9;
      System.out.println(watchers.tally.result("publish->decoded", cpuSeconds)
          + (watchers.malformed.get() == 0 ? "" : " | " + watchers.malformed.get() + " MALFORMED messages"));
    }
  }

  private void connectAll(long start) throws InterruptedException {
    for (int i = 0; i < agents; i++) {
      connect(i);
      if ((i + 1) % BATCH == 0 || i + 1 == agents) {
        // pace the TLS handshakes: wait for this batch before opening the next
        long batchStart = System.nanoTime();
        while (upgraded.get() < i + 1) {
          if (System.nanoTime() - batchStart > Duration.ofMinutes(10).toNanos()) {
            throw new IllegalStateException("only " + upgraded.get() + " of " + (i + 1) + " watchers connected");
          }
          Thread.sleep(20);
        }
        if ((i + 1) % 2500 == 0 || i + 1 == agents) {
          System.out.printf("watchers: %d connected after %.1f s%n", i + 1, (System.nanoTime() - start) / 1e9);
        }
      }
    }
  }

  private void connect(int id) {
    if (finished) {
      return;
    }
    DefaultHttpHeaders headers = new DefaultHttpHeaders();
    headers.set(HttpHeaderNames.AUTHORIZATION, "Bearer bench-" + id);
    WebSocketClientProtocolConfig ws = WebSocketClientProtocolConfig.newBuilder()
        .webSocketUri(uri)
        .customHeaders(headers)
        .maxFramePayloadLength(16 * 1024 * 1024)
        .allowExtensions(false)
        .handshakeTimeoutMillis(60_000)
        .build();
    new Bootstrap().group(resources.eventLoopGroup())
        .channel(resources.socketChannelType())
        .handler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline().addLast(
                ssl.newHandler(ch.alloc(), "127.0.0.1", port),
                new HttpClientCodec(),
                new HttpObjectAggregator(8192),
                new WebSocketClientProtocolHandler(ws),
                new WebSocketFrameAggregator(16 * 1024 * 1024),
                new Watcher(id));
          }
        })
        .connect("127.0.0.1", port)
        .addListener(f -> {
          Channel ch = ((io.netty.channel.ChannelFuture) f).channel();
          if (!f.isSuccess()) {
            retry(ch, id);
          } else {
            ch.closeFuture().addListener(c -> retry(ch, id));
          }
        });
  }

  /** A watcher whose connection failed or closed before the end reconnects after a moment (as an agent would). */
  private void retry(Channel ch, int id) {
    if (!finished) {
      ch.eventLoop().schedule(() -> connect(id), 500, TimeUnit.MILLISECONDS);
    }
  }

  /** One agent's channel after the WebSocket upgrade. */
  private final class Watcher extends SimpleChannelInboundHandler<WebSocketFrame> {
    private final int id;

    Watcher(int id) {
      super(WebSocketFrame.class);
      this.id = id;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
      if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent.HANDSHAKE_COMPLETE) {
        PushState empty = PushState.empty();
        ctx.writeAndFlush(text(ctx, "{\"type\":\"hello\",\"version\":0,\"hash\":\"" + empty.hash()
            + "\",\"agent\":\"watcher-" + id + "\",\"role\":\"client\"}"));
        if (upgradedOnce.compareAndSet(id, 0, 1)) {
          upgraded.incrementAndGet();
        }
      } else {
        super.userEventTriggered(ctx, evt);
      }
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
      if (frame instanceof CloseWebSocketFrame) {
        ctx.close();
        return;
      }
      if (!(frame instanceof TextWebSocketFrame)) {
        return;
      }
      Decoded message;
      try {
        message = decode(frame);
      } catch (IOException | RuntimeException e) {
        malformed.incrementAndGet();
        ctx.close();
        return;
      }
      tally.record(id, message.change, message.t0, System.nanoTime());
      ctx.writeAndFlush(text(ctx, "{\"type\":\"ack\",\"version\":" + message.version + ",\"hash\":\""
          + message.hash + "\"}"));
    }

    private TextWebSocketFrame text(ChannelHandlerContext ctx, String json) {
      return new TextWebSocketFrame(ByteBufUtil.writeUtf8(ctx.alloc(), json));
    }
  }

  private record Decoded(long version, String hash, long t0, long change) {}

  /**
   * Parses every token of a snapshot or delta; keeps its version, its hash and the newest {@code t0} of a member
   * it carries (a snapshot after a change carries the changed member too).
   */
  private static Decoded decode(WebSocketFrame frame) throws IOException {
    long version = -1;
    String hash = null;
    long[] newest = new long[2]; // the largest t0 and change a member carries: both grow with each change
    try (JsonParser p = JSON.createParser((java.io.InputStream) new ByteBufInputStream(frame.content()))) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new IOException("not an object");
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken value = p.nextToken();
        switch (name) {
          case "version" -> version = p.getLongValue();
          case "hash" -> hash = p.getText();
          case "upserts", "resources" -> newest(p, newest);
          default -> {
            if (value.isStructStart()) {
              p.skipChildren();
            }
          }
        }
      }
    }
    if (version < 0 || hash == null) {
      throw new IOException("no version or hash");
    }
    return new Decoded(version, hash, newest[0], newest[1]);
  }

  /** Walks the object the parser is at the start of; keeps the largest {@code t0} and {@code change} in it. */
  private static void newest(JsonParser p, long[] newest) throws IOException {
    int depth = 1;
    while (depth > 0) {
      JsonToken token = p.nextToken();
      if (token == null) {
        throw new IOException("truncated");
      }
      if (token.isStructStart()) {
        depth++;
      } else if (token.isStructEnd()) {
        depth--;
      } else if (token == JsonToken.FIELD_NAME) {
        int slot = "t0".equals(p.currentName()) ? 0 : "change".equals(p.currentName()) ? 1 : -1;
        if (slot >= 0 && p.nextToken() == JsonToken.VALUE_NUMBER_INT) {
          newest[slot] = Math.max(newest[slot], p.getLongValue());
        } else if (p.currentToken().isStructStart()) {
          depth++;
        }
      }
    }
  }
}
