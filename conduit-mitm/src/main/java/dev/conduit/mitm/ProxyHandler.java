package dev.conduit.mitm;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.DialException;
import dev.conduit.core.Destination;
import dev.conduit.core.inbound.DrainEvent;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.observe.Outcome;
import dev.conduit.mitm.cache.BlobCache;
import dev.conduit.mitm.cache.ByteRange;
import dev.conduit.mitm.cache.CacheEntry;
import dev.conduit.mitm.cache.CacheException;
import dev.conduit.mitm.cache.CacheKey;
import dev.conduit.mitm.cache.CacheReader;
import dev.conduit.mitm.cache.CacheWriter;
import dev.conduit.mitm.cache.Flight;
import dev.conduit.mitm.cache.RangeSpec;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpChunkedInput;
import io.netty.handler.codec.http.HttpClientCodec;
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
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.stream.ChunkedNioFile;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.handler.timeout.ReadTimeoutHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One client connection of a {@link MitmProxy}: requests one at a time, CONNECT, interception. */
final class ProxyHandler extends ChannelInboundHandlerAdapter {

  private static final Logger log = LoggerFactory.getLogger(MitmProxy.class);
  private static final String CODEC = "mitm-codec";
  private static final String CHUNKED = "mitm-chunked";
  private static final String AGGREGATOR = "mitm-aggregator";
  private static final String SELF = "mitm";
  private static final int CHUNK = 64 * 1024;
  /** A revalidation asks with the cache's validators, never the client's. */
  private static final java.util.List<String> CONDITIONALS = java.util.List.of("If-None-Match",
      "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range");
  private static final java.util.Set<HttpMethod> IDEMPOTENT = java.util.Set.of(HttpMethod.GET, HttpMethod.HEAD,
      HttpMethod.OPTIONS, HttpMethod.PUT, HttpMethod.DELETE, HttpMethod.TRACE);

  private final InboundContext context;
  private final MitmProxy proxy;
  private ChannelHandlerContext ctx;
  private String tunnelHost;
  private int tunnelPort;
  private boolean keepAlive;
  /** The client half-closed: answer what it sent, then close. */
  private boolean inputEnded;
  private boolean busy;
  /** conduit is stopping: the current response is the connection's last, an idle one closes now. */
  private boolean draining;
  private final ArrayDeque<FullHttpRequest> pending = new ArrayDeque<>();
  /** The upstream call answering the current request, if any. */
  private UpstreamCall currentCall;

