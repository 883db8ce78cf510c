package dev.conduit.core.internal.connection;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.internal.PlatformDependent;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.util.List;

/**
 * The memory counted against the budget: the JDK's direct buffers (what {@code -XX:MaxDirectMemorySize}
 * limits), Netty's direct memory outside them, and the heap Netty's allocators hold.
 */
final class MemoryGauge {
  private final List<BufferPoolMXBean> direct = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)
      .stream().filter(p -> p.getName().equals("direct")).toList();

  /** The direct memory limit ({@code -XX:MaxDirectMemorySize}, by default {@code -Xmx}). */
  long directLimit() {
    return PlatformDependent.maxDirectMemory();
  }

  long usedBytes() {
    long used = 0;
    for (BufferPoolMXBean p : direct) {
      used += Math.max(0, p.getMemoryUsed());
    }
    // Netty's no-cleaner direct memory bypasses the JDK's count
    used += Math.max(0, PlatformDependent.usedDirectMemory());
    used += heap(ByteBufAllocator.DEFAULT);
    if (ByteBufAllocator.DEFAULT != PooledByteBufAllocator.DEFAULT) {
      used += heap(PooledByteBufAllocator.DEFAULT);
    }
    return used;
  }

  private static long heap(ByteBufAllocator alloc) {
    if (alloc instanceof ByteBufAllocatorMetricProvider p) {
      ByteBufAllocatorMetric m = p.metric();
      return Math.max(0, m.usedHeapMemory());
    }
    return 0;
  }
}
