package dev.conduit.mitm;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.Destination;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.Upstream;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.ReadTimeoutHandler;
import io.netty.util.concurrent.Future;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends a client's request upstream for a {@link ProxyHandler}: over a pooled connection when one is
 * idle (idempotent requests only; sent again over a new one if it turns out dead), else over a
 * new, detached dial with TLS for {@code https}; the response goes to a {@link ResponseSink} through
 * an {@link UpstreamCall}.
 */
final class UpstreamFetcher {

  private static final Logger log = LoggerFactory.getLogger(UpstreamFetcher.class);
  private static final Set<HttpMethod> IDEMPOTENT = Set.of(HttpMethod.GET, HttpMethod.HEAD,
      HttpMethod.OPTIONS, HttpMethod.PUT, HttpMethod.DELETE, HttpMethod.TRACE);

  private final ProxyHandler handler;

  UpstreamFetcher(ProxyHandler handler) {
    this.handler = handler;
  }

  /** Sends {@code r.request()} (released) upstream. */
  void fetch(ProxiedRequest r, ResponseSink sink) {
    fetch(r.scheme(), r.host(), r.port(), r.request(), sink);
  }

  /** Sends {@code request} (owned) to {@code scheme://host:port}. */
  void fetch(String scheme, String host, int port, FullHttpRequest request, ResponseSink sink) {
    InboundContext context = handler.context();
    UpstreamPool.Key key = new UpstreamPool.Key(scheme, HostSet.normalise(host), port,
        context.connection().listener(), context.connection().client().getAddress());
    UpstreamPool pool = handler.proxy().pool();
    if (pool.enabled() && IDEMPOTENT.contains(request.method())) {
      // a connection dialed under rules since replaced (a reload) is closed, not reused: the rules in force route
      Upstream pooled = pool.poll(handler.ctx().channel().eventLoop(), key, context::isRoutedUnderCurrentRules);
      if (pooled != null) {
        // a dead pooled connection is only found out by using it: then the request goes once more, freshly dialed
        send(pooled, request, sink, key, () -> dial(scheme, host, port, request, sink, key));
        return;
      }
    }
    dial(scheme, host, port, request, sink, key);
  }

  private void dial(String scheme, String host, int port, FullHttpRequest request, ResponseSink sink,
      UpstreamPool.Key key) {
    Destination d = Destination.of(host, port);
    ConnectRequest cr = ConnectRequest.of(handler.context().connection(), d);
    // detached: the connection may outlive this client (a shared cache download, or kept for reuse);
    // channelInactive ends a call its client no longer wants
    Future<Upstream> dial = handler.context().connectDetached(cr);
    dial.addListener((Future<Upstream> f) -> {
      if (!f.isSuccess()) {
        request.release();
        sink.failed(ProxyHandler.dialStatus(f.cause()), "cannot reach " + d + ": " + f.cause().getMessage());
        return;
      }
      Upstream upstream = f.getNow();
      Channel up = upstream.channel();
      if (scheme.equals("https")) {
        SslHandler ssl = handler.proxy().upstreamContext().newHandler(up.alloc(), host, port);
        up.pipeline().addLast(ConduitPipeline.MITM_UPSTREAM_TLS, ssl);
        up.pipeline().addLast(ConduitPipeline.MITM_UPSTREAM_GUARD, new ChannelInboundHandlerAdapter() {
          @Override
          public void exceptionCaught(ChannelHandlerContext c, Throwable cause) {
            // a handshake failure is reported through the handshake future; later ones close the call
            log.debug("[{}] upstream {} failed: {}", handler.id(), d, cause.toString());
            c.close();
          }
        });
        ssl.handshakeFuture().addListener(hs -> {
          if (!hs.isSuccess()) {
            request.release();
            up.close();
            String reason = ProxyHandler.rootMessage(hs.cause());
            String why = reason.contains("PKIX")
                ? "upstream certificate of " + d + " is not trusted: " + reason
                : "upstream TLS handshake with " + d + " failed: " + reason;
            log.warn("[{}] {}", handler.id(), why);
            sink.failed(502, why);
          } else {
            send(upstream, request, sink, key, null);
          }
        });
        up.read();
      } else {
        send(upstream, request, sink, key, null);
      }
    });
  }

  /**
   * Sends {@code request} (owned) over {@code upstream}; {@code retry}, for a pooled connection, sends
   * it again over a new one when the connection fails before the response starts.
   */
  private void send(Upstream upstream, FullHttpRequest request, ResponseSink sink, UpstreamPool.Key key,
      Runnable retry) {
    Channel up = upstream.channel();
    UpstreamCall call = new UpstreamCall(handler, upstream, sink, key, retry != null ? request : null, retry);
    if (!sink.fillsCache()) {
      handler.callStarted(call);
    }
    ChannelPipeline p = up.pipeline();
    if (p.get(ConduitPipeline.MITM_UPSTREAM_CODEC) == null) {
      // a stalled origin must not hold a (possibly shared) download forever
      p.addLast(ConduitPipeline.MITM_UPSTREAM_TIMEOUT,
          new ReadTimeoutHandler(handler.context().timeouts().relayIdle().toMillis(), TimeUnit.MILLISECONDS));
      p.addLast(ConduitPipeline.MITM_UPSTREAM_CODEC, new HttpClientCodec());
    }
    p.addLast(ConduitPipeline.MITM_UPSTREAM, call);
    up.writeAndFlush(retry != null ? request.retainedDuplicate() : request).addListener(w -> {
      if (!w.isSuccess()) {
        call.fail(502, "upstream write failed: " + w.cause().getMessage());
      }
    });
    up.read();
  }
}
