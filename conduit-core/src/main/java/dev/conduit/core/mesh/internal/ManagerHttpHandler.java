package dev.conduit.core.mesh.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.conduit.core.control.enrol.internal.ManagerCalls;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import java.net.InetSocketAddress;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import javax.net.ssl.SSLPeerUnverifiedException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies each request off the event loop's buffers, answers it on a worker (the API blocks on the store), and
 * writes the JSON answer back on the event loop. One request at a time per connection.
 */
public final class ManagerHttpHandler extends SimpleChannelInboundHandler<FullHttpRequest> {

  private static final Logger log = LoggerFactory.getLogger(ManagerHttpHandler.class);

  private final ManagerApi api;
  private final Executor workers;

  /** A handler answering with {@code api} on {@code workers}. */
  public ManagerHttpHandler(ManagerApi api, Executor workers) {
    this.api = api;
    this.workers = workers;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
    boolean keepAlive = HttpUtil.isKeepAlive(request);
    if (request.decoderResult().isFailure()) {
      write(ctx, ApiResponse.error(400, "bad request: " + request.decoderResult().cause().getMessage()), false);
      return;
    }
    String uri = request.uri();
    int q = uri.indexOf('?');
    ApiRequest copy = new ApiRequest(request.method().name(), q < 0 ? uri : uri.substring(0, q),
        q < 0 ? "" : uri.substring(q + 1), Optional.ofNullable(request.headers().get(HttpHeaderNames.AUTHORIZATION)),
        ByteBufUtil.getBytes(request.content()), peer(ctx),
        ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress());
    ctx.channel().config().setAutoRead(false); // one request at a time: the next waits for this answer
    try {
      workers.execute(() -> {
        ApiResponse response = api.handle(copy);
        ctx.executor().execute(() -> {
          write(ctx, response, keepAlive);
          ctx.channel().config().setAutoRead(true);
        });
      });
    } catch (RejectedExecutionException e) {
      write(ctx, ApiResponse.error(503, "the manager is busy; retry later"), false);
    }
  }

  private static Optional<X509Certificate> peer(ChannelHandlerContext ctx) {
    SslHandler ssl = ctx.pipeline().get(SslHandler.class);
    if (ssl == null) {
      return Optional.empty();
    }
    try {
      Certificate[] chain = ssl.engine().getSession().getPeerCertificates();
      return chain.length > 0 && chain[0] instanceof X509Certificate x ? Optional.of(x) : Optional.empty();
    } catch (SSLPeerUnverifiedException e) {
      return Optional.empty();
    }
  }

  private static void write(ChannelHandlerContext ctx, ApiResponse response, boolean keepAlive) {
    if (!ctx.channel().isActive()) {
      return;
    }
    byte[] body;
    try {
      body = ManagerCalls.JSON.writeValueAsBytes(response.body());
    } catch (JsonProcessingException e) {
      body = "{\"error\":\"internal error\"}".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }
    FullHttpResponse out = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
        HttpResponseStatus.valueOf(response.status()), Unpooled.wrappedBuffer(body));
    out.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
        .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length)
        .set(HttpHeaderNames.CACHE_CONTROL, "no-store");
    if (response.status() == 429 || response.status() == 503) {
      out.headers().set(HttpHeaderNames.RETRY_AFTER, "1");
    }
    if (response.status() == 401) {
      out.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"conduit manager\"");
    }
    if (keepAlive) {
      out.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
      ctx.writeAndFlush(out);
    } else {
      out.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
      ctx.writeAndFlush(out).addListener(ChannelFutureListener.CLOSE);
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
    if (event instanceof IdleStateEvent) {
      ctx.close();
      return;
    }
    super.userEventTriggered(ctx, event);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("manager: connection from {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
    ctx.close();
  }
}
