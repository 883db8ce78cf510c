package dev.conduit.core.internal.multiplex;

import dev.conduit.core.ConduitPipeline;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;

/**
 * Makes an HTTP/2 stream channel look like a TCP connection to the relay: DATA frames in become their
 * bytes, an END_STREAM in becomes a {@link ChannelInputShutdownEvent}, bytes out become DATA frames;
 * {@link #endOutput} is the stream's {@code shutdownOutput()} (an empty DATA frame with END_STREAM). Other
 * frames (trailers, window updates) are dropped. First in the stream channel's pipeline.
 */
public final class StreamAdapter extends ChannelDuplexHandler {
  private boolean headersSeen;
  private boolean inputDone;

  /**
   * @param headersSeen whether the stream's first HEADERS (request or response) was read before this handler
   *     was added; until then one HEADERS frame is passed on for the protocol
   */
  public StreamAdapter(boolean headersSeen) {
    this.headersSeen = headersSeen;
  }

  /** Whether {@code ch} is an HTTP/2 stream (half-closed with {@link #endOutput}, not {@code shutdownOutput}). */
  public static boolean isStream(Channel ch) {
    return ch instanceof Http2StreamChannel;
  }

  /** Ends the stream's output after what was written before: completes once the END_STREAM is sent. */
  public static ChannelFuture endOutput(Channel stream) {
    return stream.writeAndFlush(new DefaultHttp2DataFrame(true));
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof Http2DataFrame data) {
      boolean end = data.isEndStream();
      if (inputDone) {
        data.release();
        return;
      }
      ByteBuf content = data.content();
      if (content.isReadable()) {
        ctx.fireChannelRead(content); // the frame's only reference, handed on
      } else {
        data.release();
      }
      if (end) {
        endOfInput(ctx);
      }
    } else if (msg instanceof Http2HeadersFrame headers) {
      if (!headersSeen) {
        headersSeen = true;
        ctx.fireChannelRead(headers);
        if (headers.isEndStream()) {
          endOfInput(ctx);
        }
      } else if (headers.isEndStream()) {
        endOfInput(ctx); // trailers: nothing in them is for a byte stream
      }
    } else {
      ReferenceCountUtil.release(msg);
    }
  }

  private void endOfInput(ChannelHandlerContext ctx) {
    if (!inputDone) {
      inputDone = true;
      ctx.fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
    }
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (msg instanceof ByteBuf buf) {
      if (!buf.isReadable()) {
        // nothing to send: an empty DATA frame without END_STREAM is noise (and peers limit how many they take)
        buf.release();
        promise.trySuccess();
        return;
      }
      ctx.write(new DefaultHttp2DataFrame(buf), promise);
    } else {
      ctx.write(msg, promise);
    }
  }
}
