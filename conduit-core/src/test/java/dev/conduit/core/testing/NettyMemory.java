package dev.conduit.core.testing;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.internal.PlatformDependent;

/** Direct memory Netty holds, for tests that bound what a connection may buffer. */
public final class NettyMemory {
  private NettyMemory() {}

  /**
   * The pooled allocator's direct memory, plus the default allocator's when it is another one (Netty 4.2's
   * adaptive allocator), plus Netty's own count of direct memory it allocated outside them.
   */
  public static long directBytes() {
    long used = PooledByteBufAllocator.DEFAULT.metric().usedDirectMemory();
    if (ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider p
        && ByteBufAllocator.DEFAULT != PooledByteBufAllocator.DEFAULT) {
      used += p.metric().usedDirectMemory();
    }
    return used + Math.max(0, PlatformDependent.usedDirectMemory());
  }
}
