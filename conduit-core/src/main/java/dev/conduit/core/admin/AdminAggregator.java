package dev.conduit.core.admin;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;

/**
 * Aggregates admin requests and refuses an oversized one with 413 and a one-line JSON error, like every other
 * refusal of the admin API, instead of the aggregator's empty body. The connection is closed after the answer:
 * the rest of the body may still be arriving and cannot be read as the next request. It is closed only after the
 * client hung up or {@link #LINGER} passed, reading and dropping what still arrives meanwhile: closing at once would
 * make the kernel answer the body still in flight with a reset, and a reset makes the client drop the 413 unread.
 */
final class AdminAggregator extends HttpObjectAggregator {
  static final java.time.Duration LINGER = java.time.Duration.ofSeconds(2);

  private final int maxContentLength;
  private boolean refused;

  AdminAggregator(int maxContentLength) {
    super(maxContentLength);
    this.maxContentLength = maxContentLength;
  }

  @Override
  protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) throws Exception {
    if (!(oversized instanceof HttpRequest)) {
      super.handleOversizedMessage(ctx, oversized);
      return;
    }
    long declared = HttpUtil.getContentLength(oversized, -1L);
    String size = declared > maxContentLength ? declared + " bytes" : "more than " + maxContentLength + " bytes";
    byte[] body = ("{\"error\":\"request body: " + size + " (expected: at most " + maxContentLength + ")\"}")
        .getBytes(StandardCharsets.UTF_8);
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
        HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, Unpooled.wrappedBuffer(body));
    response.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
        .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length)
        .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    refused = true;
    ctx.writeAndFlush(response).addListener((ChannelFutureListener) f -> {
      if (!f.isSuccess()) {
        f.channel().close();
        return;
      }
      f.channel().config().setAutoRead(true);
      f.channel().eventLoop().schedule(() -> {
        f.channel().close();
      }, LINGER.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    });
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
    if (refused) {
      io.netty.util.ReferenceCountUtil.release(msg); // the refused body's rest, or anything after it
      return;
    }
    super.channelRead(ctx, msg);
  }
}
