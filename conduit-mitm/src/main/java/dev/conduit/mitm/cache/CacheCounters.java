package dev.conduit.mitm.cache;

import java.util.concurrent.atomic.LongAdder;

/** The cache's counters, read as a {@link CacheStats} snapshot. */
final class CacheCounters {
  final LongAdder hits = new LongAdder();
  final LongAdder misses = new LongAdder();
  final LongAdder joins = new LongAdder();
  final LongAdder revalidatedNotModified = new LongAdder();
  final LongAdder revalidatedModified = new LongAdder();
  final LongAdder staleServes = new LongAdder();
  final LongAdder bytesServed = new LongAdder();
  final LongAdder bytesFromUpstream = new LongAdder();
  final LongAdder bytesStored = new LongAdder();
  final LongAdder evictions = new LongAdder();
  final LongAdder digestMismatches = new LongAdder();

  CacheStats snapshot(long entries, long sizeBytes) {
    return new CacheStats(hits.sum(), misses.sum(), joins.sum(), revalidatedNotModified.sum(),
        revalidatedModified.sum(), staleServes.sum(), bytesServed.sum(), bytesFromUpstream.sum(),
        bytesStored.sum(), evictions.sum(), digestMismatches.sum(), entries, sizeBytes);
  }
}
