package dev.conduit.core.internal.socks;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * SOCKS failure replies allocated when the class loads, written when memory is short: replying then needs
 * no memory (a duplicate's release does nothing). The encoders pass a {@link ByteBuf} through as it is.
 */
final class PresetReplies {
  /** SOCKS5 replies 0x00..0x08 with an IPv4 0.0.0.0:0 bound address (RFC 1928 §6). */
  private static final ByteBuf[] SOCKS5 = new ByteBuf[9];
  /** SOCKS4 "request rejected or failed" (0x5B). */
  private static final ByteBuf SOCKS4_REJECTED =
      preset(new byte[] {0, 0x5B, 0, 0, 0, 0, 0, 0});

  static {
    for (int code = 0; code < SOCKS5.length; code++) {
      SOCKS5[code] = preset(new byte[] {5, (byte) code, 0, 1, 0, 0, 0, 0, 0, 0});
    }
  }

  private PresetReplies() {}

  private static ByteBuf preset(byte[] bytes) {
    return Unpooled.unreleasableBuffer(Unpooled.directBuffer(bytes.length).writeBytes(bytes));
  }

  /** The failure reply: SOCKS5 with {@code socks5Reply} (a general failure when out of range), or SOCKS4's reject. */
  static ByteBuf failure(boolean v5, int socks5Reply) {
    if (!v5) {
      return SOCKS4_REJECTED.duplicate();
    }
    return SOCKS5[socks5Reply > 0 && socks5Reply < SOCKS5.length ? socks5Reply : 1].duplicate();
  }
}
