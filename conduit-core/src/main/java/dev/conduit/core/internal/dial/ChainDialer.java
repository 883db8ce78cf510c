package dev.conduit.core.internal.dial;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.internal.transport.ChannelTuning;
import dev.conduit.core.internal.transport.TrafficCounter;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.Credentials;
import dev.conduit.core.Destination;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import dev.conduit.core.TcpKeepAlive;
import dev.conduit.core.outbound.Dialer;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.outbound.SocketCustomizer;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultChannelPromise;
import io.netty.channel.ReflectiveChannelFactory;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.proxy.HttpProxyHandler;
import io.netty.handler.proxy.ProxyConnectException;
import io.netty.handler.proxy.ProxyHandler;
import io.netty.handler.proxy.Socks5ProxyHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.resolver.NoopAddressResolverGroup;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Dials directly (resolving names with the asynchronous resolver and trying each address) or
 * through a chain of hops, stacking one TLS and one proxy handler per hop in a single pipeline, as
 * Netty's own proxy tests chain proxies. The whole dial is bounded by one deadline.
 */
public final class ChainDialer implements Dialer {
  private static final Logger log = LoggerFactory.getLogger(ChainDialer.class);

  private static final SslContext DEFAULT_CLIENT_TLS = defaultClientTls();

  private final ConduitResources resources;
  private final Duration dialTimeout;
  private final TcpKeepAlive keepAlive;
  private final SocketCustomizer customizer;
  private final EndpointBackoff health = new EndpointBackoff();
  private final Multiplexer multiplexer;
  private final ChannelFactory<? extends Channel> socketChannels;

  /**
   * A dialer on {@code resources}' event loops; multiplexed hops are reached through {@code multiplexer}, which
   * this dialer closes with itself.
   */
  public ChainDialer(ConduitResources resources, Duration dialTimeout, TcpKeepAlive keepAlive, SocketCustomizer customizer,
      Multiplexer multiplexer) {
    this.resources = resources;
    this.dialTimeout = dialTimeout;
    this.keepAlive = keepAlive;
    this.customizer = customizer;
    this.multiplexer = requireNonNull(multiplexer, "multiplexer");
    this.socketChannels = new ReflectiveChannelFactory<>(resources.socketChannelType());
  }

  /** How multiplexed hops are reached (their pooled connections). */
  public Multiplexer multiplexer() {
    return multiplexer;
  }

  /** Closes pooled connections (at stop). */
  public void close() {
    multiplexer.close();
  }

  private static SslContext defaultClientTls() {
    try {
      return SslContextBuilder.forClient().build();
    } catch (SSLException e) {
      throw new IllegalStateException("cannot create the default TLS client context", e);
    }
  }

  /** The endpoints' passive health. */
  public EndpointBackoff health() {
    return health;
  }

  @Override
  public Future<Channel> dial(ConnectRequest request, Outbound outbound, EventLoop loop) {
    Promise<Channel> promise = loop.newPromise();
    Attempt attempt = new Attempt(request, outbound, loop, promise);
    if (loop.inEventLoop()) {
      attempt.start();
    } else {
      loop.execute(attempt::start);
    }
    return promise;
  }

  /** One dial, across resolution, addresses and endpoints, under one deadline. */
  private final class Attempt {
    private final ConnectRequest request;
    private final Outbound outbound;
    private final EventLoop loop;
    private final Promise<Channel> promise;
    private final long deadlineNanos;
    private ScheduledFuture<?> timer;
    private Channel current;
    private DialException lastError;
    private int attemptsLeft;

    Attempt(ConnectRequest request, Outbound outbound, EventLoop loop, Promise<Channel> promise) {
      this.request = request;
      this.outbound = outbound;
      this.loop = loop;
      this.promise = promise;
      this.deadlineNanos = System.nanoTime() + dialTimeout.toNanos();
    }

    void start() {
      timer = loop.schedule(() -> fail(new DialException(DialFailure.TIMEOUT,
          "dial " + request.destination() + " timed out after " + dialTimeout.toMillis() + " ms")),
          dialTimeout.toNanos(), TimeUnit.NANOSECONDS);
      promise.addListener(f -> {
        timer.cancel(false);
        if (!f.isSuccess() && current != null) {
          current.close();
        }
      });
      if (outbound.isDirect()) {
        dialDirect();
      } else if (outbound.hops().get(0).multiplex()) {
        // one more than the endpoints: a pooled connection that died under the first stream costs one attempt
        attemptsLeft = outbound.hops().get(0).endpoints().size() + 1;
        dialMultiplexed();
      } else {
        attemptsLeft = outbound.hops().stream().mapToInt(h -> h.endpoints().size()).sum();
        dialChain();
      }
    }