  private ProxyHandler(InboundContext context, MitmProxy proxy) {
    this.context = context;
    this.proxy = proxy;
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
    try {
      handle(req);
    } catch (RuntimeException e) {
      log.warn("[{}] request {} {} failed", context.connection().id(), req.method(), req.uri(), e);
      ReferenceCountUtil.safeRelease(req);
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
      connect(target);
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
    String authority = authority(scheme, host, port);
    req.setUri(target);
    HttpHeaders h = req.headers();
    h.remove(HttpHeaderNames.PROXY_AUTHORIZATION);
    h.remove("Proxy-Connection");
    h.remove(HttpHeaderNames.KEEP_ALIVE);
    h.remove(HttpHeaderNames.TE);
    h.remove(HttpHeaderNames.TRAILER);
    h.remove(HttpHeaderNames.UPGRADE);
    h.remove(HttpHeaderNames.CONNECTION);
    if (!h.contains(HttpHeaderNames.HOST) || tunnelHost == null) {
      h.set(HttpHeaderNames.HOST, authority);
    }
    HttpExchange exchange = new HttpExchange(req.method().name(), URI.create(scheme + "://" + authority + target), h);
    for (HttpInterceptor i : proxy.interceptors()) {
      i.onRequest(exchange);
      if (exchange.synthetic().isPresent()) {
        req.release();
        HttpExchange.Synthetic s = exchange.synthetic().get();
        FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
            HttpResponseStatus.valueOf(s.status()), Unpooled.wrappedBuffer(s.body()));
        resp.headers().set(HttpHeaderNames.CONTENT_TYPE, s.contentType());
        HttpUtil.setContentLength(resp, s.body().length);
        writeHead(resp, exchange, false);
        ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(f -> finish());
        return;
      }
    }
    Request r = new Request(scheme, host, port, req, exchange);
    BlobCache cache = proxy.cacheOrNull();
    boolean get = req.method().equals(HttpMethod.GET);
    if (cache != null && (get || req.method().equals(HttpMethod.HEAD))) {
      Optional<CacheKey> key;
      try {
        key = cache.policy().keyFor(scheme, authority, target);
      } catch (IllegalArgumentException e) {
        key = Optional.empty();
      }
      if (key.isPresent()) {
        CacheKey k = key.get();
        if (!get) {
          Optional<CacheEntry> entry = cache.lookup(k);
          if (entry.isPresent() && cache.isFresh(entry.get())) {
            String range = h.get(HttpHeaderNames.RANGE);
            req.release();
            serveHit(entry.get(), exchange, range, false, "HIT");
          } else {
            entry.ifPresent(CacheEntry::close);
            fetch(r, new RelaySink(r));
          }
          return;
        }
        String id = context.connection().id();
        boolean wantsRevalidation = cache.policy().requestWantsRevalidation(h);
        cache.begin(k, wantsRevalidation).whenComplete((flight, t) -> ctx.executor().execute(() -> {
          if (t != null) {
            log.warn("[{}] cache lookup of {} failed, forwarding uncached", id, k, t);
            fetch(r, new RelaySink(r));
          } else if (flight instanceof Flight.Hit hit) {
            log.info("[{}] cache HIT {} ({})", id, k, hit.entry().kind());
            String range = req.headers().get(HttpHeaderNames.RANGE);
            req.release();
            serveHit(hit.entry(), exchange, range, true, "HIT");
          } else if (flight instanceof Flight.Miss miss) {
            log.info("[{}] cache MISS {} ({})", id, k, cache.policy().freshness(k));
            fetch(r.retained(), new FillSink(r, miss.writer()));
          } else if (flight instanceof Flight.Revalidate rv) {
            log.info("[{}] cache REVALIDATE {} ({})", id, k, rv.stale().kind());
            String range = h.get(HttpHeaderNames.RANGE);
            for (String n : CONDITIONALS) {
              h.remove(n);
            }
            rv.writer().conditionalHeaders().forEach(h::set);
            fetch(r.retained(), new RevalidateSink(r, rv.stale(), rv.writer(), range));
          } else if (flight instanceof Flight.Join join) {
            log.info("[{}] cache JOIN {} ({})", id, k, cache.policy().freshness(k));
            join(join.reader(), r);
          }
        }));
        return;
      }
    }
    fetch(r, new RelaySink(r));
  }

  // --- CONNECT

  private void connect(String target) {
    if (tunnelHost != null) {
      sendError(400, "CONNECT inside an intercepted tunnel is not supported", true);
      return;
    }
    Destination d;
    try {
      d = Destination.parse(target, 443);
    } catch (IllegalArgumentException e) {
      context.outcome(Outcome.PROTOCOL_ERROR, "bad CONNECT target " + target);
      sendError(400, "bad CONNECT target: " + e.getMessage(), true);
      return;
    }
    ChannelPipeline p = ctx.pipeline();
    if (proxy.intercepts(d.host())) {
      tunnelHost = d.host();
      tunnelPort = d.port();
      String connectHost = d.host();
      p.remove(AGGREGATOR);
      p.remove(CHUNKED);
      p.addBefore(SELF, "mitm-sni", new SniHandler((String sni, io.netty.util.concurrent.Promise<SslContext> promise) -> {
        proxy.leaves().contextFor(sni != null ? sni : connectHost, promise);
        return promise;
      }));
      p.addBefore(SELF, "mitm-tls-codec", new HttpServerCodec());
      p.addBefore(SELF, "mitm-tls-chunked", new ChunkedWriteHandler());
      p.addBefore(SELF, "mitm-tls-aggregator", new HttpObjectAggregator(proxy.maxRequestBodyBytes()));
      p.context(CODEC).writeAndFlush(connectEstablished());
      p.remove(CODEC); // bytes it still held (an early ClientHello) flow on to the SNI handler
      log.debug("[{}] intercepting CONNECT {}", context.connection().id(), d);
      busy = false; // the CONNECT is answered; decrypted requests follow
      ctx.read();
      return;
    }
    context.connect(ConnectRequest.of(context.connection(), d)).addListener((Future<Upstream> f) -> {
      if (!f.isSuccess()) {
        sendError(dialStatus(f.cause()), "cannot reach " + d + ": " + f.cause().getMessage(), true);
        return;
      }
      if (!ctx.channel().isActive()) {
        f.getNow().channel().close();
        return;
      }
      p.context(CODEC).writeAndFlush(connectEstablished());
      context.relay(f.getNow());
      p.remove(this);
      p.remove(AGGREGATOR);
      p.remove(CHUNKED);
      p.remove(CODEC);
    });
  }

