package dev.conduit.core.internal.http;

import dev.conduit.core.internal.proxy.ProxyHttp;
import dev.conduit.core.Destination;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.internal.relay.Relay;
import dev.conduit.core.internal.http.HttpServerHandler.Phase;
import dev.conduit.core.observe.Outcome;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The response half of an exchange: relays the kept upstream's response heads and bodies to the client, as
 * the {@link Exchange} rewrites them, and ends the exchange (next request, close, or a WebSocket tunnel).
 * A response cut short reaches the client as a reset; a kept upstream that closes before answering a
 * request it was reused for gets the request again on a new connection.
 */
final class ResponseRelay implements KeptUpstream.Events {
  private static final Logger log = LoggerFactory.getLogger(ResponseRelay.class);

  private final HttpServerHandler handler;
  private final ChannelHandlerContext ctx;
  private final InboundContext context;

  ResponseRelay(HttpServerHandler handler, ChannelHandlerContext ctx, InboundContext context) {
    this.handler = handler;
    this.ctx = ctx;
    this.context = context;
  }

  @Override
  public void response(HttpResponse res) {
    Exchange ex = handler.exchange();
    if (!handler.inExchange() || (ex.responseStarted && !ex.interim)) {
      log.debug("[{}] unexpected response from upstream; closing it", handler.id());
      handler.upstream().close();
      return;
    }
    if (res.decoderResult().isFailure()) {
      upstreamBroke("malformed response from upstream: " + res.decoderResult().cause().getMessage(),
          "http_protocol_error");
      return;
    }
    switch (ex.responseHead(res)) {
      case BAD_SWITCH -> upstreamBroke("upstream switched protocols without an upgrade request", "http_protocol_error");
      case INTERIM -> {
        // interim (100 Continue, 103): relayed to HTTP/1.1 clients, its empty last content too
        if (!ex.clientHttp10) {
          ctx.write(res, ctx.voidPromise());
        }
      }
      default -> {
        handler.deadline().disarm();
        ctx.write(res, ctx.voidPromise());
      }
    }
  }

  @Override
  public void content(HttpContent c) {
    Exchange ex = handler.exchange();
    if (!handler.inExchange() || !ex.responseStarted && !ex.interim) {
      c.release();
      if (handler.betweenExchanges() && c.content().isReadable()) {
        log.debug("[{}] unexpected bytes from idle upstream; closing it", handler.id());
        handler.upstream().close();
      }
      return;
    }
    if (c.decoderResult().isFailure()) {
      c.release();
      upstreamBroke("malformed response body from upstream: " + c.decoderResult().cause().getMessage(),
          "http_protocol_error");
      return;
    }
    boolean last = c instanceof LastHttpContent;
    if (ex.interim) {
      if (ex.clientHttp10) {
        c.release();
      } else {
        ctx.write(c, ctx.voidPromise());
      }
      if (last) {
        ex.interim = false;
      }
      return;
    }
    ctx.write(c, ctx.voidPromise());
    if (!last) {
      return;
    }
    if (ex.switching) {
      switchProtocols();
      return;
    }
    completeExchange(ex);
  }

  @Override
  public void readComplete() {
    ctx.flush();
    if (handler.inExchange()) {
      handler.upstream().read();
    }
  }

  @Override
  public void closed(Channel ch) {
    KeptUpstream upstream = handler.upstream();
    if (ch != upstream.channel()) {
      return;
    }
    Destination dst = upstream.destination();
    upstream.forget();
    if (!handler.inExchange()) {
      return;
    }
    if (handler.exchange().replayable()) {
      handler.replay(dst);
      return;
    }
    upstreamBroke("upstream closed before the response was complete", "connection_terminated");
  }

  /** The upstream failed during an exchange: 502 before the response started, a reset after. */
  private void upstreamBroke(String why, String proxyStatusError) {
    if (!handler.exchange().responseStarted) {
      handler.fail(502, Outcome.ERROR, why, ProxyHttp.proxyStatus(proxyStatusError, why));
    } else {
      // a response cut short: the client gets a reset, not a clean end it could take for a whole response
      log.debug("[{}] {}", handler.id(), why);
      context.outcome(Outcome.ERROR, why);
      handler.phase(Phase.CLOSING);
      handler.releaseQueues();
      handler.upstream().close();
      ctx.flush();
      Relay.resetAndClose(ctx.channel());
    }
  }

  /** The response is complete: the next request may come (or the connection ends). */
  private void completeExchange(Exchange ex) {
    handler.countServed();
    handler.phase(Phase.HEAD);
    KeptUpstream upstream = handler.upstream();
    if (!ex.upstreamReusable) {
      // the upstream's read-complete flushes only while it is the current upstream: this response's end would
      // wait in the buffer for the client's next move
      ctx.flush();
      upstream.close();
    }
    if (ex.closeAfterResponse) {
      handler.close();
      return;
    }
    upstream.clearPendingReads();
    handler.deadline().arm(HttpDeadline.Kind.IDLE, context.timeouts().httpIdle().toNanos());
    if (upstream.channel() != null) {
      // an idle upstream is read so that its close is noticed
      upstream.channel().read();
    }
    handler.drain();
    upstream.flush();
    if (handler.phase() == Phase.HEAD) {
      ctx.read();
    } else if (handler.phase() == Phase.EXCHANGE && !handler.exchange().requestDone) {
      upstream.readDownstream();
    }
  }

  /** The upstream switched protocols: both connections become a tunnel. */
  private void switchProtocols() {
    ctx.flush();
    Upstream up = handler.upstream().forget();
    handler.phase(Phase.CLOSING);
    handler.releaseQueues();
    handler.startRelay(up);
    KeptUpstream.removeHandlers(up.channel());
  }
}
