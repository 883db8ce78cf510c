package dev.conduit.mitm;

import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands the bodies an {@link HttpInterceptor} asked for to {@link HttpInterceptor#onRequestBody} and
 * {@link HttpInterceptor#onResponseBody}, bounded by {@link MitmProxy#interceptedBodyLimit()}.
 */
final class BodyInterception {

  private static final Logger log = LoggerFactory.getLogger(BodyInterception.class);

  private BodyInterception() {
  }

  /**
   * Offers the (already aggregated) request body to the interceptors; returns the request to forward,
   * {@code req} itself or, if replaced, a new one ({@code req} is then released).
   */
  static FullHttpRequest requestBody(FullHttpRequest req, InterceptedExchange exchange, MitmProxy proxy) {
    int length = req.content().readableBytes();
    InterceptedBody body = length > proxy.interceptedBodyLimit()
        ? InterceptedBody.tooLarge(length)
        : InterceptedBody.of(ByteBufUtil.getBytes(req.content()));
    for (HttpInterceptor i : proxy.interceptors()) {
      i.onRequestBody(exchange, body);
    }
    byte[] replacement = body.replacement();
    if (replacement == null) {
      return req;
    }
    FullHttpRequest replaced = req.replace(Unpooled.wrappedBuffer(replacement));
    req.release();
    replaced.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
    HttpUtil.setContentLength(replaced, replacement.length);
    return replaced;
  }

  /**
   * A {@link RelaySink} that, when the response body was asked for, holds the head and collects the body
   * up to the limit, then writes the (possibly replaced) body with its length; over the limit it tells the
   * interceptors and relays what it held and the rest unchanged. Bodies not asked for are relayed as they come.
   */
  static final class Relay extends RelaySink {
    private final int limit;
    /** The head held while the body is collected, else null. */
    private HttpResponse held;
    private CompositeByteBuf collected;
    /** Releases what was collected when the client goes away (the upstream call is aborted then). */
    private final ChannelFutureListener onClientClosed = f -> releaseCollected();

    Relay(ProxyHandler handler, ProxiedRequest r) {
      super(handler, r);
      this.limit = handler.proxy().interceptedBodyLimit();
    }

    @Override
    public void head(HttpResponse response, UpstreamCall call) {
      handler.prepareResponse(response, r);
      InterceptedExchange exchange = r.exchange();
      handler.interceptHead(response, exchange, false);
      int code = response.status().code();
      boolean bodyless = r.request().method().equals(HttpMethod.HEAD) || code == 204 || code == 304;
      if (exchange.responseBodyWanted() && !bodyless) {
        long declared = HttpUtil.getContentLength(response, -1L);
        if (declared > limit) {
          tooLarge(declared);
        } else {
          held = response;
          collected = handler.ctx().alloc().compositeBuffer(Integer.MAX_VALUE);
          handler.ctx().channel().closeFuture().addListener(onClientClosed);
          call.readMore();
          return;
        }
      }
      handler.writeInterceptedHead(response);
      headSent = true;
      call.readMore();
    }

    @Override
    public void content(HttpContent content, UpstreamCall call) {
      if (held == null) {
        super.content(content, call);
        return;
      }
      if (!handler.ctx().channel().isActive()) {
        content.release();
        releaseCollected();
        call.close();
        return;
      }
      if ((long) collected.readableBytes() + content.content().readableBytes() > limit) {
        // over the limit: the interceptors are told, and everything goes on unchanged
        tooLarge(-1);
        HttpResponse head = held;
        held = null;
        handler.writeInterceptedHead(head);
        headSent = true;
        handler.ctx().channel().closeFuture().removeListener(onClientClosed);
        handler.ctx().write(new DefaultHttpContent(collected));
        collected = null;
        super.content(content, call);
        return;
      }
      collected.addComponent(true, content.content().retain());
      boolean last = content instanceof LastHttpContent;
      content.release();
      if (!last) {
        call.readMore();
        return;
      }
      byte[] bytes = ByteBufUtil.getBytes(collected);
      releaseCollected();
      HttpResponse head = held;
      held = null;
      call.close();
      InterceptedBody body = InterceptedBody.of(bytes);
      try {
        for (HttpInterceptor i : handler.proxy().interceptors()) {
          i.onResponseBody(r.exchange(), body);
        }
      } catch (RuntimeException e) {
        log.warn("[{}] response body interceptor failed for {}", handler.id(), r.exchange(), e);
        handler.sendError(502, "response body interceptor failed: " + e.getMessage(), true);
        return;
      }
      byte[] out = body.replacement() != null ? body.replacement() : bytes;
      // the whole body is at hand: it goes with its length (trailers, if any, are dropped)
      head.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
      HttpUtil.setContentLength(head, out.length);
      handler.writeInterceptedHead(head);
      headSent = true;
      handler.ctx().writeAndFlush(new DefaultLastHttpContent(Unpooled.wrappedBuffer(out)))
          .addListener(f -> handler.finish());
    }

    @Override
    public void failed(int status, String reason) {
      releaseCollected();
      held = null;
      super.failed(status, reason);
    }

    private void tooLarge(long size) {
      InterceptedBody body = InterceptedBody.tooLarge(size);
      try {
        for (HttpInterceptor i : handler.proxy().interceptors()) {
          i.onResponseBody(r.exchange(), body);
        }
      } catch (RuntimeException e) {
        // nothing of the body is changed: it streams on regardless
        log.warn("[{}] response body interceptor failed for {}", handler.id(), r.exchange(), e);
      }
    }

    private void releaseCollected() {
      if (collected != null) {
        handler.ctx().channel().closeFuture().removeListener(onClientClosed);
        collected.release();
        collected = null;
      }
    }
  }
}
