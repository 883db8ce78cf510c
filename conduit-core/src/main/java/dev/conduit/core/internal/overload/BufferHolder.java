package dev.conduit.core.internal.overload;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOutboundBuffer;

/** A connection as the overload manager sees it: the bytes it holds, its two channels, and a way to end it. */
public interface BufferHolder {
  /** The connection's id, for logs. */
  String holderId();

  /** Bytes written to either side and not yet taken by its socket; safe from any thread. */
  long bufferedBytes();

  /** The client side. */
  Channel channel();

  /** The upstream side, or null. */
  Channel upstreamChannel();

  /** Closes the connection on conduit's behalf. */
  void closeByConduit(String why);

  /** Bytes written to {@code ch} that its socket has not taken yet; 0 for null or closed (Netty's volatile count). */
  static long pendingBytes(Channel ch) {
    if (ch == null) {
      return 0;
    }
    ChannelOutboundBuffer buf = ch.unsafe().outboundBuffer();
    return buf == null ? 0 : buf.totalPendingWriteBytes();
  }
}
