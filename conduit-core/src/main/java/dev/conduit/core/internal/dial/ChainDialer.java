package dev.conduit.core.internal.dial;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.ConnectRequest;
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
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoop;
import io.netty.handler.proxy.ProxyHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Dials directly (resolving names with the asynchronous resolver and trying each address) or
 * through a chain of hops, stacking one TLS and one proxy handler per hop in a single pipeline, as
 * Netty's own proxy tests chain proxies. The whole dial is bounded by one deadline.
 */
public final class ChainDialer implements Dialer {
  private static final Logger log = LoggerFactory.getLogger(ChainDialer.class);

  /** Built with the dialer, not on an event loop at the first dial: building a TLS context takes a while. */
  private static final SslContext DEFAULT_CLIENT_TLS = defaultClientTls();

  private final ConduitResources resources;
  private final Duration dialTimeout;
  private final DialSockets sockets;
  private final EndpointBackoff health = new EndpointBackoff();
  private final Multiplexer multiplexer;

  /**
   * A dialer on {@code resources}' event loops; multiplexed hops are reached through {@code multiplexer}, which
   * this dialer closes with itself.
   */
  public ChainDialer(ConduitResources resources, Duration dialTimeout, TcpKeepAlive keepAlive, SocketCustomizer customizer,
      Multiplexer multiplexer) {
    this.resources = resources;
    this.dialTimeout = dialTimeout;
    this.sockets = new DialSockets(resources, keepAlive, customizer);
    this.multiplexer = requireNonNull(multiplexer, "multiplexer");
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
      ChannelFuture cf = sockets.connectDirect(address, loop, request.connection().id(), this::remainingMillis);
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
        handlers.add(new HopHandlers(hops.get(i), chosen.get(i), i, i == 0 ? firstAddress : null, request,
            remainingMillis(), DEFAULT_CLIENT_TLS));
      }
      SocketAddress target = request.destination().toUnresolvedAddress();
      Bootstrap b = sockets.chain(loop, handlers, firstAddress, request.connection().id(), this::remainingMillis);
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
      ChainFailure judged = ChainFailure.judge(handlers, chosen, cause, request.destination(), health);
      DialException error = judged.error();
      boolean retry = judged.retry();
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
  }
}