  private static ByteBuf connectEstablished() {
    return Unpooled.copiedBuffer("HTTP/1.1 200 Connection established\r\n\r\n", StandardCharsets.US_ASCII);
  }

  // --- upstream

  /** A request being served; {@code request} is owned until written upstream. */
  private record Request(String scheme, String host, int port, FullHttpRequest request, HttpExchange exchange) {
    Request retained() {
      request.retain();
      return this;
    }
  }

  /** Receives an upstream response; every method owns what it is given. */
  private interface Sink {
    void head(HttpResponse response, UpstreamCall call);

    void content(HttpContent content, UpstreamCall call);

    void failed(int status, String reason);

    /** The upstream read batch ended: what was written so far goes out. */
    default void flush() {
    }
  }

  /** Sends {@code r.request()} (released) upstream over a new connection. */
  private void fetch(Request r, Sink sink) {
    fetch(r.scheme(), r.host(), r.port(), r.request(), sink);
  }

  private void fetch(String scheme, String host, int port, FullHttpRequest request, Sink sink) {
    UpstreamPool.Key key = new UpstreamPool.Key(scheme, HostSet.normalise(host), port,
        context.connection().listener(), context.connection().client().getAddress());
    UpstreamPool pool = proxy.pool();
    if (pool.enabled() && IDEMPOTENT.contains(request.method())) {
      // a connection dialed under rules since replaced (a reload) is closed, not reused: the rules in force route
      Upstream pooled = pool.poll(ctx.channel().eventLoop(), key, context::isRoutedUnderCurrentRules);
      if (pooled != null) {
        // a dead pooled connection is only found out by using it: then the request goes once more, freshly dialed
        send(pooled, request, sink, key, () -> dial(scheme, host, port, request, sink, key));
        return;
      }
    }
    dial(scheme, host, port, request, sink, key);
  }

