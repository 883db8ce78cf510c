package dev.conduit.core.internal.http;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.Destination;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import dev.conduit.core.inbound.HttpInboundOptions;
import dev.conduit.core.inbound.DrainEvent;
import dev.conduit.core.inbound.NegotiationTimeoutEvent;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.internal.dial.DialErrors;
import dev.conduit.core.observe.Outcome;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP proxy, after {@code HttpServerCodec}: absolute-form requests are forwarded with
 * keep-alive on both sides, {@code CONNECT} and WebSocket upgrades become byte tunnels.
 *
 * <p>One exchange at a time: the request head and body stream to the upstream as they are decoded,
 * the response streams back, and the next request is read only when both are complete (pipelined
 * requests wait in {@link #pending}). Neither side is read while the other side is unwritable. The
 * upstream is kept for the next request to the same destination; another destination closes it.
 *
 * <p>{@code Expect: 100-continue} is forwarded, and the upstream's {@code 100 Continue} relayed:
 * the origin decides whether it wants the body, and a client that does not wait (curl waits one
 * second at most) loses nothing.
 *
 * <p>Errors conduit answers itself (400, 403, 405, 407, 408, 414, 431, 502, 504) end the
 * connection: the codec is removed and the response written raw, so no state of the codec or a
 * half-read body can confuse a next request.
 */
final class HttpServerHandler extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(HttpServerHandler.class);

  static final String UPSTREAM_CODEC = "http-upstream-codec";
  static final String UPSTREAM_HANDLER = "http-upstream";

  private static final byte[] ESTABLISHED =
      "HTTP/1.1 200 Connection established\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  /** What the downstream connection is doing. */
  private enum Phase {
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
  private final RequestTarget target = new RequestTarget();
  private ChannelHandlerContext ctx;
  private Phase phase = Phase.HEAD;
  /** Decoded objects that must wait: pipelined requests, request bodies while dialing. */
  private ArrayDeque<Object> pending;
  /** Bytes after a CONNECT request, kept for the upstream. */
  private ArrayDeque<ByteBuf> early;

  // the exchange under way
  private HttpRequest request;
  private boolean requestDone;
  private boolean bodySent;
  private boolean responseStarted;
  private boolean interim;
  private boolean switching;
  private boolean clientHttp10;
  private boolean clientKeepAlive;
  private boolean upgradeRequest;
  private boolean closeAfterResponse;
  /** conduit is stopping: every response from now on is the connection's last. */
  private boolean draining;
  private boolean upstreamReusable;
  private boolean reused;
  private boolean replayed;
  private boolean downstreamReadPending;
  private boolean upstreamReadPending;
  private int served;

  // the upstream kept across requests
  private Upstream upstream;
  private Channel upCh;
  private String upAuthority;
  private Destination upstreamDestination;
  private String upPrincipal;

  // authentication, remembered so repeated identical headers are checked once
  private String acceptedAuthorization;
  private String principal;

  // one lazily re-armed timer: keep-alive idle, or a request head taking too long
  private boolean headStarted;
  private long headStartNanos;
  private long deadlineNanos;
  private boolean deadlineIsHead;
  private ScheduledFuture<?> timer;
  private long timerAtNanos;

  HttpServerHandler(InboundContext context, HttpInboundOptions options) {
    this.context = context;
    this.options = options;
  }

  private String id() {
    return context.connection().id();
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    armDeadline(false, context.timeouts().httpIdle().toNanos());
  }

  // ---------------------------------------------------------------- head timing (HeadWatch calls these)

  /** Bytes arrived before the codec; notes the start of a request head. */
  boolean headBytesArriving() {
    if (phase == Phase.HEAD && !headStarted) {
      headStarted = true;
      headStartNanos = System.nanoTime();
      return true;
    }
    return false;
  }

  /** The codec saw the bytes; when the head is still incomplete, bound the time it may take. */
  void headBytesConsumed() {
    if (phase == Phase.HEAD && headStarted) {
      long left = context.timeouts().negotiation().toNanos() - (System.nanoTime() - headStartNanos);
      armDeadline(true, Math.max(1, left));
    }
  }

  private void armDeadline(boolean head, long delayNanos) {
    long now = System.nanoTime();
    deadlineNanos = now + delayNanos;
    deadlineIsHead = head;
    if (timer == null || timerAtNanos - deadlineNanos > 0) {
      if (timer != null) {
        timer.cancel(false);
      }
      scheduleTimer(delayNanos);
    }
  }

  private void disarmDeadline() {
    deadlineNanos = 0;
  }

  private void scheduleTimer(long delayNanos) {
    timerAtNanos = System.nanoTime() + delayNanos;
    timer = ctx.executor().schedule(this::onTimer, delayNanos, TimeUnit.NANOSECONDS);
  }

  private void onTimer() {
    timer = null;
    if (deadlineNanos == 0 || phase == Phase.CLOSING || !ctx.channel().isActive()) {
      return;
    }
    long left = deadlineNanos - System.nanoTime();
    if (left > 0) {
      scheduleTimer(left);
      return;
    }
    deadlineNanos = 0;
    if (phase != Phase.HEAD) {
      return;
    }
    if (deadlineIsHead) {
      headTimedOut();
    } else {
      log.debug("[{}] keep-alive connection idle, closing", id());
      if (served == 0) {
        context.outcome(Outcome.NEGOTIATION_TIMEOUT, "no request within the HTTP idle timeout");
      }
      close();
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
      // bytes the client pipelined after CONNECT, handed over by the removed codec
      if (early == null) {
        early = new ArrayDeque<>(2);
      }
      early.add(buf);
    } else {
      ReferenceCountUtil.release(msg);
    }
  }

  private boolean isBlocked() {
    return switch (phase) {
      case HEAD -> false;
      case EXCHANGE -> requestDone;
      default -> true;
    };
  }

  private void enqueue(Object o) {
    if (pending == null) {
      pending = new ArrayDeque<>(4);
    }
    pending.add(o);
  }

  private void drain() {
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
      onRequestContent(c);
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (upCh != null) {
      upCh.flush();
    }
    if (phase == Phase.EXCHANGE && !requestDone) {
      readDownstream();
    } else if (phase == Phase.TUNNEL && (early == null || early.isEmpty())) {
      // dialing a CONNECT: keep the read pending until early bytes arrive (at most one read's worth
      // is held), so the socket's read interest is not cleared now and set again for the relay
      ctx.read();
    }
    ctx.fireChannelReadComplete();
  }

  private void readDownstream() {
    if (upCh == null || upCh.isWritable()) {
      ctx.read();
    } else {
      downstreamReadPending = true;
    }
  }

  private void readUpstream() {
    if (ctx.channel().isWritable()) {
      upCh.read();
    } else {
      upstreamReadPending = true;
    }
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (ctx.channel().isWritable() && upstreamReadPending && upCh != null) {
      upstreamReadPending = false;
      upCh.read();
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    phase = Phase.CLOSING;
    releaseQueues();
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
    closeUpstream();
    ctx.fireChannelInactive();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof ChannelInputShutdownEvent) {
      // the client sent its last request: finish the exchange under way, then close
      if (phase == Phase.HEAD) {
        close();
      } else {
        closeAfterResponse = true;
      }
    } else if (evt instanceof NegotiationTimeoutEvent) {
      // the connection's negotiation deadline (from accept) came before this request head's own
      if (phase == Phase.HEAD && headStarted) {
        headTimedOut();
      }
    } else if (evt instanceof DrainEvent) {
      // conduit is stopping: an idle keep-alive connection goes now, a busy one after its response
      draining = true;
      if (phase == Phase.HEAD && !headStarted && (pending == null || pending.isEmpty())) {
        close();
      } else {
        closeAfterResponse = true;
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
    headStarted = false;
    disarmDeadline();
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
      onConnect(req);
      return;
    }
    if (options.connectOnly()) {
      fail(405, Outcome.PROTOCOL_ERROR, "method " + method + " not allowed (CONNECT only)", "Allow: CONNECT");
      return;
    }
    if (!authenticate(req)) {
      return;
    }
    String error = target.parseAbsolute(req.uri());
    if (error != null) {
      fail(400, Outcome.PROTOCOL_ERROR, error);
      return;
    }
    HttpHeaders headers = req.headers();
    clientHttp10 = req.protocolVersion().equals(HttpVersion.HTTP_1_0);
    String upgrade = headers.get(HttpHeaderNames.UPGRADE);
    int connection = HttpMessages.removeHopByHop(headers, true);
    clientKeepAlive = clientHttp10 ? (connection & HttpMessages.KEEP_ALIVE) != 0
        : (connection & HttpMessages.CLOSE) == 0;
    upgradeRequest = (connection & HttpMessages.UPGRADE) != 0 && HttpMessages.hasToken(upgrade, "websocket");
    if (upgradeRequest) {
      headers.set(HttpHeaderNames.UPGRADE, upgrade);
      headers.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
    }
    // a reload since the upstream was chosen: dial anew, so the rules in force decide this request too
    boolean sameUpstream = upCh != null && upCh.isActive() && target.authorityEquals(upAuthority)
        && java.util.Objects.equals(principal, upPrincipal) && context.isRoutedUnderCurrentRules(upstream);
    headers.set(HttpHeaderNames.HOST, sameUpstream ? upAuthority : target.authority());
    HttpMessages.addVia(headers, clientHttp10);
    if (method == HttpMethod.OPTIONS && target.emptyPath) {
      req.setUri("*");
    } else {
      req.setUri(target.path);
    }
    req.setProtocolVersion(HttpVersion.HTTP_1_1);
    request = req;
    requestDone = false;
    bodySent = false;
    responseStarted = false;
    interim = false;
    switching = false;
    closeAfterResponse = !clientKeepAlive || draining;
    upstreamReusable = false;
    replayed = false;
    if (sameUpstream) {
      reused = true;
      phase = Phase.EXCHANGE;
      upCh.write(req, upCh.voidPromise());
      readUpstream();
      return;
    }
    closeUpstream();
    Destination dst;
    try {
      dst = Destination.of(target.host(), target.port);
    } catch (IllegalArgumentException e) {
      fail(400, Outcome.PROTOCOL_ERROR, e.getMessage());
      return;
    }
    dial(dst, target.authority());
  }

  private void dial(Destination dst, String authority) {
    phase = Phase.DIALING;
    upstreamDestination = dst;
    reused = false;
    context.connect(ConnectRequest.of(context.connection(), dst).withPrincipal(principal))
        .addListener((Future<Upstream> f) -> {
          if (phase != Phase.DIALING || !ctx.channel().isActive()) {
            if (f.isSuccess()) {
              f.getNow().channel().close();
            }
            return;
          }
          if (!f.isSuccess()) {
            dialFailed(f.cause());
            return;
          }
          attach(f.getNow(), authority);
          phase = Phase.EXCHANGE;
          upCh.write(request, upCh.voidPromise());
          drain();
          upCh.flush();
          readUpstream();
          if (!requestDone) {
            readDownstream();
          }
        });
  }

  private void attach(Upstream up, String authority) {
    upstream = up;
    upCh = up.channel();
    upAuthority = authority;
    upPrincipal = principal;
    HttpDecoderConfig config = new HttpDecoderConfig()
        .setMaxInitialLineLength(16 * 1024)
        .setMaxHeaderSize(128 * 1024)
        .setMaxChunkSize(64 * 1024);
    ChannelPipeline p = upCh.pipeline();
    p.addLast(UPSTREAM_CODEC, new HttpClientCodec(config, false, false));
    p.addLast(UPSTREAM_HANDLER, new UpstreamHandler(upCh));
  }

  private void onRequestContent(HttpContent c) {
    if (phase != Phase.EXCHANGE || upCh == null) {
      c.release();
      return;
    }
    if (c.decoderResult().isFailure()) {
      c.release();
      String why = "malformed request body: " + c.decoderResult().cause().getMessage();
      if (responseStarted) {
        context.outcome(Outcome.PROTOCOL_ERROR, why);
        close();
      } else {
        fail(400, Outcome.PROTOCOL_ERROR, why);
      }
      return;
    }
    boolean last = c instanceof LastHttpContent;
    if (c.content().isReadable()) {
      bodySent = true;
    }
    upCh.write(c, upCh.voidPromise());
    if (last) {
      requestDone = true;
    }
  }

  private boolean authenticate(HttpRequest req) {
    if (options.authenticator().isEmpty()) {
      return true;
    }
    String header = req.headers().get(HttpHeaderNames.PROXY_AUTHORIZATION);
    if (header != null && header.equals(acceptedAuthorization)) {
      return true;
    }
    String[] creds = HttpMessages.basicCredentials(header);
    Optional<String> who = creds == null ? Optional.empty()
        : options.authenticator().get().authenticate(creds[0], creds[1]);
    if (who.isEmpty()) {
      String why = header == null ? "no Proxy-Authorization"
          : creds == null ? "malformed Proxy-Authorization" : "wrong credentials for user " + creds[0];
      log.debug("[{}] HTTP proxy authentication failed: {}", id(), why);
      fail(407, Outcome.AUTH_FAILED, why, "Proxy-Authenticate: Basic realm=\"" + options.realm() + "\"");
      return false;
    }
    acceptedAuthorization = header;
    principal = who.get();
    context.principal(principal);
    return true;
  }

  // ---------------------------------------------------------------- CONNECT

  private void onConnect(HttpRequest req) {
    phase = Phase.TUNNEL;
    // stop the decoder now: bytes after the head belong to the tunnel, and the removed codec hands
    // them to channelRead as they are
    removeCodec();
    if (!authenticate(req)) {
      return;
    }
    String error = target.parseAuthority(req.uri());
    Destination dst = null;
    if (error == null) {
      try {
        dst = Destination.of(target.host(), target.port);
      } catch (IllegalArgumentException e) {
        error = e.getMessage();
      }
    }
    if (error != null) {
      fail(400, Outcome.PROTOCOL_ERROR, error);
      return;
    }
    closeUpstream();
    context.connect(ConnectRequest.of(context.connection(), dst).withPrincipal(principal))
        .addListener((Future<Upstream> f) -> {
          if (phase != Phase.TUNNEL || !ctx.channel().isActive()) {
            if (f.isSuccess()) {
              f.getNow().channel().close();
            }
            releaseQueues();
            return;
          }
          if (f.isSuccess()) {
            tunnel(f.getNow());
          } else {
            dialFailed(f.cause());
          }
        });
  }

  private void tunnel(Upstream up) {
    ctx.writeAndFlush(Unpooled.wrappedBuffer(ESTABLISHED));
    Channel ch = up.channel();
    // early bytes go first, then the relay takes over
    while (early != null && !early.isEmpty()) {
      ch.write(early.poll(), ch.voidPromise());
    }
    ch.flush();
    startRelay(up);
  }

  private void startRelay(Upstream up) {
    disarmDeadline();
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
    served++;
    context.relay(up);
    ChannelPipeline p = ctx.pipeline();
    // this handler goes first, so bytes the codec still holds flow straight to the relay
    p.remove(this);
    removeCodec();
  }

  private void removeCodec() {
    ChannelPipeline p = ctx.pipeline();
    if (p.get(HttpInbound.HEAD_WATCH) != null) {
      p.remove(HttpInbound.HEAD_WATCH);
    }
    if (p.get(HttpInbound.CODEC) != null) {
      p.remove(HttpInbound.CODEC);
    }
  }

  // ---------------------------------------------------------------- failures

  private void dialFailed(Throwable cause) {
    DialFailure failure = cause instanceof DialException d ? d.failure() : DialFailure.GENERAL;
    String why = String.valueOf(cause.getMessage());
    if (failure == DialFailure.NOT_ALLOWED) {
      fail(403, Outcome.REJECTED, why,
          HttpMessages.proxyStatus(DialErrors.proxyStatusError(failure), why));
    } else {
      fail(failure.httpStatus(), Outcome.DIAL_FAILED, why,
          HttpMessages.proxyStatus(DialErrors.proxyStatusError(failure), why));
    }
  }

  private void headTimedOut() {
    long ms = context.timeouts().negotiation().toMillis();
    fail(408, Outcome.NEGOTIATION_TIMEOUT, "request head not complete within " + ms + " ms");
  }

  /** Answers with an error status and closes the connection. */
  private void fail(int status, Outcome outcome, String why, String... headers) {
    log.debug("[{}] HTTP {}: {}", id(), status, why);
    context.outcome(outcome, why);
    phase = Phase.CLOSING;
    disarmDeadline();
    releaseQueues();
    closeUpstream();
    removeCodec();
    if (ctx.channel().isActive()) {
      ctx.writeAndFlush(HttpMessages.errorResponse(ctx.alloc(), status, why, headers))
          .addListener(ChannelFutureListener.CLOSE);
    }
  }

  private void close() {
    phase = Phase.CLOSING;
    disarmDeadline();
    releaseQueues();
    closeUpstream();
    if (ctx.channel().isActive()) {
      ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
  }

  private void releaseQueues() {
    if (pending != null) {
      Object o;
      while ((o = pending.poll()) != null) {
        ReferenceCountUtil.release(o);
      }
    }
    if (early != null) {
      ByteBuf b;
      while ((b = early.poll()) != null) {
        b.release();
      }
    }
  }

  private void closeUpstream() {
    if (upCh != null) {
      Channel ch = upCh;
      upCh = null;
      upstream = null;
      upAuthority = null;
      downstreamReadPending = false;
      upstreamReadPending = false;
      ch.close();
    }
  }

  // ---------------------------------------------------------------- responses

  private void onResponse(HttpResponse res) {
    if (phase != Phase.EXCHANGE || (responseStarted && !interim)) {
      log.debug("[{}] unexpected response from upstream; closing it", id());
      closeUpstream();
      return;
    }
    if (res.decoderResult().isFailure()) {
      upstreamBroke("malformed response from upstream: " + res.decoderResult().cause().getMessage(),
          "http_protocol_error");
      return;
    }
    int code = res.status().code();
    HttpHeaders headers = res.headers();
    if (code == 101 && upgradeRequest) {
      responseStarted = true;
      switching = true;
      String upgrade = headers.get(HttpHeaderNames.UPGRADE);
      HttpMessages.removeHopByHop(headers, false);
      if (upgrade != null) {
        headers.set(HttpHeaderNames.UPGRADE, upgrade);
      }
      headers.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
      HttpMessages.addVia(headers, false);
      ctx.write(res, ctx.voidPromise());
      return;
    }
    if (code == 101) {
      upstreamBroke("upstream switched protocols without an upgrade request", "http_protocol_error");
      return;
    }
    if (code >= 100 && code < 200) {
      // interim (100 Continue, 103): relayed to HTTP/1.1 clients, its empty last content too
      interim = true;
      HttpMessages.removeHopByHop(headers, false);
      if (!clientHttp10) {
        ctx.write(res, ctx.voidPromise());
      }
      return;
    }
    responseStarted = true;
    interim = false;
    boolean upstreamHttp10 = res.protocolVersion().equals(HttpVersion.HTTP_1_0);
    boolean bodyless = request.method() == HttpMethod.HEAD || code == 204 || code == 304;
    boolean chunked = HttpMessages.hasToken(headers.get(HttpHeaderNames.TRANSFER_ENCODING), "chunked");
    boolean delimited = bodyless || chunked || headers.contains(HttpHeaderNames.CONTENT_LENGTH);
    int connection = HttpMessages.removeHopByHop(headers, false);
    boolean upstreamKeepAlive = upstreamHttp10 ? (connection & HttpMessages.KEEP_ALIVE) != 0
        : (connection & HttpMessages.CLOSE) == 0;
    if (!delimited) {
      // the body ends when the upstream closes: the upstream cannot be reused
      upstreamKeepAlive = false;
      if (clientHttp10) {
        closeAfterResponse = true;
      } else {
        headers.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
      }
    } else if (chunked && clientHttp10 && !bodyless) {
      // HTTP/1.0 has no chunked coding: the body ends with the connection
      headers.remove(HttpHeaderNames.TRANSFER_ENCODING);
      closeAfterResponse = true;
    }
    if (!requestDone) {
      // the upstream answered before the whole request was sent: neither side can be reused
      closeAfterResponse = true;
      upstreamKeepAlive = false;
    }
    upstreamReusable = upstreamKeepAlive;
    if (closeAfterResponse) {
      headers.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    } else if (clientHttp10) {
      headers.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
    }
    HttpMessages.addVia(headers, upstreamHttp10);
    res.setProtocolVersion(HttpVersion.HTTP_1_1);
    ctx.write(res, ctx.voidPromise());
  }

  private void onResponseContent(HttpContent c) {
    if (phase != Phase.EXCHANGE || !responseStarted && !interim) {
      c.release();
      if (phase == Phase.HEAD && c.content().isReadable()) {
        log.debug("[{}] unexpected bytes from idle upstream; closing it", id());
        closeUpstream();
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
    if (interim) {
      if (clientHttp10) {
        c.release();
      } else {
        ctx.write(c, ctx.voidPromise());
      }
      if (last) {
        interim = false;
      }
      return;
    }
    ctx.write(c, ctx.voidPromise());
    if (!last) {
      return;
    }
    if (switching) {
      switchProtocols();
      return;
    }
    completeExchange();
  }

  private void completeExchange() {
    served++;
    request = null;
    phase = Phase.HEAD;
    if (!upstreamReusable) {
      // the upstream's read-complete flushes only while it is the current upstream: this response's end would
      // wait in the buffer for the client's next move
      ctx.flush();
      closeUpstream();
    }
    if (closeAfterResponse) {
      close();
      return;
    }
    downstreamReadPending = false;
    upstreamReadPending = false;
    armDeadline(false, context.timeouts().httpIdle().toNanos());
    if (upCh != null) {
      // an idle upstream is read so that its close is noticed
      upCh.read();
    }
    drain();
    if (upCh != null) {
      upCh.flush();
    }
    if (phase == Phase.HEAD) {
      ctx.read();
    } else if (phase == Phase.EXCHANGE && !requestDone) {
      readDownstream();
    }
  }

  private void switchProtocols() {
    ctx.flush();
    Upstream up = upstream;
    Channel ch = upCh;
    upCh = null;
    upstream = null;
    phase = Phase.CLOSING;
    releaseQueues();
    startRelay(up);
    ChannelPipeline p = ch.pipeline();
    // handler first, then the codec: bytes the codec still holds reach the relay
    p.remove(UPSTREAM_HANDLER);
    p.remove(UPSTREAM_CODEC);
  }

  /** The upstream failed during an exchange. */
  private void upstreamBroke(String why, String proxyStatusError) {
    if (!responseStarted) {
      fail(502, Outcome.ERROR, why, HttpMessages.proxyStatus(proxyStatusError, why));
    } else {
      log.debug("[{}] {}", id(), why);
      context.outcome(Outcome.ERROR, why);
      close();
    }
  }

  private void upstreamClosed(Channel ch) {
    if (ch != upCh) {
      return;
    }
    upCh = null;
    upstream = null;
    if (phase != Phase.EXCHANGE) {
      return;
    }
    if (!responseStarted && !interim && reused && !bodySent && requestDone && !replayed) {
      // a kept upstream closed as we reused it: send the request again on a new connection
      log.debug("[{}] kept upstream closed before answering; dialing again", id());
      replayed = true;
      HttpRequest req = request;
      Destination dst = upstreamDestination;
      String authority = req.headers().get(HttpHeaderNames.HOST);
      enqueueFirst(LastHttpContent.EMPTY_LAST_CONTENT);
      requestDone = false;
      dial(dst, authority);
      return;
    }
    upstreamBroke("upstream closed before the response was complete", "connection_terminated");
  }

  private void enqueueFirst(Object o) {
    if (pending == null) {
      pending = new ArrayDeque<>(4);
    }
    pending.addFirst(o);
  }

  /** The handler on the upstream channel. */
  private final class UpstreamHandler extends ChannelInboundHandlerAdapter {
    private final Channel channel;

    UpstreamHandler(Channel channel) {
      this.channel = channel;
    }

    @Override
    public void channelRead(ChannelHandlerContext uctx, Object msg) {
      if (channel != upCh) {
        ReferenceCountUtil.release(msg);
        return;
      }
      if (msg instanceof HttpResponse res) {
        try {
          onResponse(res);
        } finally {
          ReferenceCountUtil.release(msg);
        }
      } else if (msg instanceof HttpContent c) {
        onResponseContent(c);
      } else {
        ReferenceCountUtil.release(msg);
      }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext uctx) {
      if (channel == upCh) {
        ctx.flush();
        if (phase == Phase.EXCHANGE) {
          readUpstream();
        }
      }
      uctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext uctx) {
      if (channel == upCh && channel.isWritable() && downstreamReadPending) {
        downstreamReadPending = false;
        ctx.read();
      }
      uctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext uctx) {
      upstreamClosed(channel);
      uctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext uctx, Throwable cause) {
      log.debug("[{}] HTTP upstream error: {}", id(), cause.toString());
      uctx.close();
    }
  }
}
