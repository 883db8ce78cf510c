package dev.conduit.benchmarks;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The agents' side of {@link PushFanoutBench}'s measurement: per change and agent, the nanos from the server's
 * publish ({@code t0}, written into the changed member; both JVMs read the same monotonic clock on Linux) to the
 * moment the agent had the change. The measured changes carry their number ({@code change}, from 1), warm-up ones
 * none.
 */
final class PushTally {

  private final int agents;
  private final AtomicLongArray[] latencies;
  private final AtomicInteger[] counts;

  PushTally(int agents, int changes) {
    this.agents = agents;
    this.latencies = new AtomicLongArray[changes];
    this.counts = new AtomicInteger[changes];
    for (int c = 0; c < changes; c++) {
      latencies[c] = new AtomicLongArray(agents);
      counts[c] = new AtomicInteger();
    }
  }

  /**
   * Notes that {@code agent} had {@code change} (0: not a measured change), published at {@code t0}, at {@code now};
   * the first time counts.
   */
  void record(int agent, long change, long t0, long now) {
    if (change >= 1 && change <= latencies.length && t0 > 0
        && latencies[(int) change - 1].compareAndSet(agent, 0, Math.max(1, now - t0))) {
      counts[(int) change - 1].incrementAndGet();
    }
  }

  /** Waits until every agent had every change (the server bounds each change by a deadline, then stops). */
  void awaitAll() throws InterruptedException {
    for (AtomicInteger count : counts) {
      while (count.get() < agents) {
        Thread.sleep(50);
      }
    }
  }

  /** The RESULT line: p50/p99/max over every agent and change, and p50/p99 over changes of the last agent. */
  String result(String what, double cpuSeconds) {
    int changes = latencies.length;
    long[] all = new long[agents * changes];
    long[] lasts = new long[changes];
    int n = 0;
    for (int c = 0; c < changes; c++) {
      for (int a = 0; a < agents; a++) {
        long latency = latencies[c].get(a);
        all[n++] = latency;
        lasts[c] = Math.max(lasts[c], latency);
      }
    }
    Arrays.sort(all);
    Arrays.sort(lasts);
    return String.format("RESULT agents=%d changes=%d %s p50=%.1fms p99=%.1fms max=%.1fms"
            + " | the last agent per change p50=%.1fms p99=%.1fms | the agents' JVM used %.1f CPU-s during the changes",
        agents, changes, what, ms(pct(all, 50)), ms(pct(all, 99)), ms(all[all.length - 1]),
        ms(pct(lasts, 50)), ms(pct(lasts, 99)), cpuSeconds);
  }

  static long pct(long[] sorted, int p) {
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1)];
  }

  static double ms(long nanos) {
    return nanos / 1e6;
  }

  /** This JVM's CPU time so far. */
  static long cpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }
}
