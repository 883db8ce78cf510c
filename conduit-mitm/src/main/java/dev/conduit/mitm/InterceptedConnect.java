package dev.conduit.mitm;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.Destination;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.internal.proxy.ProxyHttp;
import dev.conduit.core.observe.Outcome;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@code CONNECT} on a {@link ProxyHandler}'s connection: to a host the proxy intercepts, the
 * tunnel is answered here and TLS is terminated with a leaf for the SNI name (or the CONNECT host),
 * decrypted requests then reach the handler; to any other host it becomes a blind relay. While conduit
 * is {@linkplain InboundContext#overloaded() overloaded} nothing is intercepted: such a CONNECT gets the
 * busy reply ({@code 503}, {@code Retry-After}, {@code Proxy-Status}).
 */
final class InterceptedConnect {

  private static final Logger log = LoggerFactory.getLogger(InterceptedConnect.class);

  private InterceptedConnect() {
  }

  /** Answers {@code CONNECT target} on {@code handler}'s connection. */
  static void connect(ProxyHandler handler, String target) {
    InboundContext context = handler.context();
    if (handler.tunnelHost() != null) {
      handler.sendError(400, "CONNECT inside an intercepted tunnel is not supported", true);
      return;
    }
    Destination d;
    try {
      d = Destination.parse(target, 443);
    } catch (IllegalArgumentException e) {
      context.outcome(Outcome.PROTOCOL_ERROR, "bad CONNECT target " + target);
      handler.sendError(400, "bad CONNECT target: " + e.getMessage(), true);
      return;
    }
    ChannelHandlerContext ctx = handler.ctx();
    ChannelPipeline p = ctx.pipeline();
    MitmProxy proxy = handler.proxy();
    if (proxy.intercepts(d.host()) && context.overloaded()) {
      // interception holds TLS state, a leaf and cache buffers per connection: refused while overloaded
      context.outcome(Outcome.REJECTED, "overloaded: CONNECT " + d + " not intercepted");
      handler.sendOverloaded("conduit is overloaded; CONNECT " + d + " refused, try again later");
      return;
    }
    if (proxy.intercepts(d.host())) {
      String connectHost = d.host();
      p.remove(ProxyHandler.AGGREGATOR);
      p.remove(ProxyHandler.CHUNKED);
      p.addBefore(ProxyHandler.SELF, ConduitPipeline.MITM_SNI, new SniHandler((String sni, Promise<SslContext> promise) -> {
        proxy.leaves().contextFor(sni != null ? sni : connectHost, promise);
        return promise;
      }));
      p.addBefore(ProxyHandler.SELF, ConduitPipeline.MITM_TLS_CODEC, new HttpServerCodec());
      p.addBefore(ProxyHandler.SELF, ConduitPipeline.MITM_TLS_CHUNKED, new ChunkedWriteHandler());
      p.addBefore(ProxyHandler.SELF, ConduitPipeline.MITM_TLS_AGGREGATOR, new HttpObjectAggregator(proxy.maxRequestBodyBytes()));
      p.context(ProxyHandler.CODEC).writeAndFlush(ProxyHttp.connectEstablished());
      p.remove(ProxyHandler.CODEC); // bytes it still held (an early ClientHello) flow on to the SNI handler
      log.debug("[{}] intercepting CONNECT {}", handler.id(), d);
      handler.intercepted(d.host(), d.port()); // the CONNECT is answered; decrypted requests follow
      ctx.read();
      return;
    }
    context.connect(ConnectRequest.of(context.connection(), d)).addListener((Future<Upstream> f) -> {
      if (!f.isSuccess()) {
        if (f.cause() instanceof DialException e && e.failure() == DialFailure.OVERLOADED) {
          context.outcome(Outcome.REJECTED, e.getMessage());
          handler.sendOverloaded("cannot reach " + d + ": " + e.getMessage());
          return;
        }
        handler.sendError(ProxyHandler.dialStatus(f.cause()), "cannot reach " + d + ": " + f.cause().getMessage(), true);
        return;
      }
      if (!ctx.channel().isActive()) {
        f.getNow().channel().close();
        return;
      }
      p.context(ProxyHandler.CODEC).writeAndFlush(ProxyHttp.connectEstablished());
      context.relay(f.getNow());
      p.remove(handler);
      p.remove(ProxyHandler.AGGREGATOR);
      p.remove(ProxyHandler.CHUNKED);
      p.remove(ProxyHandler.CODEC);
    });
  }
}
