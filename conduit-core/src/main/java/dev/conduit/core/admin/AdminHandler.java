package dev.conduit.core.admin;

import static java.util.Objects.requireNonNull;
import dev.conduit.core.internal.format.FieldWriter;
import dev.conduit.core.internal.format.SummaryFields;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.overload.OverloadLevel;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.ssl.SslHandler;
import dev.conduit.core.pki.PeerIdentity;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Handles one admin connection's requests for an {@link AdminServer}. Stateful per connection: never shared. */
final class AdminHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
private static final String JSON = AdminResponse.JSON;
private static final String TEXT = AdminResponse.TEXT;
private static final long HEALTH_TIMEOUT_MS = AdminServer.HEALTH_TIMEOUT_MS;

private final AdminServer server;

AdminHandler(AdminServer server) {
  this.server = server;
}


  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
    if (req.decoderResult().isFailure()) {
      send(ctx, req, HttpResponseStatus.BAD_REQUEST, TEXT, "bad request: " + req.decoderResult().cause().getMessage(),
          true);
      return;
    }
    Optional<PeerIdentity> certificate = clientCertificate(ctx);
    if (!authorized(req, certificate)) {
      FullHttpResponse r = response(HttpResponseStatus.UNAUTHORIZED, TEXT, "unauthorized: bearer token required");
      r.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"conduit-admin\"");
      write(ctx, req, r, false);
      return;
    }
    String path = new QueryStringDecoder(req.uri()).path();
    HttpMethod method = req.method();
    try {
      route(ctx, req, path, method, certificate);
    } catch (RuntimeException e) {
      log.warn("admin {} {} failed", method, path, e);
      send(ctx, req, HttpResponseStatus.INTERNAL_SERVER_ERROR, TEXT, "internal error: " + e, false);
    }
  }

  private void route(ChannelHandlerContext ctx, FullHttpRequest req, String path, HttpMethod method,
      Optional<PeerIdentity> certificate) {
    boolean get = method.equals(HttpMethod.GET);
    switch (path) {
      case "/metrics" -> {
        if (!get) {
          notAllowed(ctx, req, "GET");
        } else if (server.metrics == null) {
          send(ctx, req, HttpResponseStatus.NOT_FOUND, TEXT, "no metrics configured", false);
        } else {
          send(ctx, req, HttpResponseStatus.OK, server.metricsContentType, server.metrics.get(), false);
        }
      }
      case "/healthz" -> {
        if (!get) {
          notAllowed(ctx, req, "GET");
        } else {
          health(ctx, req);
        }
      }
      case "/readyz" -> {
        if (!get) {
          notAllowed(ctx, req, "GET");
        } else {
          // the overload level is always said; refusing new requests, the conduit is not ready for more
          OverloadLevel level = server.conduit == null ? OverloadLevel.NORMAL : server.conduit.overloadStatus().level();
          boolean ready = server.readiness.getAsBoolean() && !level.refusesNewWork();
          send(ctx, req, ready ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE, TEXT,
              (ready ? "ready" : "not ready") + "\noverload: " + level.name().toLowerCase(Locale.ROOT), false);
        }
      }
      case "/config" -> {
        if (!get) {
          notAllowed(ctx, req, "GET");
        } else if (server.config == null) {
          send(ctx, req, HttpResponseStatus.NOT_FOUND, TEXT, "no config configured", false);
        } else {
          send(ctx, req, HttpResponseStatus.OK, server.configContentType, server.config.get(), false);
        }
      }
      case "/connections" -> {
        if (!get) {
          notAllowed(ctx, req, "GET");
        } else if (server.conduit == null) {
          send(ctx, req, HttpResponseStatus.NOT_FOUND, TEXT, "no conduit configured", false);
        } else {
          send(ctx, req, HttpResponseStatus.OK, JSON, connectionsJson(server.conduit.connections()), false);
        }
      }
      default -> {
        AdminRoute mounted = mountedRoute(path);
        if (mounted != null) {
          mounted(ctx, req, path, mounted, certificate);
        } else if (path.startsWith("/connections/") && server.conduit != null) {
          connection(ctx, req, path.substring("/connections/".length()), method);
        } else {
          send(ctx, req, HttpResponseStatus.NOT_FOUND, TEXT, "not found: " + path, false);
        }
      }
    }
  }

  /** Runs a mounted route on the route executor and writes its answer on this connection's loop. */
  private void mounted(ChannelHandlerContext ctx, FullHttpRequest req, String path, AdminRoute route,
      Optional<PeerIdentity> certificate) {
    QueryStringDecoder query = new QueryStringDecoder(req.uri());
    Map<String, String> headers = new HashMap<>();
    req.headers().forEach(h -> headers.put(h.getKey().toLowerCase(Locale.ROOT), h.getValue()));
    byte[] body = new byte[req.content().readableBytes()];
    req.content().getBytes(req.content().readerIndex(), body);
    AdminRequest request = new AdminRequest(req.method().name(), path, query.parameters(), headers, body,
        certificate);
    boolean keepAlive = HttpUtil.isKeepAlive(req);
    try {
      server.routeExecutor.execute(() -> {
        FullHttpResponse r = answer(route, request);
        ctx.executor().execute(() -> {
          if (!keepAlive) {
            HttpUtil.setKeepAlive(r, false);
          }
          ctx.writeAndFlush(r);
        });
      });
    } catch (RejectedExecutionException busy) {
      send(ctx, req, HttpResponseStatus.SERVICE_UNAVAILABLE, TEXT, "admin busy: too many requests in progress", false);
    }
  }

  private void connection(ChannelHandlerContext ctx, FullHttpRequest req, String id, HttpMethod method) {
    if (method.equals(HttpMethod.DELETE)) {
      if (!id.isEmpty() && server.conduit.closeConnection(id)) {
        write(ctx, req, response(HttpResponseStatus.NO_CONTENT, null, null), false);
      } else {
        send(ctx, req, HttpResponseStatus.NOT_FOUND, TEXT, "no connection " + id, false);
      }
    } else if (method.equals(HttpMethod.GET)) {
      for (ConnectionSummary s : server.conduit.connections()) {
        if (s.connection().id().equals(id)) {
          FieldWriter w = FieldWriter.json().reset();
          SummaryFields.write(w, s);
          send(ctx, req, HttpResponseStatus.OK, JSON, w.finish(), false);
          return;
        }
      }
      send(ctx, req, HttpResponseStatus.NOT_FOUND, TEXT, "no connection " + id, false);
    } else {
      notAllowed(ctx, req, "GET, DELETE");
    }
  }

  /** Runs a no-op on every event loop of the server.conduit; healthy when all answer in time. */
  private void health(ChannelHandlerContext ctx, FullHttpRequest req) {
    if (server.conduit == null) {
      send(ctx, req, HttpResponseStatus.OK, TEXT, "ok", false);
      return;
    }
    if (server.conduit.resources().eventLoopGroup().isShuttingDown()) {
      send(ctx, req, HttpResponseStatus.SERVICE_UNAVAILABLE, TEXT, "event loops shutting down", false);
      return;
    }
    List<EventExecutor> loops = new ArrayList<>();
    server.conduit.resources().eventLoopGroup().forEach(loops::add);
    AtomicInteger remaining = new AtomicInteger(loops.size());
    AtomicBoolean answered = new AtomicBoolean();
    boolean keepAlive = HttpUtil.isKeepAlive(req);
    ScheduledFuture<?> timeout = ctx.executor().schedule(() -> {
      if (answered.compareAndSet(false, true)) {
        send(ctx, keepAlive, HttpResponseStatus.SERVICE_UNAVAILABLE, TEXT,
            remaining.get() + " event loop(s) did not run a task within " + HEALTH_TIMEOUT_MS + " ms");
      }
    }, HEALTH_TIMEOUT_MS, TimeUnit.MILLISECONDS);
    for (EventExecutor loop : loops) {
      Future<?> f;
      try {
        f = loop.submit(() -> { });
      } catch (RuntimeException rejected) {
        f = ctx.executor().newFailedFuture(rejected);
      }
      f.addListener(done -> ctx.executor().execute(() -> {
        if (!done.isSuccess()) {
          if (answered.compareAndSet(false, true)) {
            timeout.cancel(false);
            send(ctx, keepAlive, HttpResponseStatus.SERVICE_UNAVAILABLE, TEXT, "event loop rejected a task");
          }
        } else if (remaining.decrementAndGet() == 0 && answered.compareAndSet(false, true)) {
          timeout.cancel(false);
          send(ctx, keepAlive, HttpResponseStatus.OK, TEXT, "ok");
        }
      }));
    }
  }

  /** The verified client certificate's identity, when the endpoint asks for them and the client sent one. */
  private Optional<PeerIdentity> clientCertificate(ChannelHandlerContext ctx) {
    if (!server.acceptsClientCertificates()) {
      return Optional.empty();
    }
    SslHandler tls = ctx.pipeline().get(SslHandler.class);
    return tls == null ? Optional.empty() : PeerIdentity.of(tls.engine().getSession());
  }

  private boolean authorized(FullHttpRequest req, Optional<PeerIdentity> certificate) {
    if (server.expectedAuthorization == null || certificate.isPresent()) {
      return true;
    }
    String given = req.headers().get(HttpHeaderNames.AUTHORIZATION);
    return given != null && MessageDigest.isEqual(server.expectedAuthorization, given.getBytes(StandardCharsets.UTF_8));
  }

  private void notAllowed(ChannelHandlerContext ctx, FullHttpRequest req, String allow) {
    FullHttpResponse r = response(HttpResponseStatus.METHOD_NOT_ALLOWED, TEXT, "method not allowed: " + req.method());
    r.headers().set(HttpHeaderNames.ALLOW, allow);
    write(ctx, req, r, false);
  }

  private void send(ChannelHandlerContext ctx, FullHttpRequest req, HttpResponseStatus status, String type,
      String body, boolean close) {
    write(ctx, req, response(status, type, body), close);
  }

  private void send(ChannelHandlerContext ctx, boolean keepAlive, HttpResponseStatus status, String type,
      String body) {
    FullHttpResponse r = response(status, type, body);
    if (!keepAlive) {
      // HttpServerKeepAliveHandler saw the request: it closes after this response
      HttpUtil.setKeepAlive(r, false);
    }
    ctx.writeAndFlush(r);
  }

  private void write(ChannelHandlerContext ctx, FullHttpRequest req, FullHttpResponse r, boolean close) {
    if (close) {
      HttpUtil.setKeepAlive(r, false);
      ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
    } else {
      ctx.writeAndFlush(r);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("admin connection {}: {}", ctx.channel().remoteAddress(), cause.toString());
    ctx.close();
  }

  /** The longest mounted prefix that is the path or a parent of it, or null. */
  private AdminRoute mountedRoute(String path) {
    java.util.Map<String, AdminRoute> routes = server.routes;
    String best = null;
    for (String prefix : routes.keySet()) {
      boolean matches = path.equals(prefix) || path.startsWith(prefix.endsWith("/") ? prefix : prefix + "/");
      if (matches && (best == null || prefix.length() > best.length())) {
        best = prefix;
      }
    }
    return best == null ? null : routes.get(best);
  }

  static FullHttpResponse answer(AdminRoute route, AdminRequest request) {
    AdminResponse answer;
    try {
      answer = requireNonNull(route.handle(request), "route answered null");
    } catch (IllegalArgumentException bad) {
      answer = AdminResponse.text(400, "bad request: " + bad.getMessage() + "\n");
    } catch (Exception | Error e) {
      log.warn("admin {} failed", request, e);
      answer = AdminResponse.text(500, "internal error: " + e + "\n");
    }
    ByteBuf content = Unpooled.wrappedBuffer(answer.body());
    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(answer.status()),
        content);
    answer.headers().forEach((name, value) -> {
      if (name.equalsIgnoreCase("set-cookie")) { // one header line per cookie (AdminResponse#withHeader)
        for (String cookie : value.split("\n")) {
          r.headers().add(name, cookie);
        }
      } else {
        r.headers().set(name, value);
      }
    });
    if (answer.contentType() != null) {
      r.headers().set(HttpHeaderNames.CONTENT_TYPE, answer.contentType());
    }
    if (!r.headers().contains(HttpHeaderNames.CACHE_CONTROL)) {
      r.headers().set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
    }
    HttpUtil.setContentLength(r, content.readableBytes());
    return r;
  }

  static FullHttpResponse response(HttpResponseStatus status, String type, String body) {
    ByteBuf content = body == null ? Unpooled.EMPTY_BUFFER : Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
    if (type != null) {
      r.headers().set(HttpHeaderNames.CONTENT_TYPE, type);
    }
    r.headers().set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
    HttpUtil.setContentLength(r, content.readableBytes());
    return r;
  }

  /** The connections as a JSON array, one object per connection. */
  static String connectionsJson(List<ConnectionSummary> list) {
    StringBuilder sb = new StringBuilder(64 + list.size() * 400).append('[');
    FieldWriter w = FieldWriter.json();
    for (int i = 0; i < list.size(); i++) {
      if (i > 0) {
        sb.append(",\n");
      }
      w.reset();
      SummaryFields.write(w, list.get(i));
      w.finishTo(sb);
    }
    return sb.append("]\n").toString();
  }

}
