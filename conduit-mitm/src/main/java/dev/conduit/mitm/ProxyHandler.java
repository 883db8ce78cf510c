package dev.conduit.mitm;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.DialException;
import dev.conduit.core.inbound.DrainEvent;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.internal.proxy.ProxyHttp;
import dev.conduit.core.observe.Outcome;
import dev.conduit.mitm.cache.BlobCache;
import dev.conduit.mitm.cache.CacheKey;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.util.ReferenceCountUtil;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection of a {@link MitmProxy}, and the routing of its requests: one at a time
 * (pipelined ones wait, in order), {@code CONNECT} to {@link InterceptedConnect}, absolute-form and
 * decrypted requests to an interceptor's answer, to {@link CacheServing} when the cache admits the
 * URL, else to {@link UpstreamFetcher} with a {@link RelaySink}. It owns the connection's state
 * (keep-alive, draining, the call in progress) and writes response heads and errors.
 */
final class ProxyHandler extends ChannelInboundHandlerAdapter {

  private static final Logger log = LoggerFactory.getLogger(ProxyHandler.class);
  static final String CODEC = ConduitPipeline.MITM_CODEC;
  static final String CHUNKED = ConduitPipeline.MITM_CHUNKED;
  static final String AGGREGATOR = ConduitPipeline.MITM_AGGREGATOR;
  static final String SELF = ConduitPipeline.MITM;
  private static final String PROXY_STATUS = "Proxy-Status";

  private final InboundContext context;
  private final MitmProxy proxy;
  private ChannelHandlerContext ctx;
  private String tunnelHost;
  private int tunnelPort;
  private boolean keepAlive;
  /** The client half-closed: answer what it sent, then close. */
  private boolean inputEnded;
  private boolean busy;
  /** The request being handled, released if handling it fails. */
  private FullHttpRequest inHand;
  /** conduit is stopping: the current response is the connection's last, an idle one closes now. */
  private boolean draining;
  private final ArrayDeque<FullHttpRequest> pending = new ArrayDeque<>();
  /** The upstream call answering the current request, if any. */
  private UpstreamCall currentCall;

  private final UpstreamFetcher fetcher = new UpstreamFetcher(this);
  private final CacheServing serving = new CacheServing(this);

  ProxyHandler(InboundContext context, MitmProxy proxy) {
    this.context = context;
    this.proxy = proxy;
  }

  // --- what the parts of a connection share

  ChannelHandlerContext ctx() {
    return ctx;
  }

  InboundContext context() {
    return context;
  }

  MitmProxy proxy() {
    return proxy;
  }

  String id() {
    return context.connection().id();
  }

  UpstreamFetcher fetcher() {
    return fetcher;
  }

  CacheServing serving() {
    return serving;
  }

  boolean clientActive() {
    return ctx.channel().isActive();
  }

  String tunnelHost() {
    return tunnelHost;
  }

  /** The CONNECT to {@code host:port} is intercepted: decrypted requests go there. */
  void intercepted(String host, int port) {
    tunnelHost = host;
    tunnelPort = port;
    busy = false;
  }

  /** The call answering the current request (not a shared cache download), ended when the client goes. */
  void callStarted(UpstreamCall call) {
    currentCall = call;
  }

  void callEnded(UpstreamCall call) {
    if (currentCall == call) {
      currentCall = null;
    }
  }


