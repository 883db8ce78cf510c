package dev.conduit.mitm.cache;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An on-disk cache of immutable HTTP bodies (registry layers, packages, archives) for a caching
 * proxy.
 *
 * <h2>Use from a proxy</h2>
 * <ol>
 *   <li>Derive the key from the <em>original</em> request with {@link CachePolicy#keyFor}; keep it
 *       for the whole redirect chain.</li>
 *   <li>{@link #begin(CacheKey, boolean)} returns a {@link Flight}: a {@link Flight.Hit} to serve
 *       (a fresh entry), a {@link Flight.Revalidate} whose stale entry this caller revalidates with
 *       a conditional request, a {@link Flight.Miss} whose {@link CacheWriter} this caller feeds
 *       from upstream, or a {@link Flight.Join} whose {@link CacheReader} streams another caller's
 *       download or revalidation. Concurrent misses and revalidations of one key therefore make one
 *       upstream request.</li>
 *   <li>Before storing, check the upstream response with
 *       {@link CachePolicy#uncacheableReason}; abort the writer if it is not cacheable.</li>
 * </ol>
 * No method blocks on disk except {@link #open}, {@link #close}, {@link #purge} and
 * {@link CacheEntry#openChannel()}: file I/O runs on the configured executor and results arrive as
 * {@link CompletableFuture}s completed there.
 *
 * <h2>On disk</h2>
 * An entry of key {@code k} with {@code h = sha256(k.value())} (hex) lives in
 * {@code root/h[0..2]/h[2..4]/h-<random>.data} (the body) and {@code …/h-<random>.meta} (see
 * {@code EntryMetadata}); URL paths are never used as file names. A download goes to
 * {@code h-<random>.tmp} in the same directory; commit fsyncs it, renames it atomically to
 * {@code .data}, then writes the metadata the same way. The metadata file is the commit record:
 * {@link #open} deletes temp files, bodies without valid metadata and metadata without a body of the
 * recorded size, so a crash at any point never yields a corrupt entry. The last access time is kept
 * as the body's modification time. One process at a time may open a root ({@code .lock}).
 *
 * <h2>Freshness</h2>
 * Each entry is {@linkplain Freshness of a kind}; {@link CachePolicy#freshUntil} says how long it is
 * served without asking the origin. A stale entry stays listed: it is revalidated, refreshed by a
 * {@code 304} ({@link CacheWriter#notModified}) without a download, replaced by a {@code 200}, and
 * served by {@link #lookupStale} while the origin fails, for {@link CachePolicy#staleIfError()}.
 *
 * <h2>Eviction</h2>
 * When the committed bodies exceed {@link BlobCacheConfig#maxSizeBytes()} the least recently
 * accessed entries are deleted until they fit; {@linkplain #pin pinned} entries, entries under a
 * lease ({@link CacheEntry}, regions) and downloads in progress are never evicted.
 */
public final class BlobCache implements AutoCloseable {

  static final Logger LOG = LoggerFactory.getLogger(BlobCache.class);
  static final String TEMP_SUFFIX = CacheFiles.TEMP_SUFFIX;
  private static final String DATA_SUFFIX = CacheFiles.DATA_SUFFIX;
  private static final String META_SUFFIX = CacheFiles.META_SUFFIX;
  private static final String LOCK_FILE = CacheFiles.LOCK_FILE;

  final BlobCacheConfig config;
  final Path root;
  private final ExecutorService ownExecutor;
  private final Executor executor;
  private final FileChannel lockChannel;
  private final FileLock lock;
  final ConcurrentHashMap<CacheKey, EntryRecord> index = new ConcurrentHashMap<>();
  /** Guarded by {@code this}; the decision hit / miss / join is atomic with publishing an entry. */
  final Map<CacheKey, FlightState> flights = new HashMap<>();
  final Object evictLock = new Object();
  final AtomicLong totalSize = new AtomicLong();
  final AtomicLong accessSeq = new AtomicLong();
  final CacheCounters counters = new CacheCounters();
  final PackageIndex packages = new PackageIndex();
  /** Committed entries by the SHA-256 of their body: one stored copy serves every mirror's URL. */
  final ConcurrentHashMap<String, EntryRecord> bySha256 = new ConcurrentHashMap<>();
  volatile boolean closed;

  private BlobCache(BlobCacheConfig config, FileChannel lockChannel, FileLock lock) {
    this.config = config;
    this.root = config.root();
    this.lockChannel = lockChannel;
    this.lock = lock;
    if (config.executor().isPresent()) {
      ownExecutor = null;
    } else {
      AtomicInteger n = new AtomicInteger();
      ownExecutor = Executors.newFixedThreadPool(2, r -> {
        Thread t = new Thread(r, "conduit-blob-cache-" + n.incrementAndGet());
        t.setDaemon(true);
        return t;
      });
    }
    Executor delegate = ownExecutor != null ? ownExecutor : config.executor().get();
    // After close a shut-down pool rejects cleanup tasks; run those inline rather than leak files.
    this.executor = task -> {
      try {
        delegate.execute(task);
      } catch (RejectedExecutionException e) {
        task.run();
      }
    };
  }

  /**
   * Opens (creating if needed) the cache at {@link BlobCacheConfig#root()}: deletes leftovers of
   * interrupted downloads and commits, rebuilds the index from disk and evicts down to the size
   * cap. Blocking.
   *
   * @throws CacheException if another process has the directory open
   * @throws IOException if the directory cannot be read or created
   */
  public static BlobCache open(BlobCacheConfig config) throws IOException {
    requireNonNull(config, "config");
    Files.createDirectories(config.root());
    FileChannel lockChannel = FileChannel.open(config.root().resolve(LOCK_FILE), StandardOpenOption.CREATE,
        StandardOpenOption.WRITE);
    FileLock lock;
    try {
      lock = lockChannel.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null;
    }
    if (lock == null) {
      lockChannel.close();
      throw new CacheException("cache directory " + config.root() + " is already open (" + LOCK_FILE
          + " is locked): read it with BlobCache.listReadOnly or through the owner's admin endpoint");
    }
    BlobCache cache = new BlobCache(config, lockChannel, lock);
    try {
      CacheHousekeeping.load(cache);
    } catch (IOException | RuntimeException e) {
      cache.close();
      throw e;
    }
    return cache;
  }

  /** The configuration. */
  public BlobCacheConfig config() {
    return config;
  }

  /** The policy of {@link #config()}. */
  public CachePolicy policy() {
    return config.policy();
  }

  /**
   * Returns a lease on the committed entry of {@code key}, counting a hit, or empty. Does no I/O.
   * The caller must close the entry.
   */
  public Optional<CacheEntry> lookup(CacheKey key) {
    requireNonNull(key, "key");
    checkOpen();
    EntryRecord r = index.get(key);
    if (r != null && r.tryRetain()) {
      return Optional.of(hit(r));
    }
    return Optional.empty();
  }

  /** Whether the committed entry behind {@code entry} is fresh now (see {@link CachePolicy#freshUntil}). */
  public boolean isFresh(CacheEntry entry) {
    requireNonNull(entry, "entry");
    return isFresh(entry.record(), false);
  }

  /**
   * As {@link #begin(CacheKey, boolean) begin(key, false)}: the client did not ask for revalidation.
   *
   * @throws IllegalStateException if the cache is closed
   */
  public CompletableFuture<Flight> begin(CacheKey key) {
    return begin(key, false);
  }

  /**
   * Starts serving {@code key}: a {@link Flight.Hit} when committed and fresh, a {@link Flight.Join}
   * when another caller is downloading or revalidating it, a {@link Flight.Revalidate} when it is
   * committed but stale, else a {@link Flight.Miss} making this caller the single writer. The
   * decision is immediate; the future completes on the cache executor once a writer's temp file
   * exists (or at once for a hit or join).
   *
   * @param key the key
   * @param clientWantsRevalidation the request asked for it ({@link CachePolicy#requestWantsRevalidation});
   *     honoured for mutable entries only
   * @throws IllegalStateException if the cache is closed
   */
  public CompletableFuture<Flight> begin(CacheKey key, boolean clientWantsRevalidation) {
    requireNonNull(key, "key");
    FlightState created;
    synchronized (this) {
      checkOpen();
      EntryRecord r = index.get(key);
      if (r != null && isFresh(r, clientWantsRevalidation) && r.tryRetain()) {
        return CompletableFuture.completedFuture(new Flight.Hit(hit(r)));
      }
      FlightState existing = flights.get(key);
      if (existing != null && existing.join()) {
        counters.misses.increment();
        counters.joins.increment();
        LOG.debug("cache join: {}", key);
        return CompletableFuture.completedFuture(new Flight.Join(new CacheReader(existing)));
      }
      if (r == null) {
        Optional<CacheEntry> same = CacheHousekeeping.sameBytesElsewhere(this, key);
        if (same.isPresent()) {
          return CompletableFuture.completedFuture(new Flight.Hit(same.get()));
        }
      }
      String hash = key.fileHash();
      Path dir = root.resolve(hash.substring(0, 2)).resolve(hash.substring(2, 4));
      // a stale entry gets two leases: the flight's (released when it ends, or passed on by a 304)
      // and the revalidating caller's
      EntryRecord stale = null;
      if (r != null && r.tryRetain()) {
        if (r.tryRetain()) {
          stale = r;
        } else {
          release(r);
        }
      }
      created = new FlightState(this, key, dir, hash + "-" + CacheFiles.randomSuffix(), stale);
      flights.put(key, created);
    }
    FlightState f = created;
    if (f.stale == null) {
      counters.misses.increment();
    }
    LOG.debug("cache {}: {}", f.stale == null ? "miss" : "revalidation", key);
    return CompletableFuture.supplyAsync(() -> {
      try {
        Files.createDirectories(f.dir);
        f.opened(FileChannel.open(f.temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
            StandardOpenOption.WRITE));
        CacheWriter w = new CacheWriter(f);
        return f.stale == null ? (Flight) new Flight.Miss(w) : new Flight.Revalidate(new CacheEntry(this, f.stale), w);
      } catch (IOException | RuntimeException e) {
        CacheException ce = new CacheException("cannot create " + f.temp + " for " + key, e);
        abortFlight(f, ce);
        if (f.stale != null) {
          release(f.stale);
        }
        throw new CompletionException(ce);
      }
    }, executor);
  }

  /**
   * A lease on the committed entry of {@code key} to serve in place of a failing origin: a mutable
   * entry that went stale no longer than {@link CachePolicy#staleIfError()} ago. Counts a stale
   * serve. Does no I/O.
   */
  public Optional<CacheEntry> lookupStale(CacheKey key) {
    requireNonNull(key, "key");
    checkOpen();
    EntryRecord r = index.get(key);
    if (r == null || Freshness.of(key) != Freshness.MUTABLE) {
      return Optional.empty();
    }
    long until = policy().freshUntil(key, r.headers, r.validatedMillis);
    long bound = until + policy().staleIfError().toMillis();
    if (now() > (bound < until ? Long.MAX_VALUE : bound) || !r.tryRetain()) {
      return Optional.empty();
    }
    counters.staleServes.increment();
    LOG.debug("cache stale: {}", key);
    return Optional.of(new CacheEntry(this, r));
  }

  /**
   * Pins ({@code pinned = true}) or unpins every entry whose listing row matches {@code predicate}:
   * a pinned entry is never evicted (a purge still removes it). Saved in the entry's metadata.
   * Blocking file I/O.
   *
   * @return the number of entries changed
   */
  public int pin(Predicate<? super CacheEntryInfo> predicate, boolean pinned) {
    requireNonNull(predicate, "predicate");
    checkOpen();
    return CacheHousekeeping.pin(this, predicate, pinned);
  }

  /**
   * Lists the committed entries of a cache directory without opening it: no lock is taken and
   * nothing is changed, so it works while a server holds the directory. Blocking file I/O.
   *
   * @throws IOException if the directory cannot be read
   */
  public static List<CacheEntryInfo> listReadOnly(Path root) throws IOException {
    requireNonNull(root, "root");
    Path dir = root.toAbsolutePath().normalize();
    if (!Files.isDirectory(dir)) {
      throw new CacheException(root + ": not a cache directory");
    }
    return CacheFiles.scan(dir).entries.stream().map(EntryRecord::info)
        .sorted(Comparator.comparing(i -> i.key().value())).collect(Collectors.toList());
  }

  /** The committed entries, sorted by key. */
  public List<CacheEntryInfo> list() {
    return index.values().stream().map(EntryRecord::info)
        .sorted(Comparator.comparing(i -> i.key().value())).collect(Collectors.toList());
  }

  /**
   * Removes the entry of {@code key}. An entry under a lease disappears from the index now and its
   * files are deleted when the last lease is released. Blocking file I/O.
   *
   * @return the number of entries removed (0 or 1)
   */
  public int purge(CacheKey key) {
    requireNonNull(key, "key");
    return purge(info -> info.key().equals(key));
  }

  /**
   * Removes every entry whose listing row matches {@code predicate} (see {@link #purge(CacheKey)}).
   *
   * @return the number of entries removed
   */
  public int purge(Predicate<? super CacheEntryInfo> predicate) {
    requireNonNull(predicate, "predicate");
    checkOpen();
    return CacheHousekeeping.purge(this, predicate);
  }

  /** Removes every entry (see {@link #purge(CacheKey)}); returns the number removed. */
  public int purgeAll() {
    return purge(info -> true);
  }

  /** A snapshot of the counters. */
  public CacheStats stats() {
    return counters.snapshot(index.size(), totalSize.get());
  }

  /** Counts {@code n} body bytes a proxy relayed from an origin (cached or not), for the metrics. */
  public void recordUpstreamBytes(long n) {
    counters.bytesFromUpstream.add(n);
  }

  /** Counts {@code n} body bytes a proxy served from a committed entry without a region (e.g. over TLS). */
  public void recordServed(long n) {
    counters.bytesServed.add(n);
  }

  /**
   * Closes the cache: downloads in progress are aborted (their readers fail), hit counts are saved,
   * the directory lock is released and an own executor is shut down. Leases already handed out stay
   * readable. Blocking; idempotent.
   */
  @Override
  public void close() {
    List<FlightState> open;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      open = new ArrayList<>(flights.values());
    }
    CacheHousekeeping.closing(this, open);
    try {
      lock.release();
      lockChannel.close();
    } catch (IOException e) {
      LOG.debug("releasing {} failed", root.resolve(LOCK_FILE), e);
    }
    if (ownExecutor != null) {
      ownExecutor.shutdown();
    }
  }

  @Override
  public String toString() {
    return "BlobCache{" + root + ", " + index.size() + " entries, " + totalSize.get() + " bytes}";
  }

  // ---- package-private hooks for CacheWriter, CacheReader, CacheEntry ----

  Executor executor() {
    return executor;
  }

  void release(EntryRecord r) {
    if (r.release()) {
      executor.execute(() -> deleteFiles(r));
    } else if (r.refs() == 0 && totalSize.get() > config.maxSizeBytes() && !closed) {
      executor.execute(this::evictIfNeeded);
    }
  }

  void failFlight(FlightState f, Throwable cause) {
    CacheHousekeeping.failFlight(this, f, cause);
  }

  void abortFlight(FlightState f, Throwable cause) {
    CacheHousekeeping.abortFlight(this, f, cause);
  }

  void evictIfNeeded() {
    CacheHousekeeping.evictIfNeeded(this);
  }

  void doom(EntryRecord r) {
    CacheHousekeeping.doom(r);
  }

  void deleteFiles(EntryRecord r) {
    CacheHousekeeping.deleteFiles(r);
  }

  // ---- internals ----

  boolean isFresh(EntryRecord r, boolean clientWantsRevalidation) {
    if (clientWantsRevalidation && Freshness.of(r.key) == Freshness.MUTABLE) {
      return false;
    }
    return now() < policy().freshUntil(r.key, r.headers, r.validatedMillis);
  }

  long now() {
    return config.clock().millis();
  }

  void saveMeta(EntryRecord r) {
    saveMeta(r, true);
  }

  void saveMeta(EntryRecord r, boolean durable) {
    try {
      CacheFiles.writeMeta(r.meta, metadataOf(r), durable);
    } catch (IOException e) {
      LOG.debug("saving metadata of {} failed", r.key, e);
    }
  }

  CacheEntry hit(EntryRecord r) {
    return CacheHousekeeping.hit(this, r);
  }

  synchronized void publish(FlightState f, EntryRecord r) {
    flights.remove(f.key, f);
    totalSize.addAndGet(r.size);
    EntryRecord old = index.put(f.key, r);
    if (old != null) {
      bySha256.remove(old.sha256, old);
      totalSize.addAndGet(-old.size);
      doom(old);
    }
    bySha256.put(r.sha256, r);
  }

  EntryMetadata metadataOf(EntryRecord r) {
    return new EntryMetadata(r.key, r.size, r.createdMillis, r.sha256, r.hits.get(), r.headers, r.validatedMillis,
        r.pinned);
  }

  static void deleteQuietly(Path p) {
    CacheFiles.deleteQuietly(p);
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("cache " + root + " is closed");
    }
  }

}
