package dev.conduit.mitm.cache;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.nio.file.Files;
import java.nio.file.attribute.FileTime;
import org.slf4j.Logger;

/**
 * The cache's housekeeping: loading the index from disk at open, ending failed flights, dooming
 * replaced entries and evicting the least recently used unpinned ones above the size cap.
 */
final class CacheHousekeeping {

  private static final Logger LOG = BlobCache.LOG;

  private CacheHousekeeping() {
  }

  /** Ends a flight as failed for its readers and unlists it; the temp file is left to abortFlight. */
  static void failFlight(BlobCache cache, FlightState f, Throwable cause) {
    synchronized (cache) {
      cache.flights.remove(f.key, f);
    }
    if (f.finish(FlightState.State.ABORTED, cause)) {
      LOG.debug("cache download of {} aborted: {}", f.key, cause.toString());
    }
  }

  /** Fails the flight and removes its temp file; called once per writer that does not commit. */
  static void abortFlight(BlobCache cache, FlightState f, Throwable cause) {
    cache.failFlight(f, cause);
    if (f.markWriterDone()) {
      CacheFiles.deleteQuietly(f.temp);
      f.releaseChannel();
      if (f.stale != null) {
        cache.release(f.stale);
      }
    }
  }

  static void doom(EntryRecord r) {
    r.doomed = true;
    if (r.tryClaimForDelete()) {
      deleteFiles(r);
    }
  }

  static void evictIfNeeded(BlobCache cache) {
    if (cache.totalSize.get() <= cache.config.maxSizeBytes()) {
      return;
    }
    synchronized (cache.evictLock) {
      List<EntryRecord> byAge = new ArrayList<>(cache.index.values());
      byAge.sort(Comparator.comparingLong(r -> r.accessSeq));
      for (EntryRecord r : byAge) {
        if (cache.totalSize.get() <= cache.config.maxSizeBytes()) {
          break;
        }
        if (!r.pinned && r.tryClaimForDelete()) {
          if (cache.index.remove(r.key, r)) {
            cache.bySha256.remove(r.sha256, r);
            cache.totalSize.addAndGet(-r.size);
          }
          cache.counters.evictions.increment();
          LOG.debug("cache evict: {} ({} bytes)", r.key, r.size);
          deleteFiles(r);
        }
      }
    }
  }

  static void deleteFiles(EntryRecord r) {
    CacheFiles.deleteQuietly(r.meta); // the commit record goes first: a crash in between leaves an orphan body
    CacheFiles.deleteQuietly(r.data);
  }

  static void load(BlobCache cache) throws IOException {
    CacheFiles.Scan scan = CacheFiles.scan(cache.root);
    for (Path p : scan.garbage) {
      LOG.debug("deleting leftover {}", p);
      CacheFiles.deleteQuietly(p);
    }
    List<EntryRecord> loaded = scan.entries;
    loaded.sort(Comparator.comparingLong((EntryRecord r) -> r.lastAccessMillis));
    for (EntryRecord r : loaded) {
      r.accessSeq = cache.accessSeq.incrementAndGet();
      EntryRecord old = cache.index.put(r.key, r);
      cache.totalSize.addAndGet(r.size);
      if (old != null) { // the same key committed twice: keep the newer
        EntryRecord drop = old.createdMillis <= r.createdMillis ? old : r;
        if (drop == r) {
          cache.index.put(r.key, old);
        }
        cache.totalSize.addAndGet(-drop.size);
        drop.tryClaimForDelete();
        deleteFiles(drop);
      }
    }
    for (EntryRecord r : cache.index.values()) {
      cache.bySha256.put(r.sha256, r);
      if (PackageIndex.isIndex(r.key)) {
        cache.packages.learn(r.key, r.data);
      }
    }
    LOG.debug("cache {} opened: {} entries, {} bytes", cache.root, cache.index.size(), cache.totalSize.get());
    cache.evictIfNeeded();
  }

  static int pin(BlobCache cache, java.util.function.Predicate<? super CacheEntryInfo> predicate, boolean pinned) {
    int n = 0;
    for (EntryRecord r : new ArrayList<>(cache.index.values())) {
      if (r.pinned != pinned && predicate.test(r.info()) && r.tryRetain()) {
        try {
          r.pinned = pinned;
          cache.saveMeta(r);
          n++;
        } finally {
          cache.release(r);
        }
      }
    }
    return n;
  }

  static int purge(BlobCache cache, java.util.function.Predicate<? super CacheEntryInfo> predicate) {
    int n = 0;
    for (EntryRecord r : new ArrayList<>(cache.index.values())) {
      if (predicate.test(r.info()) && cache.index.remove(r.key, r)) {
        cache.bySha256.remove(r.sha256, r);
        cache.totalSize.addAndGet(-r.size);
        doom(r);
        n++;
        LOG.debug("cache purge: {}", r.key);
      }
    }
    return n;
  }

  /** Fails the open flights and saves changed hit counts. */
  static void closing(BlobCache cache, List<FlightState> open) {
    CacheException cause = new CacheException("cache " + cache.root + " closed");
    for (FlightState f : open) {
      failFlight(cache, f, cause);
    }
    for (EntryRecord r : cache.index.values()) {
      if (r.hits.get() != r.hitsAtLoad && r.tryRetain()) {
        try {
          cache.saveMeta(r);
        } finally {
          r.release();
        }
      }
    }
  }

  static CacheEntry hit(BlobCache cache, EntryRecord r) {
    cache.counters.hits.increment();
    r.hits.incrementAndGet();
    r.lastAccessMillis = cache.now();
    r.accessSeq = cache.accessSeq.incrementAndGet();
    LOG.debug("cache hit: {}", r.key);
    long at = r.lastAccessMillis;
    if (r.tryRetain()) {
      cache.executor().execute(() -> {
        try {
          Files.setLastModifiedTime(r.data, FileTime.fromMillis(at));
        } catch (IOException e) {
          LOG.debug("recording access time of {} failed", r.key, e);
        } finally {
          cache.release(r);
        }
      });
    }
    return new CacheEntry(cache, r);
  }

  /** A package an index lists with a digest that another key's entry already has (another mirror). */
  static Optional<CacheEntry> sameBytesElsewhere(BlobCache cache, CacheKey key) {
    // packages only: an index must be committed under its own URL, whose base its paths hang from
    Optional<String> listed = Freshness.of(key) == Freshness.IMMUTABLE ? cache.packages.expected(key) : Optional.empty();
    if (listed.isEmpty()) {
      return Optional.empty();
    }
    EntryRecord other = cache.bySha256.get(listed.get());
    if (other == null || !other.tryRetain()) {
      return Optional.empty();
    }
    LOG.debug("cache hit: {} has the bytes of {} (sha256 {})", key, other.key, other.sha256);
    return Optional.of(cache.hit(other));
  }
}
