package dev.conduit.core.internal.http;

import dev.conduit.core.internal.proxy.ProxyHttp;
import dev.conduit.core.Destination;
import dev.conduit.core.DialException;
import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.DialFailure;
import dev.conduit.core.inbound.DrainEvent;
import dev.conduit.core.inbound.HttpInboundOptions;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.NegotiationTimeoutEvent;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.internal.dial.DialErrors;
import dev.conduit.core.observe.Outcome;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP proxy, after {@code HttpServerCodec}: absolute-form requests are forwarded with keep-alive on both
 * sides, {@code CONNECT} ({@link ConnectTunnel}) and WebSocket upgrades become byte tunnels.
 *
 * <p>One {@link Exchange} at a time: the request head and body stream to the upstream as they are decoded,
 * the response streams back, and the next request is read only when both are complete (pipelined requests
 * wait in {@link #pending}). Neither side is read while the other side is unwritable. The upstream is kept
 * for the next request to the same destination ({@link KeptUpstream}); another destination closes it. One
 * timer ({@link HttpDeadline}) bounds the idle keep-alive wait, each request head and each response head.
 *
 * <p>{@code Expect: 100-continue} is forwarded, and the upstream's {@code 100 Continue} relayed: the origin
 * decides whether it wants the body, and a client that does not wait (curl waits one second at most) loses
 * nothing.
 *
 * <p>Errors conduit answers itself (400, 403, 405, 407, 408, 414, 431, 502, 503, 504) end the connection: the
 * codec is removed and the response written raw, so no state of the codec or a half-read body can confuse a
 * next request.
 */
final class HttpServerHandler extends ChannelInboundHandlerAdapter implements HttpDeadline.Expiry {
  private static final Logger log = LoggerFactory.getLogger(HttpServerHandler.class);

  /** What the downstream connection is doing. */
  enum Phase {
    /** Waiting for a request head (idle, or the head is arriving). */
    HEAD,
    /** A request head arrived; dialing its destination. */
    DIALING,
    /** Forwarding a request and its response. */
    EXCHANGE,
    /** A CONNECT: the codec is gone, dialing, then relaying. */
    TUNNEL,
    /** Closing after an error or the last response; reads are dropped. */
    CLOSING
  }

  private final InboundContext context;
  private final HttpInboundOptions options;
  private final RequestForwarder forwarder;
  private final ConnectTunnel connect;
  private ChannelHandlerContext ctx;
  private HttpDeadline deadline;
  private KeptUpstream upstream;
  private Phase phase = Phase.HEAD;
  /** Decoded objects that must wait: pipelined requests, request bodies while dialing. */
  private ArrayDeque<Object> pending;
  /** The exchange under way (or the last one, in {@link Phase#HEAD}). */
  private Exchange ex;
  /** conduit is stopping: every response from now on is the connection's last. */
  private boolean draining;
  private int served;
  private final ProxyAuthentication auth;

  HttpServerHandler(InboundContext context, HttpInboundOptions options) {
    this.context = context;
    this.options = options;
    this.connect = new ConnectTunnel(this, context);
    this.auth = new ProxyAuthentication(options, context);
    this.forwarder = new RequestForwarder(this, context);
  }

  String id() {
    return context.connection().id();
  }

  String principal() {
    return auth.principal();
  }

  boolean isTunnelling() {
    return phase == Phase.TUNNEL;
  }

  /** Forwarding a request and its response. */
  boolean inExchange() {
    return phase == Phase.EXCHANGE;
  }

  /** Between exchanges: waiting for a request head. */
  boolean betweenExchanges() {
    return phase == Phase.HEAD;
  }

  Exchange exchange() {
    return ex;
  }

  /** The exchange of the request just read. */
  void exchange(Exchange value) {
    ex = value;
  }

  Phase phase() {
    return phase;
  }

  void phase(Phase value) {
    phase = value;
  }

  /** conduit is stopping: the next response is the connection's last. */
  boolean draining() {
    return draining;
  }

  ChannelHandlerContext ctx() {
    return ctx;
  }

  HttpDeadline deadline() {
    return deadline;
  }

  KeptUpstream upstream() {
    return upstream;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    this.deadline = new HttpDeadline(ctx, this);
    this.upstream = new KeptUpstream(ctx, new ResponseRelay(this, ctx, context), id());
    deadline.arm(HttpDeadline.Kind.IDLE, context.timeouts().httpIdle().toNanos());
  }

  // ---------------------------------------------------------------- head timing (HeadWatch calls these)

  /** Bytes arrived before the codec; notes the start of a request head. */
  boolean headBytesArriving() {
    return phase == Phase.HEAD && deadline.headArriving();
  }

  /** The codec saw the bytes; when the head is still incomplete, bound the time it may take. */
  void headBytesConsumed() {
    if (phase == Phase.HEAD && deadline.headStarted()) {
      deadline.boundHead(context.timeouts().negotiation().toNanos());
    }
  }

  @Override
  public void expired(HttpDeadline.Kind kind) {
    if (phase == Phase.CLOSING || !ctx.channel().isActive()) {
      return;
    }
    switch (kind) {
      case REQUEST_HEAD -> {
        if (phase == Phase.HEAD) {
          headTimedOut();
        }
      }
      case IDLE -> {
        if (phase == Phase.HEAD) {
          log.debug("[{}] keep-alive connection idle, closing", id());
          if (served == 0) {
            context.outcome(Outcome.NEGOTIATION_TIMEOUT, "no request within the HTTP idle timeout");
          }
          close();
        }
      }
      case RESPONSE_HEAD -> {
        if (phase == Phase.EXCHANGE && !ex.responseStarted) {
          String why = "no response head from upstream within " + context.timeouts().httpResponseHead().toMillis()
              + " ms";
          fail(504, Outcome.ERROR, why, ProxyHttp.proxyStatus("http_response_timeout", why));
        }
      }
      default -> throw new IllegalStateException(String.valueOf(kind));
    }
  }

  // ---------------------------------------------------------------- downstream events

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof HttpObject o) {
      if (isBlocked()) {
        if (phase == Phase.CLOSING || phase == Phase.TUNNEL) {
          ReferenceCountUtil.release(msg);
        } else {
          enqueue(o);
        }
        return;
      }
      handle(o);
    } else if (msg instanceof ByteBuf buf && phase == Phase.TUNNEL) {
      connect.earlyBytes(buf);
    } else {
      ReferenceCountUtil.release(msg);
    }
  }

  private boolean isBlocked() {
    return switch (phase) {
      case HEAD -> false;
      case EXCHANGE -> ex.requestDone;
      default -> true;
    };
  }

  /** Whether the request under way arrived whole (its last part may still wait in {@link #pending}). */
  private boolean requestComplete() {
    if (ex != null && ex.requestDone) {
      return true;
    }
    if (pending != null) {
      for (Object o : pending) {
        if (o instanceof LastHttpContent) {
          return true;
        }
      }
    }
    return false;
  }

  private void enqueue(Object o) {
    if (pending == null) {
      pending = new ArrayDeque<>(4);
    }
    pending.add(o);
  }

  void drain() {
    while (pending != null && !pending.isEmpty() && !isBlocked()) {
      handle((HttpObject) pending.poll());
    }
  }

  private void handle(HttpObject o) {
    if (o instanceof HttpRequest r) {
      try {
        onRequest(r);
      } finally {
        // only an invalid request comes as a FullHttpRequest
        ReferenceCountUtil.release(o);
      }
    } else if (o instanceof HttpContent c) {
      forwarder.content(c);
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    upstream.flush();
    if (phase == Phase.EXCHANGE && !ex.requestDone) {
      upstream.readDownstream();
    } else if (phase == Phase.TUNNEL && connect.noEarlyBytes()) {
      // dialing a CONNECT: keep the read pending until early bytes arrive (at most one read's worth
      // is held), so the socket's read interest is not cleared now and set again for the relay
      ctx.read();
    }
    ctx.fireChannelReadComplete();
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (ctx.channel().isWritable()) {
      upstream.downstreamWritable();
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    phase = Phase.CLOSING;
    releaseQueues();
    deadline.cancel();
    upstream.close();
    ctx.fireChannelInactive();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof ChannelInputShutdownEvent) {
      // the client sent its last request: finish the exchange under way, then close
      if (phase == Phase.HEAD) {
        close();
      } else if ((phase == Phase.EXCHANGE || phase == Phase.DIALING) && !requestComplete()) {
        // the request can never be complete: the client left, nobody waits for its answer
        log.debug("[{}] client closed before its request was complete; closing both sides", id());
        context.outcome(Outcome.ERROR, "client closed before its request was complete");
        close();
      } else if (ex != null) {
        ex.closeAfterResponse = true;
      }
    } else if (evt instanceof NegotiationTimeoutEvent) {
      // the connection's negotiation deadline (from accept) came before this request head's own
      if (phase == Phase.HEAD && deadline.headStarted()) {
        headTimedOut();
      }
    } else if (evt instanceof DrainEvent) {
      // conduit is stopping: an idle keep-alive connection goes now, a busy one after its response
      draining = true;
      if (phase == Phase.HEAD && !deadline.headStarted() && (pending == null || pending.isEmpty())) {
        close();
      } else if (ex != null) {
        ex.closeAfterResponse = true;
      }
      return;
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("[{}] HTTP downstream error: {}", id(), cause.toString());
    context.outcome(Outcome.ERROR, String.valueOf(cause.getMessage()));
    phase = Phase.CLOSING;
    ctx.close();
  }

  // ---------------------------------------------------------------- requests

  private void onRequest(HttpRequest req) {
    deadline.headComplete();
    DecoderResult result = req.decoderResult();
    if (result.isFailure()) {
      Throwable cause = result.cause();
      if (cause instanceof TooLongHttpLineException) {
        fail(414, Outcome.PROTOCOL_ERROR, "request line longer than " + options.maxInitialLineLength() + " bytes");
      } else if (cause instanceof TooLongHttpHeaderException) {
        fail(431, Outcome.PROTOCOL_ERROR, "request headers larger than " + options.maxHeaderSize() + " bytes");
      } else {
        fail(400, Outcome.PROTOCOL_ERROR, "malformed request: " + (cause == null ? "?" : cause.getMessage()));
      }
      return;
    }
    context.requestReceived();
    HttpMethod method = req.method();
    if (method == HttpMethod.CONNECT) {
      phase = Phase.TUNNEL;
      // stop the decoder now: bytes after the head belong to the tunnel, and the removed codec hands
      // them to channelRead as they are
      removeCodec();
      connect.start(ctx, req);
      return;
    }
    if (options.connectOnly()) {
      fail(405, Outcome.PROTOCOL_ERROR, "method " + method + " not allowed (CONNECT only)", "Allow: CONNECT");
      return;
    }
    if (!authenticate(req)) {
      return;
    }
    forwarder.forward(req);
  }

  /** Checks Basic proxy credentials; answers 407 and returns false when they are missing or wrong. */
  boolean authenticate(HttpRequest req) {
    String why = auth.check(req);
    if (why != null) {
      log.debug("[{}] HTTP proxy authentication failed: {}", id(), why);
      fail(407, Outcome.AUTH_FAILED, why, auth.challenge());
      return false;
    }
    return true;
  }

  /** Hands the connection to the relay: this handler goes first, so bytes the codec still holds flow on. */
  void startRelay(Upstream up) {
    deadline.cancel();
    countServed();
    context.relay(up);
    ctx.pipeline().remove(this);
    removeCodec();
  }

  private void removeCodec() {
    ChannelPipeline p = ctx.pipeline();
    if (p.get(ConduitPipeline.HTTP_HEAD_WATCH) != null) {
      p.remove(ConduitPipeline.HTTP_HEAD_WATCH);
    }
    if (p.get(ConduitPipeline.HTTP_CODEC) != null) {
      p.remove(ConduitPipeline.HTTP_CODEC);
    }
  }

  // ---------------------------------------------------------------- failures

  void dialFailed(Throwable cause) {
    DialFailure failure = cause instanceof DialException d ? d.failure() : DialFailure.GENERAL;
    String why = String.valueOf(cause.getMessage());
    String proxyStatus = ProxyHttp.proxyStatus(DialErrors.proxyStatusError(failure), why);
    if (failure == DialFailure.NOT_ALLOWED) {
      fail(403, Outcome.REJECTED, why, proxyStatus);
    } else if (failure == DialFailure.OVERLOADED) {
      fail(503, Outcome.REJECTED, why, "Retry-After: 5", proxyStatus);
    } else {
      fail(failure.httpStatus(), Outcome.DIAL_FAILED, why, proxyStatus);
    }
  }

  private void headTimedOut() {
    long ms = context.timeouts().negotiation().toMillis();
    fail(408, Outcome.NEGOTIATION_TIMEOUT, "request head not complete within " + ms + " ms");
  }

  /** Answers with an error status and closes the connection. */
  void fail(int status, Outcome outcome, String why, String... headers) {
    log.debug("[{}] HTTP {}: {}", id(), status, why);
    context.outcome(outcome, why);
    phase = Phase.CLOSING;
    deadline.disarm();
    releaseQueues();
    upstream.close();
    removeCodec();
    if (ctx.channel().isActive()) {
      ctx.writeAndFlush(HttpMessages.errorResponse(ctx.alloc(), status, why, headers))
          .addListener(ChannelFutureListener.CLOSE);
    }
  }

  /** Closes the connection after what was written (the end of the last response). */
  void close() {
    phase = Phase.CLOSING;
    deadline.disarm();
    releaseQueues();
    upstream.close();
    if (ctx.channel().isActive()) {
      ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
  }

  void releaseQueues() {
    if (pending != null) {
      Object o;
      while ((o = pending.poll()) != null) {
        ReferenceCountUtil.release(o);
      }
    }
    connect.release();
  }

  /** Closes the kept upstream, if any (a CONNECT does not keep it). */
  void closeUpstream() {
    upstream.close();
  }

  // ---------------------------------------------------------------- the end of an exchange (ResponseRelay calls these)

  /** An exchange or tunnel was served (a summary counts them). */
  void countServed() {
    served++;
  }

  /** Sends the request again, first in the queue: a kept upstream closed before answering it. */
  void replay(Destination dst) {
    log.debug("[{}] kept upstream closed before answering; dialing again", id());
    ex.replayed = true;
    if (pending == null) {
      pending = new ArrayDeque<>(4);
    }
    pending.addFirst(LastHttpContent.EMPTY_LAST_CONTENT);
    ex.requestDone = false;
    forwarder.dial(dst, ex.request.headers().get(HttpHeaderNames.HOST));
  }
}