  private void dial(String scheme, String host, int port, FullHttpRequest request, Sink sink, UpstreamPool.Key key) {
    Destination d = Destination.of(host, port);
    ConnectRequest cr = ConnectRequest.of(context.connection(), d);
    // detached: the connection may outlive this client (a shared cache download, or kept for reuse);
    // channelInactive ends a call its client no longer wants
    Future<Upstream> dial = context.connectDetached(cr);
    dial.addListener((Future<Upstream> f) -> {
      if (!f.isSuccess()) {
        request.release();
        sink.failed(dialStatus(f.cause()), "cannot reach " + d + ": " + f.cause().getMessage());
        return;
      }
      Upstream upstream = f.getNow();
      Channel up = upstream.channel();
      if (scheme.equals("https")) {
        SslHandler ssl = proxy.upstreamContext().newHandler(up.alloc(), host, port);
        up.pipeline().addLast("mitm-upstream-tls", ssl);
        up.pipeline().addLast("mitm-upstream-guard", new ChannelInboundHandlerAdapter() {
          @Override
          public void exceptionCaught(ChannelHandlerContext c, Throwable cause) {
            // a handshake failure is reported through the handshake future; later ones close the call
            log.debug("[{}] upstream {} failed: {}", context.connection().id(), d, cause.toString());
            c.close();
          }
        });
        ssl.handshakeFuture().addListener(hs -> {
          if (!hs.isSuccess()) {
            request.release();
            up.close();
            String reason = rootMessage(hs.cause());
            String why = reason.contains("PKIX")
                ? "upstream certificate of " + d + " is not trusted: " + reason
                : "upstream TLS handshake with " + d + " failed: " + reason;
            log.warn("[{}] {}", context.connection().id(), why);
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
   * Sends {@code request} (owned) over {@code up}; {@code retry}, for a pooled connection, sends it again
   * over a new one when {@code up} fails before the response starts.
   */
  private void send(Upstream upstream, FullHttpRequest request, Sink sink, UpstreamPool.Key key, Runnable retry) {
    Channel up = upstream.channel();
    UpstreamCall call = new UpstreamCall(upstream, sink, key, retry != null ? request : null, retry);
    if (!(sink instanceof FillSink)) {
      currentCall = call;
    }
    ChannelPipeline p = up.pipeline();
    if (p.get("mitm-upstream-codec") == null) {
      // a stalled origin must not hold a (possibly shared) download forever
      p.addLast("mitm-upstream-timeout",
          new ReadTimeoutHandler(context.timeouts().relayIdle().toMillis(), TimeUnit.MILLISECONDS));
      p.addLast("mitm-upstream-codec", new HttpClientCodec());
    }
    p.addLast("mitm-upstream", call);
    up.writeAndFlush(retry != null ? request.retainedDuplicate() : request).addListener(w -> {
      if (!w.isSuccess()) {
        call.fail(502, "upstream write failed: " + w.cause().getMessage());
      }
    });
    up.read();
  }

  /**
   * The upstream end of one request. When the response has ended and both sides keep the connection
   * alive, {@link #close} returns the connection to the pool instead of closing it.
   */
  private final class UpstreamCall extends ChannelInboundHandlerAdapter {
    private final Sink sink;
    private final UpstreamPool.Key key;
    private final Upstream upstream;
    private Channel channel;
    private boolean done;
    private boolean headSeen;
    private boolean complete;
    private boolean reusable;
    private boolean ended;
    /** The request, kept for {@link #retry} until the response starts. */
    private FullHttpRequest kept;
    private Runnable retry;

    UpstreamCall(Upstream upstream, Sink sink, UpstreamPool.Key key, FullHttpRequest kept, Runnable retry) {
      this.upstream = upstream;
      this.sink = sink;
      this.key = key;
      this.kept = kept;
      this.retry = retry;
    }

    private void releaseKept() {
      retry = null;
      if (kept != null) {
        kept.release();
        kept = null;
      }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext c) {
      channel = c.channel();
    }

    void readMore() {
      if (!done) {
        channel.read();
      }
    }

    /** Ends the call: the connection goes back to the pool if the response is complete, else closes. */
    void close() {
      done = true;
      if (ended) {
        return; // the connection may be pooled (or in use by another call) by now
      }
      ended = true;
      releaseKept();
      if (currentCall == this) {
        currentCall = null;
      }
      if (complete && reusable && channel.isActive() && channel.pipeline().get(UpstreamCall.class) == this) {
        channel.pipeline().remove(this);
        proxy.pool().offer(key, upstream);
      } else {
        channel.close();
      }
    }

    /** Ends the call and closes the connection (its client went away mid-response). */
    void abort() {
      complete = false;
      close();
    }

    void fail(int status, String reason) {
      if (!done) {
        done = true;
        ended = true;
        channel.close();
        if (currentCall == this) {
          currentCall = null;
        }
        if (!headSeen && retry != null && (ctx.channel().isActive() || sink instanceof FillSink)) {
          log.debug("[{}] reused upstream connection to {}:{} failed ({}), sending again on a new one", context.connection().id(), key.host(),
              key.port(), reason);
          Runnable again = retry;
          kept = null; // owned by the retry now
          retry = null;
          again.run();
          return;
        }
        releaseKept();
        sink.failed(status, reason);
      }
    }

    @Override
    public void channelRead(ChannelHandlerContext c, Object msg) {
      if (done) {
        ReferenceCountUtil.release(msg);
        return;
      }
      if (msg instanceof io.netty.handler.codec.http.HttpObject o && o.decoderResult().isFailure()) {
        ReferenceCountUtil.release(msg);
        fail(502, "bad response from upstream: " + o.decoderResult().cause().getMessage());
        return;
      }
      if (msg instanceof HttpResponse resp) {
        int code = resp.status().code();
        if (code >= 100 && code < 200) {
          ReferenceCountUtil.release(msg);
          channel.read();
          return;
        }
        headSeen = true;
        releaseKept(); // the response started: no retry any more
        reusable = HttpUtil.isKeepAlive(resp);
        sink.head(new DefaultHttpResponse(resp.protocolVersion(), resp.status(), resp.headers()), this);
        if (msg instanceof FullHttpResponse full) {
          HttpContent rest = new DefaultLastHttpContent(full.content());
          complete = true;
          if (!done) {
            sink.content(rest, this);
          } else {
            rest.release();
          }
        }
        return;
      }
      if (msg instanceof HttpContent content && headSeen) {
        BlobCache cache = proxy.cacheOrNull();
        if (cache != null) {
          cache.recordUpstreamBytes(content.content().readableBytes());
        }
        if (content instanceof LastHttpContent) {
          done = true;
          complete = true;
        }
        sink.content(content, this);
        return;
      }
      ReferenceCountUtil.release(msg);
      channel.read();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext c) {
      // reads are requested by the sink once it passed a chunk on; one flush per upstream read batch
      sink.flush();
    }

    @Override
    public void channelInactive(ChannelHandlerContext c) {
      fail(502, "upstream closed the connection before the response ended");
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext c, Throwable cause) {
      fail(502, "upstream failed: " + rootMessage(cause));
    }
  }

  /** Passes the response through unchanged (except hop-by-hop headers). */
  private class RelaySink implements Sink {
    final Request r;
    boolean headSent;

    RelaySink(Request r) {
      this.r = r;
    }

    @Override
    public void head(HttpResponse response, UpstreamCall call) {
      prepareResponse(response, r);
      writeHead(response, r.exchange(), false);
      headSent = true;
      call.readMore();
    }

    @Override
    public void content(HttpContent content, UpstreamCall call) {
      if (!ctx.channel().isActive()) {
        content.release();
        call.close();
        return;
      }
      if (content instanceof LastHttpContent) {
        call.close();
        ctx.writeAndFlush(content).addListener(f -> finish());
      } else if (ctx.channel().isWritable()) {
        // flushed at the end of the upstream read batch (head, body and end often arrive in one)
        ctx.write(content).addListener(f -> {
          if (!f.isSuccess()) {
            call.close();
          }
        });
        call.readMore();
      } else {
        ctx.writeAndFlush(content).addListener(f -> {
          if (f.isSuccess()) {
            call.readMore();
          } else {
            call.close();
          }
        });
      }
    }

    @Override
    public void flush() {
      ctx.flush();
    }

    @Override
    public void failed(int status, String reason) {
      if (headSent) {
        ctx.close();
      } else {
        sendError(status, reason, false);
      }
    }
  }

  /** Stores a cacheable response while passing it to the client; follows redirects. */
  private class FillSink extends RelaySink {
    final CacheWriter writer;
    private URI current;
    private int redirects;
    private boolean storing;
    private boolean ended;
    private boolean keptReleased;

    FillSink(Request r, CacheWriter writer) {
      super(r);
      this.writer = writer;
      this.current = r.exchange().uri();
    }

    @Override
    public void head(HttpResponse response, UpstreamCall call) {
      int code = response.status().code();
      String location = response.headers().get(HttpHeaderNames.LOCATION);
      if ((code == 301 || code == 302 || code == 303 || code == 307 || code == 308) && location != null
          && redirects < proxy.maxRedirects()) {
        call.close();
        URI next;
        try {
          next = current.resolve(location.trim());
        } catch (IllegalArgumentException e) {
          failed(502, "bad redirect Location from " + current.getHost() + ": " + location);
          return;
        }
        String scheme = next.getScheme() == null ? "" : next.getScheme().toLowerCase(Locale.ROOT);
        if (!(scheme.equals("http") || scheme.equals("https")) || next.getHost() == null) {
          failed(502, "unsupported redirect Location from " + current.getHost() + ": " + location);
          return;
        }
        redirects++;
        int port = next.getPort() >= 0 ? next.getPort() : scheme.equals("https") ? 443 : 80;
        FullHttpRequest follow = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, originForm(next),
            Unpooled.EMPTY_BUFFER, r.request().headers().copy(), r.request().trailingHeaders().copy());
        if (!next.getHost().equalsIgnoreCase(current.getHost())) {
          follow.headers().remove(HttpHeaderNames.AUTHORIZATION);
        }
        follow.headers().set(HttpHeaderNames.HOST, authority(scheme, next.getHost(), port));
        log.debug("[{}] following redirect {} -> {} for {}", context.connection().id(), current, next, writer.key());
        current = next;
        fetch(scheme, next.getHost(), port, follow, this);
        return;
      }
      releaseKept(); // the request kept for redirects
      Optional<String> reason = proxy.cacheOrNull().policy().uncacheableReason("GET", code, response.headers());
      if (reason.isPresent()) {
        log.info("[{}] not caching {}: {}", context.connection().id(), writer.key(), reason.get());
        end(writer.abort(new CacheException("not cacheable: " + reason.get())));
      } else {
        writer.start(response.headers());
        storing = true;
      }
      response.headers().set("X-Cache", "MISS");
      super.head(response, call);
    }

    @Override
    public void content(HttpContent content, UpstreamCall call) {
      if (!storing) {
        super.content(content, call);
        return;
      }
      boolean last = content instanceof LastHttpContent;
      ByteBuf data = content.content();
      CompletableFuture<Void> stored = data.isReadable()
          ? writer.write(data.retainedDuplicate()) : CompletableFuture.completedFuture(null);
      CompletableFuture<Void> sent = new CompletableFuture<>();
      if (last) {
        // the end of the body reaches the client after the commit, so whatever it asks next is a hit
        sent.complete(null);
      } else if (ctx.channel().isActive()) {
        ctx.writeAndFlush(content).addListener(f -> sent.complete(null));
      } else {
        content.release();
        sent.complete(null);
      }
      CompletableFuture.allOf(stored, sent).whenComplete((v, t) -> ctx.executor().execute(() -> {
        if (t != null) {
          storing = false;
          log.warn("[{}] storing {} failed: {}", context.connection().id(), writer.key(), rootMessage(t));
        }
        if (last) {
          call.close();
          if (storing) {
            storing = false;
            // the next request on this connection waits for the commit, so it is a hit
            end(writer.commit().handle((entry, err) -> {
              boolean badBody = false;
              if (err != null) {
                badBody = isDigestMismatch(err);
                log.warn("[{}] not cached {}: {}{}", context.connection().id(), writer.key(), rootMessage(err),
                    badBody ? " (aborting the response so the client sees a bad body)" : "");
              } else {
                log.info("[{}] cached {} ({} bytes)", context.connection().id(), writer.key(), entry.length());
                entry.close();
              }
              boolean abortResponse = badBody;
              ctx.executor().execute(() -> {
                if (abortResponse) {
                  // the end of the body is withheld: no last chunk, or short of Content-Length
                  content.release();
                  ctx.close();
                } else {
                  writeLast(content);
                }
              });
              return null;
            }));
          } else {
            writeLast(content);
          }
        } else {
          call.readMore();
        }
      }));
    }

    @Override
    public void failed(int status, String reason) {
      releaseKept();
      if (!ended) {
        storing = false;
        end(writer.abort(new CacheException(reason)));
      }
      super.failed(status, reason);
    }

    private void writeLast(HttpContent content) {
      if (ctx.channel().isActive()) {
        ctx.writeAndFlush(content).addListener(f -> finish());
      } else {
        content.release();
      }
    }

    void releaseKept() {
      if (!keptReleased) {
        keptReleased = true;
        r.request().release();
      }
    }

    void end(CompletableFuture<?> f) {
      ended = true;
    }
  }

  /**
   * Revalidates a stale entry: a 304 refreshes it and serves it from disk, a new body replaces it
   * (as a {@link FillSink}), an origin error or 5xx serves it stale within the policy's bound.
   */
  private final class RevalidateSink extends FillSink {
    private final CacheEntry stale;
    private final String range;
    private HttpResponse notModified;

    RevalidateSink(Request r, CacheEntry stale, CacheWriter writer, String range) {
      super(r, writer);
      this.stale = stale;
      this.range = range;
    }

    @Override
    public void head(HttpResponse response, UpstreamCall call) {
      int code = response.status().code();
      if (code == 304) {
        notModified = response;
        call.readMore(); // its end follows
        return;
      }
      if (code >= 500 && serveStale(call, "origin answered " + code)) {
        return;
      }
      stale.close();
      super.head(response, call);
    }

    @Override
    public void content(HttpContent content, UpstreamCall call) {
      if (notModified == null) {
        super.content(content, call);
        return;
      }
      boolean last = content instanceof LastHttpContent;
      content.release();
      if (!last) {
        call.readMore();
        return;
      }
      call.close();
      releaseKept();
      String id = context.connection().id();
      end(writer.notModified(notModified.headers()).handle((entry, err) -> {
        ctx.executor().execute(() -> {
          if (err != null) {
            log.info("[{}] revalidated {} (304) but could not refresh it: {}", id, writer.key(), rootMessage(err));
            serveHit(stale, r.exchange(), range, true, "REVALIDATED");
          } else {
            log.info("[{}] cache REVALIDATED {} (304)", id, writer.key());
            stale.close();
            serveHit(entry, r.exchange(), range, true, "REVALIDATED");
          }
        });
        return null;
      }));
    }

    @Override
    public void failed(int status, String reason) {
      if (notModified == null && !headSent && serveStale(null, reason)) {
        return;
      }
      if (!headSent && notModified == null) {
        stale.close();
      }
      super.failed(status, reason);
    }

    /** Serves the stale entry when the policy allows it; false when it does not. */
    private boolean serveStale(UpstreamCall call, String why) {
      Optional<CacheEntry> allowed = proxy.cacheOrNull().lookupStale(writer.key());
      if (allowed.isEmpty()) {
        return false;
      }
      if (call != null) {
        call.abort();
      }
      stale.close();
      releaseKept();
      end(writer.abort(new CacheException("revalidation failed: " + why)));
      log.warn("[{}] cache STALE {}: {}", context.connection().id(), writer.key(), why);
      serveHit(allowed.get(), r.exchange(), range, true, "STALE");
      return true;
    }
  }

  /** Streams a download another client leads, as it arrives. */
  private void join(CacheReader reader, Request r) {
    reader.response().whenComplete((headers, t) -> ctx.executor().execute(() -> {
      if (t != null) {
        reader.close();
        Optional<CacheEntry> stale = proxy.cacheOrNull().lookupStale(reader.key());
        if (stale.isPresent()) {
          log.info("[{}] joined revalidation of {} failed ({}), serving STALE", context.connection().id(),
              reader.key(), rootMessage(t));
          String range = r.request().headers().get(HttpHeaderNames.RANGE);
          r.request().release();
          serveHit(stale.get(), r.exchange(), range, true, "STALE");
          return;
        }
        log.info("[{}] joined download of {} failed before its head ({}), forwarding uncached", context.connection().id(), reader.key(),
            rootMessage(t));
        fetch(r, new RelaySink(r));
        return;
      }
      r.request().release();
      HttpResponse resp = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
      headers.forEach(resp.headers()::set);
      if (!resp.headers().contains(HttpHeaderNames.CONTENT_LENGTH)) {
        HttpUtil.setTransferEncodingChunked(resp, true);
      }
      resp.headers().set("X-Cache", "JOIN");
      writeHead(resp, r.exchange(), true);
      ctx.flush();
      readJoined(reader);
    }));
  }

  private void readJoined(CacheReader reader) {
    if (!ctx.channel().isActive()) {
      reader.close();
      return;
    }
    ByteBuf buf = ctx.alloc().directBuffer(CHUNK, CHUNK);
    reader.read(buf).whenComplete((n, t) -> ctx.executor().execute(() -> {
      if (t != null || n == null) {
        buf.release();
        reader.close();
        log.warn("[{}] joined download of {} failed: {}", context.connection().id(), reader.key(), rootMessage(t));
        ctx.close();
      } else if (n < 0) {
        buf.release();
        reader.close();
        ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(f -> finish());
      } else {
        ctx.writeAndFlush(new DefaultHttpContent(buf)).addListener(f -> {
          if (f.isSuccess()) {
            readJoined(reader);
          } else {
            reader.close();
          }
        });
      }
    }));
  }

  // --- cache hits

  /** Serves a committed entry (owned); {@code range} is the client's Range header or null. */
  private void serveHit(CacheEntry entry, HttpExchange exchange, String range, boolean body, String xCache) {
    long length = entry.length();
    HttpResponse resp = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    for (Map.Entry<String, String> e : entry.headers().entrySet()) {
      if (!e.getKey().equals("Date")) { // kept for freshness; this answer is not the origin's of that time
        resp.headers().set(e.getKey(), e.getValue());
      }
    }
    resp.headers().set(HttpHeaderNames.ACCEPT_RANGES, HttpHeaderValues.BYTES);
    resp.headers().set("X-Cache", xCache);
    long from = 0;
    long count = length;
    if (range != null) {
      RangeSpec spec = RangeSpec.parse(range, length);
      if (spec.outcome() == RangeSpec.Outcome.UNSATISFIABLE) {
        entry.close();
        FullHttpResponse bad = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
            HttpResponseStatus.REQUESTED_RANGE_NOT_SATISFIABLE);
        bad.headers().set(HttpHeaderNames.CONTENT_RANGE, spec.unsatisfiedContentRange());
        HttpUtil.setContentLength(bad, 0);
        writeHead(bad, exchange, true);
        ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(f -> finish());
        return;
      }
      if (spec.outcome() == RangeSpec.Outcome.PARTIAL && spec.ranges().size() == 1) {
        // several ranges are served as the whole body (allowed: a server may ignore Range)
        ByteRange br = spec.ranges().get(0);
        resp.setStatus(HttpResponseStatus.PARTIAL_CONTENT);
        resp.headers().set(HttpHeaderNames.CONTENT_RANGE, br.contentRange(length));
        from = br.first();
        count = br.length();
      }
    }
    HttpUtil.setContentLength(resp, count);
    resp.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
    writeHead(resp, exchange, true);
    if (!body || count == 0) {
      entry.close();
      ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(f -> finish());
      return;
    }
    long position = from;
    long n = count;
    if (ctx.pipeline().get(SslHandler.class) == null) {
      // plain connection: sendfile
      entry.openRegion(position, n).whenComplete((region, t) -> ctx.executor().execute(() -> {
        entry.close();
        if (t != null) {
          log.warn("[{}] serving {} failed: {}", context.connection().id(), entry.key(), rootMessage(t));
          ctx.close();
          return;
        }
        ctx.write(region);
        ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(f -> finish());
      }));
    } else {
      CompletableFuture.supplyAsync(() -> {
        try {
          return entry.openChannel();
        } catch (java.io.IOException e) {
          throw new CompletionException(e);
        }
      }, proxy.executor()).whenComplete((FileChannel fc, Throwable t) -> ctx.executor().execute(() -> {
        if (t != null) {
          entry.close();
          log.warn("[{}] serving {} failed: {}", context.connection().id(), entry.key(), rootMessage(t));
          ctx.close();
          return;
        }
        try {
          ctx.writeAndFlush(new HttpChunkedInput(new ChunkedNioFile(fc, position, n, CHUNK))).addListener(f -> {
            if (f.isSuccess()) {
              proxy.cacheOrNull().recordServed(n);
            }
            entry.close();
            finish();
          });
        } catch (java.io.IOException e) {
          entry.close();
          ctx.close();
        }
      }));
    }
  }

  // --- helpers

  private void prepareResponse(HttpResponse response, Request r) {
    HttpHeaders h = response.headers();
    h.remove(HttpHeaderNames.CONNECTION);
    h.remove(HttpHeaderNames.KEEP_ALIVE);
    h.remove("Proxy-Connection");
    int code = response.status().code();
    boolean bodyless = r.request().method().equals(HttpMethod.HEAD) || code == 204 || code == 304;
    if (!bodyless && !HttpUtil.isContentLengthSet(response) && !HttpUtil.isTransferEncodingChunked(response)) {
      HttpUtil.setTransferEncodingChunked(response, true);
    }
  }

  private void writeHead(HttpResponse response, HttpExchange exchange, boolean fromCache) {
    exchange.response(response.status().code(), response.headers(), fromCache);
    for (HttpInterceptor i : proxy.interceptors()) {
      i.onResponse(exchange);
    }
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

  private void sendError(int status, String text, boolean close) {
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
    HttpUtil.setContentLength(resp, body.length);
    if (!keepAlive) {
      resp.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }
    ctx.writeAndFlush(resp).addListener(f -> finish());
  }

  private void finish() {
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

  private static boolean isDigestMismatch(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof dev.conduit.mitm.cache.DigestMismatchException) {
        return true;
      }
    }
    return false;
  }

  private static int dialStatus(Throwable cause) {
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

  private static String originForm(URI u) {
    String path = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
    return u.getRawQuery() == null ? path : path + "?" + u.getRawQuery();
  }

  private static String authority(String scheme, String host, int port) {
    String h = host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
    boolean defaultPort = scheme.equals("https") ? port == 443 : port == 80;
    return defaultPort ? h : h + ":" + port;
  }
}
