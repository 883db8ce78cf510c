package dev.conduit.core.tunnel;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Conduit;
import dev.conduit.core.Destination;
import dev.conduit.core.outbound.EndpointHealth;
import dev.conduit.core.outbound.Hop;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLParameters;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Active health check of a tunnel hop's endpoints ({@code check_time} in the configuration): every interval it
 * opens a connection to each endpoint, completes the TLS handshake when the hop uses TLS, and closes it;
 * an endpoint that fails is marked down in the conduit's dialer (skipped by new tunnels while other
 * endpoints answer) and one that answers is marked up (used again at once, in its configured order). Its
 * sockets carry the conduit's {@linkplain Conduit#outboundSocketCustomizer() outbound socket options}, as the
 * conduit's own dials do.
 * A zero interval disables checking.
 */
public final class TunnelHealthChecker implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TunnelHealthChecker.class);

  private final Conduit conduit;
  private final Hop hop;
  private final Duration timeout;
  private final EndpointHealth health;
  private final ScheduledFuture<?> task;

  private TunnelHealthChecker(Conduit conduit, Hop hop, Duration interval, Duration timeout) {
    this.conduit = conduit;
    this.hop = hop;
    this.timeout = timeout;
    this.health = conduit.endpointHealth();
    if (interval.isZero()) {
      this.task = null;
    } else {
      long nanos = interval.toNanos();
      this.task = conduit.resources().eventLoopGroup().next()
          .scheduleAtFixedRate(this::checkQuietly, nanos, nanos, TimeUnit.NANOSECONDS);
    }
  }

  /**
   * Starts checking {@code hop}'s endpoints on {@code conduit}'s event loops every {@code interval}
   * (zero: never; {@link #checkNow()} still works), each check bounded by {@code timeout}.
   */
  public static TunnelHealthChecker start(Conduit conduit, Hop hop, Duration interval, Duration timeout) {
    requireNonNull(conduit, "conduit");
    requireNonNull(hop, "hop");
    requireNonNull(interval, "interval");
    requireNonNull(timeout, "timeout");
    if (interval.isNegative()) {
      throw new IllegalArgumentException("interval: " + interval + " (expected: >= 0, 0 disables)");
    }
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout: " + timeout + " (expected: > 0)");
    }
    return new TunnelHealthChecker(conduit, hop, interval, timeout);
  }

  /** Whether periodic checks are running. */
  public boolean isPeriodic() {
    return task != null;
  }

  private void checkQuietly() {
    try {
      checkNow();
    } catch (RuntimeException e) {
      log.warn("tunnel health check failed to run", e);
    }
  }

  /** Checks every endpoint now; completes with each endpoint's result (true: up). */
  public CompletableFuture<Map<Destination, Boolean>> checkNow() {
    List<Destination> endpoints = hop.endpoints();
    Map<Destination, Boolean> results = new LinkedHashMap<>();
    CompletableFuture<Map<Destination, Boolean>> all = new CompletableFuture<>();
    AtomicInteger left = new AtomicInteger(endpoints.size());
    for (Destination endpoint : endpoints) {
      check(endpoint).whenComplete((up, e) -> {
        boolean ok = up != null && up;
        synchronized (results) {
          results.put(endpoint, ok);
        }
        if (left.decrementAndGet() == 0) {
          synchronized (results) {
            all.complete(Map.copyOf(results));
          }
        }
      });
    }
    return all;
  }

  private CompletableFuture<Boolean> check(Destination endpoint) {
    CompletableFuture<Boolean> result = new CompletableFuture<>();
    EventLoop loop = conduit.resources().eventLoopGroup().next();
    SslHandler[] ssl = new SslHandler[1];
    if (hop.tls()) {
      SslContext ctx = hop.sslContext().orElse(null);
      if (ctx == null) {
        result.complete(true); // a public-CA TLS hop: nothing of ours to check beyond TCP
      } else {
        SslHandler h = ctx.newHandler(io.netty.buffer.ByteBufAllocator.DEFAULT,
            hop.tlsServerName().orElse(endpoint.host()), endpoint.port());
        SSLParameters params = h.engine().getSSLParameters();
        params.setEndpointIdentificationAlgorithm("HTTPS");
        h.engine().setSSLParameters(params);
        h.setHandshakeTimeoutMillis(timeout.toMillis());
        ssl[0] = h;
      }
    }
    if (result.isDone()) {
      return result;
    }
    Bootstrap b = new Bootstrap().group(loop)
        .channel(conduit.resources().socketChannelType())
        .resolver(conduit.resources().resolver())
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()))
        .handler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) throws java.io.IOException {
            // conduit's own socket: a check of a captured address is not taken back to conduit (bypass mark)
            conduit.outboundSocketCustomizer().customize(ch);
            if (ssl[0] != null) {
              ch.pipeline().addLast(ssl[0]);
            }
            ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
              @Override
              public void exceptionCaught(io.netty.channel.ChannelHandlerContext ctx, Throwable cause) {
                ctx.close(); // reported through the handshake or connect future
              }
            });
          }
        });
    ChannelFuture cf = b.connect(endpoint.toUnresolvedAddress());
    cf.addListener((ChannelFuture f) -> {
      if (!f.isSuccess()) {
        record(endpoint, false, f.cause(), result);
        f.channel().close();
      } else if (ssl[0] == null) {
        record(endpoint, true, null, result);
        f.channel().close();
      } else {
        ssl[0].handshakeFuture().addListener((Future<Channel> h) -> {
          record(endpoint, h.isSuccess(), h.cause(), result);
          f.channel().close();
        });
      }
    });
    return result;
  }

  private void record(Destination endpoint, boolean up, Throwable cause, CompletableFuture<Boolean> result) {
    boolean wasDown = health.isBackedOff(endpoint);
    if (up) {
      health.succeeded(endpoint);
      if (wasDown) {
        log.info("tunnel peer {} is up again", endpoint);
      }
    } else {
      health.failed(endpoint);
      if (!wasDown) {
        log.warn("tunnel peer {} is down: {}", endpoint, cause == null ? "?" : cause.toString());
      }
    }
    result.complete(up);
  }

  /** Stops periodic checks. */
  @Override
  public void close() {
    if (task != null) {
      task.cancel(false);
    }
  }

  @Override
  public String toString() {
    return "TunnelHealthChecker[" + hop + (task == null ? ", disabled" : "") + "]";
  }
}
