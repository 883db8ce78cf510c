package dev.conduit.core.internal.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.FileRegion;

/** Counts bytes read and written on a channel. One per channel; read on its event loop. */
public final class TrafficCounter extends ChannelDuplexHandler {
  private long read;
  private long written;

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    read += size(msg);
    ctx.fireChannelRead(msg);
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    written += size(msg);
    ctx.write(msg, promise);
  }

  private static long size(Object msg) {
    if (msg instanceof ByteBuf buf) {
      return buf.readableBytes();
    }
    if (msg instanceof ByteBufHolder holder) {
      return holder.content().readableBytes();
    }
    if (msg instanceof FileRegion region) {
      return region.count();
    }
    return 0;
  }

  /** Bytes read so far. */
  public long read() {
    return read;
  }

  /** Bytes written so far (queued for writing). */
  public long written() {
    return written;
  }

  /** Adds bytes moved outside the pipeline (splice). */
  public void addSpliced(long fromThisChannel) {
    read += fromThisChannel;
  }

  /** Adds bytes written outside the pipeline (splice). */
  public void addSplicedWritten(long toThisChannel) {
    written += toThisChannel;
  }
}
