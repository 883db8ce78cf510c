package dev.conduit.mitm;

import dev.conduit.core.inbound.Upstream;
import dev.conduit.mitm.cache.BlobCache;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The upstream end of one request, the last handler of the upstream connection's pipeline: passes
 * the response to its {@link ResponseSink}, reading on when the sink asks. When the response has
 * ended and both sides keep the connection alive, {@link #close} returns the connection to the pool
 * instead of closing it; a pooled connection that fails before the response starts is retried once.
 */
final class UpstreamCall extends ChannelInboundHandlerAdapter {

  private static final Logger log = LoggerFactory.getLogger(UpstreamCall.class);

  private final ProxyHandler handler;
  private final ResponseSink sink;
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

  UpstreamCall(ProxyHandler handler, Upstream upstream, ResponseSink sink, UpstreamPool.Key key, FullHttpRequest kept,
      Runnable retry) {
    this.handler = handler;
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

  /** Reads the next part of the response (the sink passed the last one on). */
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
    handler.callEnded(this);
    if (complete && reusable && channel.isActive() && channel.pipeline().get(UpstreamCall.class) == this) {
      channel.pipeline().remove(this);
      handler.proxy().pool().offer(key, upstream);
    } else {
      channel.close();
    }
  }

  /** Ends the call and closes the connection (its client went away mid-response). */
  void abort() {
    complete = false;
    close();
  }

  /** Ends the call as failed: retried once on a fresh connection if pooled and nothing came, else the sink fails. */
  void fail(int status, String reason) {
    if (!done) {
      done = true;
      ended = true;
      channel.close();
      handler.callEnded(this);
      if (!headSeen && retry != null && (handler.clientActive() || sink.fillsCache())) {
        log.debug("[{}] reused upstream connection to {}:{} failed ({}), sending again on a new one", handler.id(),
            key.host(), key.port(), reason);
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
    if (msg instanceof HttpObject o && o.decoderResult().isFailure()) {
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
      BlobCache cache = handler.proxy().cacheOrNull();
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
    fail(502, "upstream failed: " + ProxyHandler.rootMessage(cause));
  }
}
