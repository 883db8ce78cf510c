package dev.conduit.mitm.cache;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** One committed entry in the index, reference counted so in-use entries are never deleted. */
final class EntryRecord {

  final CacheKey key;
  final Path data;
  final Path meta;
  final long size;
  final long createdMillis;
  final String sha256;
  /** Replaced when a 304 refreshes the entry. */
  volatile Map<String, String> headers;
  /** When the origin last sent or confirmed (304) the body. */
  volatile long validatedMillis;
  /** Never evicted while set (purges still remove it). */
  volatile boolean pinned;
  final AtomicLong hits;
  final long hitsAtLoad;
  volatile long lastAccessMillis;
  /** In-process LRU tie-breaker for accesses within one millisecond. */
  volatile long accessSeq;
  volatile boolean doomed;
  /** Leases held; -1 once the files are (being) deleted. */
  private final AtomicInteger refs = new AtomicInteger();

  EntryRecord(CacheKey key, Path data, Path meta, long size, long createdMillis, String sha256,
      Map<String, String> headers, long hits, long lastAccessMillis, long accessSeq, long validatedMillis,
      boolean pinned) {
    this.key = key;
    this.data = data;
    this.meta = meta;
    this.size = size;
    this.createdMillis = createdMillis;
    this.sha256 = sha256;
    this.headers = StoredHeaders.unmodifiable(headers);
    this.hits = new AtomicLong(hits);
    this.hitsAtLoad = hits;
    this.lastAccessMillis = lastAccessMillis;
    this.accessSeq = accessSeq;
    this.validatedMillis = validatedMillis;
    this.pinned = pinned;
  }

  boolean tryRetain() {
    for (;;) {
      int r = refs.get();
      if (r < 0 || doomed) {
        return false;
      }
      if (refs.compareAndSet(r, r + 1)) {
        return true;
      }
    }
  }

  /** Releases a lease; returns true when the caller must now delete the files of a doomed entry. */
  boolean release() {
    int r = refs.decrementAndGet();
    return r == 0 && doomed && refs.compareAndSet(0, -1);
  }

  /** Claims an unused entry for deletion. */
  boolean tryClaimForDelete() {
    return refs.compareAndSet(0, -1);
  }

  int refs() {
    return refs.get();
  }

  CacheEntryInfo info() {
    return new CacheEntryInfo(key, Freshness.of(key), size, java.time.Instant.ofEpochMilli(createdMillis),
        java.time.Instant.ofEpochMilli(lastAccessMillis), java.time.Instant.ofEpochMilli(validatedMillis),
        hits.get(), pinned);
  }
}
