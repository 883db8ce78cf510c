package dev.conduit.core.control.push.internal;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import java.nio.charset.StandardCharsets;

/** Close codes of the push channel and frame helpers shared by both ends. */
public final class Frames {

  /** The server or agent is shutting down, or the peer was idle too long. */
  public static final int GOING_AWAY = 1001;
  /** A binary frame: the channel speaks text (JSON) only. */
  public static final int UNSUPPORTED_DATA = 1003;
  /** Malformed JSON or a message that lacks what its type needs. */
  public static final int INVALID_PAYLOAD = 1007;
  /** A message out of order (no hello first, an ack for nothing sent, an unknown type). */
  public static final int POLICY_VIOLATION = 1008;
  /** A message over the size limit. */
  public static final int MESSAGE_TOO_BIG = 1009;
  /** An unexpected failure on the side that closes. */
  public static final int INTERNAL_ERROR = 1011;
  /** A newer connection of the same agent replaced this one. */
  public static final int REPLACED = 4000;
  /** The agent's state diverged from the server's; it reconnects for a full snapshot. */
  public static final int RESYNC = 4001;

  /** RFC 6455 limits the close reason to 123 bytes. */
  private static final int MAX_REASON_BYTES = 123;

  private Frames() {}

  /** Returns a text frame holding {@code json} (wrapped, not copied). */
  public static TextWebSocketFrame text(byte[] json) {
    return new TextWebSocketFrame(Unpooled.wrappedBuffer(json));
  }

  /** Sends a close frame with {@code code} and {@code reason}, then closes the channel. */
  public static void close(ChannelHandlerContext ctx, int code, String reason) {
    if (!ctx.channel().isActive()) {
      return;
    }
    ctx.writeAndFlush(new CloseWebSocketFrame(code, fitReason(reason))).addListener(ChannelFutureListener.CLOSE);
  }

  /** Sends a close frame with {@code code} and {@code reason} through the whole pipeline, then closes. */
  public static void close(io.netty.channel.Channel channel, int code, String reason) {
    if (!channel.isActive()) {
      return;
    }
    channel.writeAndFlush(new CloseWebSocketFrame(code, fitReason(reason))).addListener(ChannelFutureListener.CLOSE);
  }

  /** Cuts {@code reason} to what a close frame carries. */
  static String fitReason(String reason) {
    byte[] bytes = reason.getBytes(StandardCharsets.UTF_8);
    if (bytes.length <= MAX_REASON_BYTES) {
      return reason;
    }
    int end = Math.min(reason.length(), MAX_REASON_BYTES - 3);
    while (end > 0 && (reason.substring(0, end) + "...").getBytes(StandardCharsets.UTF_8).length > MAX_REASON_BYTES) {
      end--;
    }
    return reason.substring(0, end) + "...";
  }
}