    private long remainingMillis() {
      return Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime()));
    }

    private void fail(DialException e) {
      promise.tryFailure(e);
    }

    // ---- direct

    private void dialDirect() {
      Destination dst = request.destination();
      if (dst.isIpLiteral()) {
        connectAddresses(List.of(new InetSocketAddress(dst.ipAddress(), dst.port())), 0);
        return;
      }
      if (isReservedInvalid(dst.host())) {
        fail(new DialException(DialFailure.HOST_UNREACHABLE,
            "cannot resolve " + dst.host() + ": names under .invalid never resolve (RFC 6761)"));
        return;
      }
      resources.resolver().getResolver(loop)
          .resolveAll(InetSocketAddress.createUnresolved(dst.host(), dst.port()))
          .addListener((Future<List<InetSocketAddress>> f) -> {
            if (promise.isDone()) {
              return;
            }
            if (!f.isSuccess() || f.getNow().isEmpty()) {
              Throwable c = f.cause();
              fail(new DialException(DialFailure.HOST_UNREACHABLE,
                  "cannot resolve " + dst.host() + (c != null ? ": " + c.getMessage() : ""), c));
              return;
            }
            connectAddresses(f.getNow(), 0);
          });
    }

    private void connectAddresses(List<InetSocketAddress> addresses, int index) {
      if (promise.isDone()) {
        return;
      }
      InetSocketAddress address = addresses.get(index);
      ChannelFuture cf = connectDirect(address);
      current = cf.channel();
      cf.addListener((ChannelFuture f) -> {
        if (f.isSuccess()) {
          succeed(f.channel());
          return;
        }
        f.channel().close();
        DialFailure failure = DialErrors.ofConnect(f.cause(), address);
        DialException e = new DialException(failure, "connect " + request.destination() + " ("
            + NetUtil.toSocketAddressString(address) + "): " + DialErrors.connectReason(f.cause(), failure), f.cause());
        if (index + 1 < addresses.size() && e.failure() != DialFailure.TIMEOUT) {
          log.debug("[{}] {}; trying next address", request.connection().id(), e.getMessage());
          connectAddresses(addresses, index + 1);
        } else {
          fail(e);
        }
      });
    }

    // ---- multiplexed (HTTP/2 streams over pooled connections; the outbound's only hop)

    private void dialMultiplexed() {
      if (promise.isDone()) {
        return;
      }
      Hop hop = outbound.hops().get(0);
      Destination endpoint = health.order(hop.endpoints()).get(0);
      log.debug("[{}] dialing {} via {} (HTTP/2 stream to {})", request.connection().id(), request.destination(),
          outbound.name(), endpoint);
      multiplexer.open(hop, endpoint, request, loop, remainingMillis()).addListener((Future<Channel> f) -> {
        if (f.isSuccess()) {
          health.succeeded(endpoint);
          succeed(f.getNow());
          return;
        }
        if (promise.isDone()) {
          return;
        }
        if (!(f.cause() instanceof MultiplexFailure failure)) {
          fail(DialErrors.wrap(f.cause(), "dial " + request.destination() + " via " + endpoint));
          return;
        }
        if (failure.endpointFailed()) {
          health.failed(endpoint);
        }
        lastError = failure.error();
        attemptsLeft--;
        if (failure.retry() && attemptsLeft > 0 && System.nanoTime() < deadlineNanos) {
          log.debug("[{}] {}; trying again", request.connection().id(), failure.getMessage());
          dialMultiplexed();
        } else {
          fail(lastError);
        }
      });
    }

    // ---- chain

    private void dialChain() {
      if (promise.isDone()) {
        return;
      }
      List<Hop> hops = outbound.hops();
      List<Destination> chosen = new ArrayList<>(hops.size());
      for (Hop hop : hops) {
        chosen.add(health.order(hop.endpoints()).get(0));
      }
      Destination first = chosen.get(0);
      if (first.isIpLiteral()) {
        connectChain(chosen, new InetSocketAddress(first.ipAddress(), first.port()));
        return;
      }
      if (isReservedInvalid(first.host())) {
        fail(new DialException(DialFailure.HOST_UNREACHABLE,
            "cannot resolve upstream proxy " + first.host() + ": names under .invalid never resolve (RFC 6761)"));
        return;
      }
      // resolve the first hop's name without blocking the event loop
      resources.resolver().getResolver(loop)
          .resolve(InetSocketAddress.createUnresolved(first.host(), first.port()))
          .addListener((Future<InetSocketAddress> f) -> {
            if (promise.isDone()) {
              return;
            }
            if (f.isSuccess()) {
              connectChain(chosen, f.getNow());
            } else {
              health.failed(first);
              lastError = new DialException(DialFailure.HOST_UNREACHABLE,
                  "cannot resolve upstream proxy " + first.host() + ": " + f.cause().getMessage(), f.cause());
              attemptsLeft--;
              if (attemptsLeft > 0 && anyAlternative()) {
                dialChain();
              } else {
                fail(lastError);
              }
            }
          });
    }

    private void connectChain(List<Destination> chosen, InetSocketAddress firstAddress) {
      List<Hop> hops = outbound.hops();
      Destination first = chosen.get(0);
      List<HopHandlers> handlers = new ArrayList<>();
      for (int i = 0; i < hops.size(); i++) {
        handlers.add(new HopHandlers(hops.get(i), chosen.get(i), i, i == 0 ? firstAddress : null));
      }
      SocketAddress target = request.destination().toUnresolvedAddress();
      Bootstrap b = bootstrap(handlers, firstAddress);
      ChannelFuture cf = b.connect(target);
      current = cf.channel();
      // the connect future and the last hop's handshake can both report one failure: handle it once
      boolean[] handled = new boolean[1];
      cf.addListener((ChannelFuture f) -> {
        if (!f.isSuccess() && !handled[0]) {
          // the TCP connect to the first hop failed, or a hop handler failed early
          handled[0] = true;
          onChainFailure(handlers, chosen, f.cause());
        }
      });
      ProxyHandler last = handlers.get(handlers.size() - 1).proxy;
      last.connectFuture().addListener(f -> {
        if (handled[0]) {
          return;
        }
        handled[0] = true;
        if (f.isSuccess()) {
          for (int i = 0; i < chosen.size(); i++) {
            health.succeeded(chosen.get(i));
          }
          succeed(cf.channel());
        } else {
          onChainFailure(handlers, chosen, f.cause());
        }
      });
      log.debug("[{}] dialing {} via {} (first hop {})", request.connection().id(), request.destination(),
          outbound.name(), first);
    }

    private void onChainFailure(List<HopHandlers> handlers, List<Destination> chosen, Throwable cause) {
      if (promise.isDone()) {
        return;
      }
      if (current != null) {
        current.close();
      }
      // the first hop whose step failed is the culprit; later hops fail as a consequence
      int culprit = -1;
      Throwable reason = cause;
      for (HopHandlers h : handlers) {
        Throwable c = h.failure();
        if (c != null) {
          culprit = h.index;
          reason = c;
          break;
        }
      }
      DialException error;
      boolean retry;
      if (culprit < 0) {
        // TCP connect to the first hop failed
        health.failed(chosen.get(0));
        error = new DialException(DialErrors.ofConnect(cause),
            "upstream proxy " + chosen.get(0) + " unreachable: " + cause.getMessage(), cause);
        retry = true;
      } else if (reason instanceof ProxyConnectException pce && DialErrors.isAuthFailure(pce)) {
        error = new DialException(DialFailure.UPSTREAM_AUTH_FAILED,
            "upstream proxy " + chosen.get(culprit) + " refused our credentials", pce);
        retry = false;
      } else if (reason instanceof ProxyConnectException pce && DialErrors.ofProxyReply(pce) != null) {
        DialFailure failure = DialErrors.ofProxyReply(pce);
        boolean lastHop = culprit == handlers.size() - 1;
        if (lastHop) {
          error = new DialException(failure, "upstream proxy " + chosen.get(culprit) + " could not reach "
              + request.destination() + ": " + pce.getMessage(), pce);
          retry = false;
        } else {
          // the hop could not reach the next hop's endpoint
          health.failed(chosen.get(culprit + 1));
          error = new DialException(failure, "hop " + chosen.get(culprit) + " could not reach hop "
              + chosen.get(culprit + 1) + ": " + pce.getMessage(), pce);
          retry = true;
        }
      } else if (reason instanceof SSLException || reason.getCause() instanceof SSLException) {
        health.failed(chosen.get(culprit));
        error = new DialException(DialFailure.GENERAL, "TLS handshake with upstream proxy " + chosen.get(culprit)
            + " failed: " + DialErrors.describe(reason), reason);
        retry = true;
      } else {
        health.failed(chosen.get(culprit));
        DialFailure f = reason instanceof ProxyConnectException && String.valueOf(reason.getMessage()).contains("timeout")
            ? DialFailure.TIMEOUT : DialFailure.GENERAL;
        error = new DialException(f, "upstream proxy " + chosen.get(culprit) + " failed: " + reason.getMessage(), reason);
        retry = true;
      }
      lastError = error;
      attemptsLeft--;
      if (retry && attemptsLeft > 0 && System.nanoTime() < deadlineNanos && anyAlternative()) {
        log.debug("[{}] {}; failing over", request.connection().id(), error.getMessage());
        dialChain();
      } else {
        fail(lastError);
      }
    }

    private static boolean isReservedInvalid(String host) {
      String h = host.toLowerCase(java.util.Locale.ROOT);
      if (h.endsWith(".")) {
        h = h.substring(0, h.length() - 1);
      }
      return h.equals("invalid") || h.endsWith(".invalid");
    }

    private boolean anyAlternative() {
      for (Hop hop : outbound.hops()) {
        if (hop.endpoints().size() > 1) {
          return true;
        }
      }
      return false;
    }

    private void succeed(Channel ch) {
      if (!promise.trySuccess(ch)) {
        ch.close();
        return;
      }
      ChannelPipeline p = ch.pipeline();
      if (p.get(ConduitPipeline.DIAL_GUARD) != null) {
        p.remove(ConduitPipeline.DIAL_GUARD);
      }
    }

    /**
     * Opens a plain TCP connection without a {@link Bootstrap}. Direct dials are the common case, and a
     * bootstrap per dial costs its option maps, an initializer added and removed, and a task for the
     * connect: about 1 KiB of garbage per dial, which shows in the memory of many tunnels opened at once.
     * Same socket options and handlers as {@link #bootstrap}.
     */
    private ChannelFuture connectDirect(InetSocketAddress address) {
      Channel ch = newSocketChannel(address);
      ChannelPromise connected = new DefaultChannelPromise(ch, loop);
      try {
        applyOptions(ch);
      } catch (RuntimeException e) {
        ch.unsafe().closeForcibly();
        return connected.setFailure(e);
      }
      loop.register(ch).addListener((ChannelFuture registered) -> {
        if (!registered.isSuccess()) {
          ch.unsafe().closeForcibly();
          connected.tryFailure(registered.cause());
          return;
        }
        try {
          customizer.customize(ch);
        } catch (Exception | LinkageError e) {
          ch.close();
          connected.tryFailure(e);
          return;
        }
        ch.pipeline().addLast(ConduitPipeline.TRAFFIC, new TrafficCounter())
            .addLast(ConduitPipeline.DIAL_GUARD, new DialGuard(request.connection().id()));
        ch.connect(address, connected);
      });
      return connected;
    }

    /** An IPv4 address gets an IPv4 socket on epoll (no dual-stack socket's extra syscalls). */
    private Channel newSocketChannel(InetSocketAddress address) {
      if (resources.isNativeTransport() && address != null && !address.isUnresolved()
          && address.getAddress() instanceof Inet4Address) {
        return new EpollSocketChannel(SocketProtocolFamily.INET);
      }
      return socketChannels.newChannel();
    }

    private void applyOptions(Channel ch) {
      ChannelConfig c = ch.config();
      c.setConnectTimeoutMillis((int) Math.min(Integer.MAX_VALUE, remainingMillis()));
      c.setAutoRead(false);
      // TCP_NODELAY: Netty's socket channels set it by default (one setsockopt saved per dial)
      c.setWriteBufferWaterMark(ChannelTuning.WATER_MARK);
      c.setRecvByteBufAllocator(ChannelTuning.READ_SIZES);
      ChannelTuning.applyKeepAlive(ch, keepAlive);
    }

    /**
     * A bootstrap for a chain of hops: TCP to the first hop, then each hop's TLS and proxy handshake.
     *
     * @param firstAddress where the socket connects (see {@link #newSocketChannel})
     */
    private Bootstrap bootstrap(List<HopHandlers> hops, InetSocketAddress firstAddress) {
      return new Bootstrap()
          .group(loop)
          .channelFactory(() -> newSocketChannel(firstAddress))
          .resolver(NoopAddressResolverGroup.INSTANCE)
          .handler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) throws Exception {
              applyOptions(ch);
              customizer.customize(ch);
              ChannelPipeline p = ch.pipeline();
              p.addLast(ConduitPipeline.TRAFFIC, new TrafficCounter());
              for (HopHandlers h : hops) {
                if (h.tls != null) {
                  p.addLast(ConduitPipeline.HOP_TLS_PREFIX + h.index, h.tls);
                }
                p.addLast(ConduitPipeline.HOP_PROXY_PREFIX + h.index, h.proxy);
              }
              p.addLast(ConduitPipeline.DIAL_GUARD, new DialGuard(request.connection().id()));
            }
          });
    }

    /** The TLS and proxy handlers of one hop in one attempt. */
    private final class HopHandlers {
      final int index;
      final SslHandler tls;
      final ProxyHandler proxy;

      HopHandlers(Hop hop, Destination endpoint, int index, InetSocketAddress resolved) {
        this.index = index;
        InetSocketAddress address = endpoint.toUnresolvedAddress();
        if (hop.tls()) {
          SslContext ctx = hop.sslContext().orElse(DEFAULT_CLIENT_TLS);
          String sni = hop.tlsServerName().orElse(endpoint.host());
          SslHandler ssl = ctx.newHandler(io.netty.buffer.ByteBufAllocator.DEFAULT, sni, endpoint.port());
          SSLParameters params = ssl.engine().getSSLParameters();
          params.setEndpointIdentificationAlgorithm("HTTPS");
          ssl.engine().setSSLParameters(params);
          ssl.setHandshakeTimeoutMillis(remainingMillis());
          this.tls = ssl;
        } else {
          this.tls = null;
        }
        // a proxy address that is a name must be resolved for the first hop only (we connect to it);
        // later hops are reached through the previous hop, which resolves them
        SocketAddress proxyAddress = resolved != null ? resolved : address;
        Credentials c = hop.credentials().orElse(null);
        ProxyHandler p;
        if (hop.protocol() == Hop.Protocol.HTTP) {
          HttpHeaders headers = new DefaultHttpHeaders();
          if (hop.forwardClientAddress()) {
            InetSocketAddress client = request.connection().client();
            headers.set("Forwarded", "for=\"" + NetUtil.toSocketAddressString(client) + "\"");
          }
          p = c == null ? new HttpProxyHandler(proxyAddress, headers)
              : new HttpProxyHandler(proxyAddress, c.username(), c.password(), headers);
        } else {
          p = c == null ? new Socks5ProxyHandler(proxyAddress)
              : new Socks5ProxyHandler(proxyAddress, c.username(), c.password());
        }
        p.setConnectTimeoutMillis(remainingMillis());
        this.proxy = p;
      }

      Throwable failure() {
        if (tls != null && tls.handshakeFuture().isDone() && !tls.handshakeFuture().isSuccess()) {
          return tls.handshakeFuture().cause();
        }
        if (proxy.connectFuture().isDone() && !proxy.connectFuture().isSuccess()) {
          Throwable c = proxy.connectFuture().cause();
          // a hop whose only problem is that the channel closed under it is a consequence, not a cause
          if (c instanceof ProxyConnectException && String.valueOf(c.getMessage()).contains("disconnected")
              && index > 0) {
            return null;
          }
          return c;
        }
        return null;
      }
    }
  }

  /** Swallows errors raised while dialing (the dial's future reports them); removed on success. */
  private static final class DialGuard extends ChannelInboundHandlerAdapter {
    private final String id;

    DialGuard(String id) {
      this.id = id;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.debug("[{}] dial error: {}", id, cause.toString());
      ctx.close();
    }

    @Override
    public boolean isSharable() {
      return false;
    }
  }

}
