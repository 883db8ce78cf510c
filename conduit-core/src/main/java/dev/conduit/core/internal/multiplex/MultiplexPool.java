package dev.conduit.core.internal.multiplex;

import dev.conduit.core.ConduitResources;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.Credentials;
import dev.conduit.core.Destination;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import dev.conduit.core.TcpKeepAlive;
import dev.conduit.core.internal.dial.MultiplexFailure;
import dev.conduit.core.internal.dial.Multiplexer;
import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.internal.transport.ChannelTuning;
import dev.conduit.core.internal.dial.DialErrors;
import dev.conduit.core.internal.transport.TrafficCounter;
import dev.conduit.core.internal.tls.PeerGuards;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.outbound.SocketCustomizer;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.NetUtil;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLParameters;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client side of multiplexed tunnels ({@link Hop#multiplex()}): per event loop and endpoint, HTTP/2
 * connections over TLS, each carrying up to the server's {@code SETTINGS_MAX_CONCURRENT_STREAMS} tunnels as
 * {@code CONNECT} streams. A dial opens a stream on a connection of the inbound channel's own event loop (the
 * relay needs both channels on one loop), so each loop's pool is touched by that loop only. A new connection is
 * opened when none has room or the ones there got GOAWAY; concurrent dials wait for one connection being opened
 * rather than open one each. Connections that close leave the pool; one without streams closes after
 * {@link #IDLE_CONNECTION}.
 */
public final class MultiplexPool implements Multiplexer {
  private static final Logger log = LoggerFactory.getLogger(MultiplexPool.class);

  /** How long a connection without streams stays open for the next tunnel. */
  public static final Duration IDLE_CONNECTION = Duration.ofSeconds(60);

  /** Stream ids are odd 31-bit numbers: a connection that used this many opens a new one instead. */
  private static final long MAX_STREAMS_PER_CONNECTION = 1_000_000_000L;

  private final ConduitResources resources;
  private final TcpKeepAlive keepAlive;
  private final SocketCustomizer customizer;
  private final Map<EventLoop, LoopPool> loops = new ConcurrentHashMap<>();

  public MultiplexPool(ConduitResources resources, TcpKeepAlive keepAlive, SocketCustomizer customizer) {
    this.resources = resources;
    this.keepAlive = keepAlive;
    this.customizer = customizer;
  }

  /**
   * Opens a tunnel to {@code request}'s destination through {@code endpoint} of {@code hop}: the stream channel
   * once the server answered 200, with a {@link StreamAdapter} and a byte counter at the head of its pipeline.
   * Call on {@code loop}. Fails with a {@link MultiplexFailure} (including when nothing happened within
   * {@code timeoutMillis}).
   */
  @Override
  public Future<Channel> open(Hop hop, Destination endpoint, ConnectRequest request, EventLoop loop, long timeoutMillis) {
    Promise<Channel> promise = loop.newPromise();
    LoopPool pool = loops.computeIfAbsent(loop, LoopPool::new);
    pool.acquire(new Key(hop, endpoint), request, timeoutMillis, promise, true);
    return promise;
  }

  /** Closes every pooled connection (their tunnels with them). */
  @Override
  public void close() {
    for (LoopPool pool : loops.values()) {
      if (!pool.loop.isShuttingDown()) {
        pool.loop.execute(pool::closeAll);
      }
    }
  }

  /** The number of open pooled connections (for tests and diagnostics; may lag). */
  @Override
  public int connectionCount() {
    int n = 0;
    for (LoopPool pool : loops.values()) {
      n += pool.count;
    }
    return n;
  }

  /** Hops are compared by identity: a hop replaced by {@code Conduit.update} gets connections of its own. */
  private record Key(Hop hop, Destination endpoint) {}

  /** One event loop's connections. Touched on that loop only (except {@link #count}). */
  private final class LoopPool {
    final EventLoop loop;
    final Map<Key, List<Connection>> connections = new HashMap<>();
    final Map<Key, Promise<Connection>> connecting = new HashMap<>();
    volatile int count;

    LoopPool(EventLoop loop) {
      this.loop = loop;
    }

    void acquire(Key key, ConnectRequest request, long timeoutMillis, Promise<Channel> promise, boolean mayWaitAgain) {
      List<Connection> list = connections.get(key);
      if (list != null) {
        for (Connection c : list) {
          if (c.usable()) {
            c.openStream(request, timeoutMillis, promise);
            return;
          }
        }
      }
      Promise<Connection> pending = connecting.get(key);
      if (pending == null) {
        Promise<Connection> created = loop.newPromise();
        connecting.put(key, created);
        created.addListener(f -> connecting.remove(key, created));
        connect(key, timeoutMillis, created);
        pending = created;
      }
      pending.addListener((Future<Connection> f) -> {
        if (promise.isDone()) {
          return;
        }
        if (!f.isSuccess()) {
          promise.tryFailure(f.cause());
        } else if (f.getNow().usable()) {
          f.getNow().openStream(request, timeoutMillis, promise);
        } else if (mayWaitAgain) {
          acquire(key, request, timeoutMillis, promise, false); // the new connection filled up: another
        } else {
          promise.tryFailure(new MultiplexFailure(new DialException(DialFailure.GENERAL, "upstream proxy " + key.endpoint()
              + ": no HTTP/2 connection with room for another stream"), false, true));
        }
      });
    }

    private void connect(Key key, long timeoutMillis, Promise<Connection> promise) {
      Destination endpoint = key.endpoint();
      Hop hop = key.hop();
      SslHandler ssl;
      try {
        SslContext context = hop.sslContext().orElseThrow();
        ssl = context.newHandler(ByteBufAllocator.DEFAULT, hop.tlsServerName().orElse(endpoint.host()), endpoint.port());
      } catch (RuntimeException e) {
        promise.tryFailure(new MultiplexFailure(new DialException(DialFailure.GENERAL, "no TLS context for upstream proxy "
            + endpoint + ": " + e.getMessage(), e), false, false));
        return;
      }
      SSLParameters params = ssl.engine().getSSLParameters();
      params.setEndpointIdentificationAlgorithm("HTTPS");
      ssl.engine().setSSLParameters(params);
      ssl.setHandshakeTimeoutMillis(timeoutMillis);
      Bootstrap b = new Bootstrap().group(loop)
          .channel(resources.socketChannelType())
          .resolver(resources.resolver())
          .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, timeoutMillis))
          .option(ChannelOption.RCVBUF_ALLOCATOR, ChannelTuning.READ_SIZES)
          .handler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) throws Exception {
              ChannelTuning.applyKeepAlive(ch, keepAlive);
              customizer.customize(ch);
              ch.pipeline().addLast(ConduitPipeline.HOP_TLS_PREFIX + 0, ssl);
              ch.pipeline().addLast(ConduitPipeline.H2_LAST_RESORT, new LastResort(endpoint));
            }
          });
      ChannelFuture cf = b.connect(endpoint.toUnresolvedAddress());
      cf.addListener((ChannelFuture f) -> {
        if (!f.isSuccess()) {
          f.channel().close();
          promise.tryFailure(new MultiplexFailure(new DialException(DialErrors.ofConnect(f.cause()),
              "upstream proxy " + endpoint + " unreachable: " + f.cause().getMessage(), f.cause()), true, true));
        }
      });
      ssl.handshakeFuture().addListener((Future<Channel> h) -> {
        Channel ch = cf.channel();
        if (!h.isSuccess()) {
          ch.close();
          if (cf.isDone() && !cf.isSuccess()) {
            return; // reported by the connect
          }
          promise.tryFailure(new MultiplexFailure(new DialException(DialFailure.GENERAL, "TLS handshake with upstream proxy "
              + endpoint + " failed: " + DialErrors.describe(h.cause()), h.cause()), true, true));
          return;
        }
        if (hop.peerGuard().isPresent() && !PeerGuards.admit(hop.peerGuard().get(), ssl, ch)) {
          ch.close();
          promise.tryFailure(new MultiplexFailure(new DialException(DialFailure.GENERAL, "TLS handshake with upstream "
              + "proxy " + endpoint + " failed: " + PeerGuards.refused().getMessage()), true, true));
          return;
        }
        String alpn = ssl.applicationProtocol();
        if (!ApplicationProtocolNames.HTTP_2.equals(alpn)) {
          ch.close();
          promise.tryFailure(new MultiplexFailure(new DialException(DialFailure.GENERAL, "upstream proxy " + endpoint
              + " did not select HTTP/2 for a multiplexed tunnel (ALPN: " + (alpn == null ? "none" : alpn)
              + "; expected: h2, a conduit tunnel listener with TlsMaterial.tunnelServerContext(), or turn "
              + "multiplex off)"), true, true));
          return;
        }
        Http2FrameCodec codec = Http2FrameCodecBuilder.forClient().initialSettings(H2Settings.client())
            .decoderEnforceMaxRstFramesPerWindow(H2Settings.MAX_RESETS_PER_WINDOW, H2Settings.RESET_WINDOW_SECONDS).build();
        // DATA frames span TLS records: composing them saves a copy of every tunnelled byte
        codec.setCumulator(io.netty.handler.codec.ByteToMessageDecoder.COMPOSITE_CUMULATOR);
        ch.pipeline().addBefore(ConduitPipeline.H2_LAST_RESORT, ConduitPipeline.H2_CODEC, codec);
        ch.pipeline().addBefore(ConduitPipeline.H2_LAST_RESORT, ConduitPipeline.H2_STREAMS, new Http2MultiplexHandler(new NoPushedStreams()));
        H2Settings.growConnectionWindow(ch);
        Connection c = new Connection(this, key, ch, codec);
        List<Connection> list = connections.computeIfAbsent(key, k -> new ArrayList<>());
        list.add(c);
        count++;
        log.debug("HTTP/2 tunnel connection to {} ({} on this loop)", endpoint, list.size());
        // last: a connection closed already (a busy machine, a peer's deadline) is removed at once, and
        // then nothing may look it up again (an exception here left the dial's promise pending)
        ch.closeFuture().addListener(x -> c.closed());
        if (!promise.trySuccess(c)) {
          c.maybeIdle();
        }
      });
    }

    void remove(Connection c) {
      List<Connection> list = connections.get(c.key);
      if (list != null && list.remove(c)) {
        count--;
        if (list.isEmpty()) {
          connections.remove(c.key);
        }
      }
    }

    void closeAll() {
      for (List<Connection> list : List.copyOf(connections.values())) {
        for (Connection c : List.copyOf(list)) {
          c.channel.close();
        }
      }
    }
  }

  /** One pooled HTTP/2 connection. Touched on its loop only. */
  private final class Connection {
    final LoopPool pool;
    final Key key;
    final Channel channel;
    final Http2FrameCodec codec;
    int streams;
    long opened;
    ScheduledFuture<?> idleTimer;

    Connection(LoopPool pool, Key key, Channel channel, Http2FrameCodec codec) {
      this.pool = pool;
      this.key = key;
      this.channel = channel;
      this.codec = codec;
    }

    boolean usable() {
      return channel.isActive() && !codec.connection().goAwayReceived() && !codec.connection().goAwaySent()
          && streams < codec.connection().local().maxActiveStreams() && opened < MAX_STREAMS_PER_CONNECTION;
    }

    void openStream(ConnectRequest request, long timeoutMillis, Promise<Channel> promise) {
      streams++;
      opened++;
      if (idleTimer != null) {
        idleTimer.cancel(false);
        idleTimer = null;
      }
      StreamDial dial = new StreamDial(this, request, promise);
      new Http2StreamChannelBootstrap(channel)
          .option(ChannelOption.AUTO_READ, false)
          .option(ChannelOption.RCVBUF_ALLOCATOR, H2Settings.STREAM_READS)
          .option(ChannelOption.WRITE_BUFFER_WATER_MARK, ChannelTuning.WATER_MARK)
          .handler(dial)
          .open()
          .addListener((Future<Http2StreamChannel> f) -> {
            if (!f.isSuccess()) {
              streamClosed();
              promise.tryFailure(new MultiplexFailure(new DialException(DialFailure.GENERAL, "upstream proxy " + key.endpoint()
                  + ": cannot open an HTTP/2 stream: " + f.cause().getMessage(), f.cause()), false, true));
              return;
            }
            Http2StreamChannel stream = f.getNow();
            stream.closeFuture().addListener(x -> streamClosed());
            if (promise.isDone()) {
              stream.close(); // the dial timed out meanwhile
              return;
            }
            ScheduledFuture<?> timer = stream.eventLoop().schedule(() -> {
              if (promise.tryFailure(new MultiplexFailure(new DialException(DialFailure.TIMEOUT, "upstream proxy "
                  + key.endpoint() + " did not answer CONNECT " + request.destination() + " within " + timeoutMillis
                  + " ms"), false, false))) {
                stream.close();
              }
            }, timeoutMillis, TimeUnit.MILLISECONDS);
            promise.addListener(x -> timer.cancel(false));
            stream.writeAndFlush(new DefaultHttp2HeadersFrame(connectHeaders(key.hop(), request), false));
            stream.read();
          });
    }

    void streamClosed() {
      streams--;
      maybeIdle();
    }

    void maybeIdle() {
      if (streams > 0 || !channel.isActive()) {
        return;
      }
      if (codec.connection().goAwayReceived()) {
        channel.close(); // no new streams will be accepted: nothing left to wait for
        return;
      }
      idleTimer = channel.eventLoop().schedule(() -> {
        if (streams == 0) {
          log.debug("HTTP/2 tunnel connection to {} idle, closing", key.endpoint());
          channel.close();
        }
      }, IDLE_CONNECTION.toMillis(), TimeUnit.MILLISECONDS);
    }

    void closed() {
      if (idleTimer != null) {
        idleTimer.cancel(false);
      }
      pool.remove(this);
    }
  }

  /** The CONNECT request headers of a stream. */
  private static Http2Headers connectHeaders(Hop hop, ConnectRequest request) {
    Destination dst = request.destination();
    String host = dst.host().indexOf(':') >= 0 ? "[" + dst.host() + "]" : dst.host();
    Http2Headers headers = new DefaultHttp2Headers().method("CONNECT").authority(host + ":" + dst.port());
    if (hop.forwardClientAddress()) {
      headers.set("forwarded", "for=\"" + NetUtil.toSocketAddressString(request.connection().client()) + "\"");
    }
    if (hop.credentials().isPresent()) {
      Credentials c = hop.credentials().get();
      headers.set("proxy-authorization", "Basic " + Base64.getEncoder().encodeToString(
          (c.username() + ":" + c.password()).getBytes(StandardCharsets.UTF_8)));
    }
    return headers;
  }

  /** Waits for the answer to a stream's CONNECT; on 200 makes the stream a byte stream and completes the dial. */
  private static final class StreamDial extends ChannelInboundHandlerAdapter {
    private final Connection connection;
    private final ConnectRequest request;
    private final Promise<Channel> promise;

    StreamDial(Connection connection, ConnectRequest request, Promise<Channel> promise) {
      this.connection = connection;
      this.request = request;
      this.promise = promise;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (!(msg instanceof Http2HeadersFrame headers)) {
        ReferenceCountUtil.release(msg);
        fail(ctx, new MultiplexFailure(new DialException(DialFailure.GENERAL, "upstream proxy " + connection.key.endpoint()
            + " sent data before answering CONNECT"), false, false));
        return;
      }
      CharSequence status = headers.headers().status();
      if (status != null && "200".contentEquals(status) && !headers.isEndStream()) {
        ctx.pipeline().addFirst(ConduitPipeline.H2_STREAM, new StreamAdapter(true));
        ctx.pipeline().addAfter(ConduitPipeline.H2_STREAM, ConduitPipeline.TRAFFIC, new TrafficCounter());
        ctx.pipeline().remove(this);
        if (!promise.trySuccess(ctx.channel())) {
          ctx.channel().close();
        }
        return;
      }
      CharSequence proxyStatus = headers.headers().get("proxy-status");
      DialFailure failure = proxyStatus == null ? null : DialErrors.ofProxyStatus(proxyStatus.toString());
      if (failure == null) {
        String s = String.valueOf(status);
        failure = switch (s) {
          case "403" -> DialFailure.NOT_ALLOWED;
          case "407" -> DialFailure.UPSTREAM_AUTH_FAILED;
          case "504" -> DialFailure.TIMEOUT;
          default -> DialFailure.GENERAL;
        };
      }
      String message = failure == DialFailure.UPSTREAM_AUTH_FAILED
          ? "upstream proxy " + connection.key.endpoint() + " refused our credentials"
          : "upstream proxy " + connection.key.endpoint() + " could not reach " + request.destination() + ": status: "
              + status + (proxyStatus == null ? "" : " (proxy-status: " + proxyStatus + ")");
      fail(ctx, new MultiplexFailure(new DialException(failure, message), false, false));
    }

    private void fail(ChannelHandlerContext ctx, MultiplexFailure failure) {
      promise.tryFailure(failure);
      ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      // reset by the server, or the connection went away: a new connection may do better
      promise.tryFailure(new MultiplexFailure(new DialException(DialFailure.GENERAL, "upstream proxy "
          + connection.key.endpoint() + " closed the stream before answering CONNECT " + request.destination()),
          false, true));
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      fail(ctx, new MultiplexFailure(new DialException(DialFailure.GENERAL, "upstream proxy " + connection.key.endpoint()
          + ": stream error: " + cause.getMessage(), cause), false, true));
    }
  }

  /** The client accepts no server-initiated streams (push is off); any that come are closed. */
  @io.netty.channel.ChannelHandler.Sharable
  private static final class NoPushedStreams extends ChannelInboundHandlerAdapter {
    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      ctx.close();
    }
  }

  /** Closes a pooled connection on an error nothing else handled. */
  private static final class LastResort extends ChannelInboundHandlerAdapter {
    private final Destination endpoint;

    LastResort(Destination endpoint) {
      this.endpoint = endpoint;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.debug("HTTP/2 tunnel connection to {}: {}", endpoint, cause.toString());
      ctx.close();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ReferenceCountUtil.release(msg);
    }
  }
}
