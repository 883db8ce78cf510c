package dev.conduit.core.control.push.internal;

import io.netty.buffer.ByteBuf;
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

  /**
   * Returns {@code json} as one whole server-to-client WebSocket text frame (FIN, opcode 1, unmasked: RFC 6455
   * 5.2): the header and payload a server encodes once per version and writes to every agent, past the frame
   * encoder (see {@link #encoded}).
   */
  public static byte[] encodeText(byte[] json) {
    int length = json.length;
    int header = length < 126 ? 2 : length <= 0xFFFF ? 4 : 10;
    byte[] frame = new byte[header + length];
    frame[0] = (byte) 0x81;
    if (length < 126) {
      frame[1] = (byte) length;
    } else if (length <= 0xFFFF) {
      frame[1] = 126;
      frame[2] = (byte) (length >>> 8);
      frame[3] = (byte) length;
    } else {
      frame[1] = 127;
      for (int i = 0; i < 8; i++) {
        frame[2 + i] = (byte) ((long) length >>> (56 - 8 * i));
      }
    }
    System.arraycopy(json, 0, frame, header, length);
    return frame;
  }

  /**
   * Returns a frame made by {@link #encodeText} as a buffer to write below the WebSocket encoder (which passes
   * buffers through): the bytes are shared by every agent's write, only the small wrapper is per write. A heap
   * array, not a pooled buffer, so that a version dropped from the history needs no release while writes of it
   * are still queued on some channels.
   */
  public static ByteBuf encoded(byte[] frame) {
    return Unpooled.wrappedBuffer(frame);
  }

  /** Sends a close frame with {@code code} and {@code reason}, then closes the channel. */
  public static void close(ChannelHandlerContext ctx, int code, String reason) {
    if (!ctx.channel().isActive()) {
      return;
    }
    ctx.writeAndFlush(new CloseWebSocketFrame(code, fitReason(reason))).addListener(ChannelFutureListener.CLOSE);
  }

  /**
   * Sends a close frame with {@code code} and {@code reason}, then keeps reading (and discarding) for up to
   * {@code linger} before closing, unless the peer closes first. Closing at once would make the kernel answer the
   * rest of a message the peer is still sending with a reset, and a reset makes the peer drop the close frame
   * with its reason unread.
   */
  public static void closeLingering(ChannelHandlerContext ctx, int code, String reason, java.time.Duration linger) {
    if (!ctx.channel().isActive()) {
      return;
    }
    ctx.writeAndFlush(new CloseWebSocketFrame(code, fitReason(reason))).addListener((ChannelFutureListener) f -> {
      if (!f.isSuccess()) {
        f.channel().close();
        return;
      }
      f.channel().config().setAutoRead(true);
      f.channel().eventLoop().schedule(() -> {
        f.channel().close();
      }, linger.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    });
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