  static void install(Channel channel, InboundContext context, MitmProxy proxy) {
    ChannelPipeline p = channel.pipeline();
    p.addLast(CODEC, new HttpServerCodec());
    p.addLast(CHUNKED, new ChunkedWriteHandler());
    p.addLast(AGGREGATOR, new HttpObjectAggregator(proxy.maxRequestBodyBytes()));
    p.addLast(SELF, new ProxyHandler(context, proxy));
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof FullHttpRequest req)) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (busy) {
      // a pipelined request: answered after the current one, in order
      pending.add(req);
      return;
    }
    busy = true;
    // a whole request arrived: the proxy may answer it without dialing (cache hit, interceptor)
    context.negotiated();
    inHand = req;
    try {
      handle(req);
    } catch (RuntimeException e) {
      log.warn("[{}] request {} {} failed", context.connection().id(), req.method(), req.uri(), e);
      // the request in hand: an interceptor's replacement once the original was released for it
      ReferenceCountUtil.safeRelease(inHand);
      sendError(500, "proxy error: " + e.getMessage(), true);
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof DrainEvent) {
      draining = true;
      keepAlive = false;
      if (!busy && pending.isEmpty()) {
        ctx.close();
      }
      return;
    }
    if (evt instanceof ChannelInputShutdownEvent) {
      // the client is done sending (curl closes this way): a kept-alive connection would otherwise
      // stay open, half-closed, until the idle timeout
      inputEnded = true;
      if (!busy && pending.isEmpty()) {
        ctx.close();
      }
      return;
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("[{}] client connection {} failed: {}", context.connection().id(), ctx.channel(), cause.toString());
    ctx.close();
  }

  private void handle(FullHttpRequest req) {
    if (req.decoderResult().isFailure()) {
      req.release();
      context.outcome(Outcome.PROTOCOL_ERROR, "bad request: " + req.decoderResult().cause());
      sendError(400, "bad request: " + req.decoderResult().cause().getMessage(), true);
      return;
    }
    context.requestReceived(); // a cache hit dials nothing: the summary counts requests, not dials
    keepAlive = HttpUtil.isKeepAlive(req) && !draining;
    if (req.method().equals(HttpMethod.CONNECT)) {
      String target = req.uri();
      req.release();
      InterceptedConnect.connect(this, target);
      return;
    }
    String scheme;
    String host;
    int port;
    String target;
    try {
      if (tunnelHost != null) {
        scheme = "https";
        host = tunnelHost;
        port = tunnelPort;
        target = req.uri().startsWith("/") ? req.uri() : originForm(new URI(req.uri()));
      } else {
        URI u = new URI(req.uri());
        if (u.getScheme() == null || !u.getScheme().equalsIgnoreCase("http") || u.getHost() == null) {
          req.release();
          sendError(400, "expected an absolute-form http:// request target or CONNECT (got " + req.uri() + ")",
              true);
          return;
        }
        scheme = "http";
        host = u.getHost();
        port = u.getPort() < 0 ? 80 : u.getPort();
        target = originForm(u);
      }
    } catch (URISyntaxException e) {
      req.release();
      sendError(400, "bad request target: " + e.getMessage(), true);
      return;
    }
    if (context.overloaded()) {
      // a request costs an upstream call or a cache read with its buffers: refused while overloaded, as an
      // intercepted CONNECT is (and as conduit's HTTP proxy refuses the dial)
      req.release();
      context.outcome(Outcome.REJECTED, "overloaded: " + req.method() + " " + scheme + "://"
          + authority(scheme, host, port) + target + " refused");
      sendOverloaded("conduit is overloaded; request refused, try again later");
      return;
    }
    String authority = authority(scheme, host, port);
    req.setUri(target);
    HttpHeaders h = req.headers();
    ProxyHttp.removeHopByHop(h, true);
    if (!h.contains(HttpHeaderNames.HOST) || tunnelHost == null) {
      h.set(HttpHeaderNames.HOST, authority);
    }
    InterceptedExchange exchange = new InterceptedExchange(req.method().name(), URI.create(scheme + "://" + authority + target), h);
    for (HttpInterceptor i : proxy.interceptors()) {
      i.onRequest(exchange);
      if (exchange.synthetic().isPresent()) {
        req.release();
        InterceptedExchange.Synthetic s = exchange.synthetic().get();
        FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
            HttpResponseStatus.valueOf(s.status()), Unpooled.wrappedBuffer(s.body()));
        resp.headers().set(HttpHeaderNames.CONTENT_TYPE, s.contentType());
        HttpUtil.setContentLength(resp, s.body().length);
        writeHead(resp, exchange, false);
        ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(f -> finish());
        return;
      }
    }
    if (exchange.requestBodyWanted()) {
      req = BodyInterception.requestBody(req, exchange, proxy);
      inHand = req;
    }
    ProxiedRequest r = new ProxiedRequest(scheme, host, port, req, exchange);
    BlobCache cache = proxy.cacheOrNull();
    if (cache != null && (req.method().equals(HttpMethod.GET) || req.method().equals(HttpMethod.HEAD))) {
      Optional<CacheKey> key;
      try {
        key = cache.policy().keyFor(scheme, authority, target);
      } catch (IllegalArgumentException e) {
        key = Optional.empty();
      }
      if (key.isPresent()) {
        serving.serve(r, key.get());
        return;
      }
    }
    // an interceptor may ask for the response body once it sees the head
    fetcher.fetch(r, proxy.interceptors().isEmpty() ? new RelaySink(this, r) : new BodyInterception.Relay(this, r));
  }

  // --- helpers

  void prepareResponse(HttpResponse response, ProxiedRequest r) {
    HttpHeaders h = response.headers();
    ProxyHttp.removeHopByHop(h, false);
    int code = response.status().code();
    boolean bodyless = r.request().method().equals(HttpMethod.HEAD) || code == 204 || code == 304;
    if (!bodyless && !HttpUtil.isContentLengthSet(response) && !HttpUtil.isTransferEncodingChunked(response)) {
      HttpUtil.setTransferEncodingChunked(response, true);
    }
  }

  void writeHead(HttpResponse response, InterceptedExchange exchange, boolean fromCache) {
    interceptHead(response, exchange, fromCache);
    writeInterceptedHead(response);
  }

  /** Shows the response head to the interceptors. */
  void interceptHead(HttpResponse response, InterceptedExchange exchange, boolean fromCache) {
    exchange.response(response.status().code(), response.headers(), fromCache);
    for (HttpInterceptor i : proxy.interceptors()) {
      i.onResponse(exchange);
    }
  }

  /** Writes a response head the interceptors have seen. */
  void writeInterceptedHead(HttpResponse response) {
    if (!keepAlive) {
      response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }
    if (response instanceof FullHttpResponse full) {
      // the head alone; the body goes as a separate last content
      HttpResponse head = new DefaultHttpResponse(full.protocolVersion(), full.status(), full.headers());
      ctx.write(head);
      ctx.write(new DefaultHttpContent(full.content()));
    } else {
      ctx.write(response);
    }
  }

  /** Answers with an error of conduit's own; a {@code 503} is the busy reply ({@link #sendOverloaded}). */
  void sendError(int status, String text, boolean close) {
    if (status == 503) {
      sendOverloaded(text);
      return;
    }
    sendError(status, text, close, HttpHeaders.EMPTY_HEADERS);
  }

  /**
   * The truthful busy reply, as conduit's HTTP proxy gives it: {@code 503} with {@code Retry-After} and an
   * RFC 9209 {@code Proxy-Status}, then the connection closes (freeing what it holds).
   */
  void sendOverloaded(String text) {
    HttpHeaders h = new DefaultHttpHeaders();
    h.set(HttpHeaderNames.RETRY_AFTER, "5");
    h.set(PROXY_STATUS, ProxyHttp.proxyStatusValue("proxy_internal_response", "conduit is overloaded"));
    sendError(503, text, true, h);
  }

  private void sendError(int status, String text, boolean close, HttpHeaders extra) {
    if (!ctx.channel().isActive()) {
      return;
    }
    if (close) {
      keepAlive = false;
    }
    byte[] body = (text + "\n").getBytes(StandardCharsets.UTF_8);
    FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status),
        Unpooled.wrappedBuffer(body));
    resp.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
    resp.headers().add(extra);
    HttpUtil.setContentLength(resp, body.length);
    if (!keepAlive) {
      resp.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }
    ctx.writeAndFlush(resp).addListener(f -> finish());
  }

  void finish() {
    busy = false;
    if (keepAlive && ctx.channel().isActive() && !(inputEnded && pending.isEmpty())) {
      FullHttpRequest next = pending.poll();
      if (next != null) {
        channelRead(ctx, next);
      } else {
        ctx.read();
      }
    } else {
      releasePending();
      ctx.close();
    }
  }

  private void releasePending() {
    for (FullHttpRequest r; (r = pending.poll()) != null; ) {
      r.release();
    }
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    releasePending();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    releasePending();
    if (currentCall != null) {
      currentCall.abort(); // the upstream is detached: nobody wants the rest of this response
    }
    ctx.fireChannelInactive();
  }

  static boolean isDigestMismatch(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof dev.conduit.mitm.cache.DigestMismatchException) {
        return true;
      }
    }
    return false;
  }

  static int dialStatus(Throwable cause) {
    return cause instanceof DialException d ? d.failure().httpStatus() : 502;
  }

  static String rootMessage(Throwable t) {
    if (t == null) {
      return "unknown";
    }
    Throwable c = t;
    while ((c instanceof CompletionException || c instanceof javax.net.ssl.SSLHandshakeException
        && c.getCause() != null && c.getMessage() == null) && c.getCause() != null) {
      c = c.getCause();
    }
    return c.getMessage() != null ? c.getMessage() : c.toString();
  }

  static String originForm(URI u) {
    String path = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
    return u.getRawQuery() == null ? path : path + "?" + u.getRawQuery();
  }

  static String authority(String scheme, String host, int port) {
    String h = host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
    boolean defaultPort = scheme.equals("https") ? port == 443 : port == 80;
    return defaultPort ? h : h + ":" + port;
  }
}
