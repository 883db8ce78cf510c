package dev.conduit.mitm.cache;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.Stream;
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
 *   <li>{@link #begin(CacheKey)} returns a {@link Flight}: a {@link Flight.Hit} to serve, a
 *       {@link Flight.Miss} whose {@link CacheWriter} this caller feeds from upstream, or a
 *       {@link Flight.Join} whose {@link CacheReader} streams another caller's download. Concurrent
 *       misses of one key therefore share one upstream download.</li>
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
 * <h2>Eviction</h2>
 * When the committed bodies exceed {@link BlobCacheConfig#maxSizeBytes()} the least recently
 * accessed entries are deleted until they fit; entries under a lease ({@link CacheEntry}, regions)
 * and downloads in progress are never evicted.
 */
public final class BlobCache implements AutoCloseable {

  static final Logger LOG = LoggerFactory.getLogger(BlobCache.class);
  static final String TEMP_SUFFIX = ".tmp";
  private static final String DATA_SUFFIX = ".data";
  private static final String META_SUFFIX = ".meta";
  private static final String LOCK_FILE = ".lock";

  private final BlobCacheConfig config;
  private final Path root;
  private final ExecutorService ownExecutor;
  private final Executor executor;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final ConcurrentHashMap<CacheKey, EntryRecord> index = new ConcurrentHashMap<>();
  /** Guarded by {@code this}; the decision hit / miss / join is atomic with publishing an entry. */
  private final Map<CacheKey, FlightState> flights = new HashMap<>();
  private final Object evictLock = new Object();
  private final AtomicLong totalSize = new AtomicLong();
  private final AtomicLong accessSeq = new AtomicLong();
  private final LongAdder hits = new LongAdder();
  private final LongAdder misses = new LongAdder();
  private final LongAdder bytesServed = new LongAdder();
  private final LongAdder bytesStored = new LongAdder();
  private final LongAdder evictions = new LongAdder();
  private final LongAdder digestMismatches = new LongAdder();
  private volatile boolean closed;

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
      throw new CacheException("cache directory " + config.root() + " is already open (" + LOCK_FILE + " is locked)");
    }
    BlobCache cache = new BlobCache(config, lockChannel, lock);
    try {
      cache.load();
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

  /**
   * Starts serving {@code key}: a {@link Flight.Hit} when committed, a {@link Flight.Join} when
   * another caller is downloading it, else a {@link Flight.Miss} making this caller the single
   * writer. The decision is immediate; the future completes on the cache executor once a writer's
   * temp file exists (or at once for a hit or join).
   *
   * @throws IllegalStateException if the cache is closed
   */
  public CompletableFuture<Flight> begin(CacheKey key) {
    requireNonNull(key, "key");
    FlightState created;
    synchronized (this) {
      checkOpen();
      EntryRecord r = index.get(key);
      if (r != null && r.tryRetain()) {
        return CompletableFuture.completedFuture(new Flight.Hit(hit(r)));
      }
      FlightState existing = flights.get(key);
      if (existing != null && existing.join()) {
        misses.increment();
        LOG.debug("cache miss (joining download): {}", key);
        return CompletableFuture.completedFuture(new Flight.Join(new CacheReader(existing)));
      }
      String hash = key.fileHash();
      Path dir = root.resolve(hash.substring(0, 2)).resolve(hash.substring(2, 4));
      created = new FlightState(this, key, dir, hash + "-" + randomSuffix());
      flights.put(key, created);
    }
    misses.increment();
    LOG.debug("cache miss (downloading): {}", key);
    FlightState f = created;
    return CompletableFuture.supplyAsync(() -> {
      try {
        Files.createDirectories(f.dir);
        f.opened(FileChannel.open(f.temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
            StandardOpenOption.WRITE));
        return (Flight) new Flight.Miss(new CacheWriter(f));
      } catch (IOException | RuntimeException e) {
        CacheException ce = new CacheException("cannot create " + f.temp + " for " + key, e);
        abortFlight(f, ce);
        throw new CompletionException(ce);
      }
    }, executor);
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
    int n = 0;
    for (EntryRecord r : new ArrayList<>(index.values())) {
      if (predicate.test(r.info()) && index.remove(r.key, r)) {
        totalSize.addAndGet(-r.size);
        doom(r);
        n++;
        LOG.debug("cache purge: {}", r.key);
      }
    }
    return n;
  }

  /** Removes every entry (see {@link #purge(CacheKey)}); returns the number removed. */
  public int purgeAll() {
    return purge(info -> true);
  }

  /** A snapshot of the counters. */
  public CacheStats stats() {
    return new CacheStats(hits.sum(), misses.sum(), bytesServed.sum(), bytesStored.sum(), evictions.sum(),
        digestMismatches.sum(), index.size(), totalSize.get());
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
    CacheException cause = new CacheException("cache " + root + " closed");
    for (FlightState f : open) {
      failFlight(f, cause);
    }
    for (EntryRecord r : index.values()) {
      if (r.hits.get() != r.hitsAtLoad && r.tryRetain()) {
        try {
          writeMeta(r.meta, metadataOf(r));
        } catch (IOException e) {
          LOG.debug("saving hit count of {} failed", r.key, e);
        } finally {
          r.release();
        }
      }
    }
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

  void recordServed(long n) {
    bytesServed.add(n);
  }

  void release(EntryRecord r) {
    if (r.release()) {
      executor.execute(() -> deleteFiles(r));
    } else if (r.refs() == 0 && totalSize.get() > config.maxSizeBytes() && !closed) {
      executor.execute(this::evictIfNeeded);
    }
  }

  /** Runs on the executor, in order, for each chunk of a flight. */
  void writeChunk(FlightState f, ByteBuffer[] buffers, MessageDigest sha256, MessageDigest keyDigest)
      throws IOException {
    if (f.state() != FlightState.State.OPEN) {
      throw new CacheException("download of " + f.key + " was aborted", f.failure());
    }
    long n = 0;
    for (ByteBuffer b : buffers) {
      n += b.remaining();
    }
    long position = f.written();
    if (position + n > config.maxSizeBytes()) {
      throw new CacheException("body of " + f.key + " exceeds the cache size cap of "
          + config.maxSizeBytes() + " bytes");
    }
    FileChannel ch = f.channel();
    for (ByteBuffer b : buffers) {
      sha256.update(b.duplicate());
      if (keyDigest != null) {
        keyDigest.update(b.duplicate());
      }
      ByteBuffer src = b.duplicate();
      while (src.hasRemaining()) {
        position += ch.write(src, position);
      }
    }
    f.advance(n);
  }

  /** Runs on the executor after the last write; verifies, syncs and publishes. */
  CacheEntry commitFlight(FlightState f, Map<String, String> headers, long expectedLength,
      MessageDigest sha256, MessageDigest keyDigest) {
    Path data = f.dir.resolve(f.fileStem + DATA_SUFFIX);
    Path meta = f.dir.resolve(f.fileStem + META_SUFFIX);
    boolean moved = false;
    try {
      if (f.state() != FlightState.State.OPEN) {
        throw new CacheException("download of " + f.key + " was aborted", f.failure());
      }
      long size = f.written();
      if (expectedLength >= 0 && size != expectedLength) {
        throw new CacheException("incomplete body of " + f.key + ": " + size + " of " + expectedLength + " bytes");
      }
      String sha256Hex = hex(sha256.digest());
      String actual = "sha256:" + sha256Hex;
      Optional<String> want = f.key.digest();
      if (want.isPresent()) {
        String got = want.get().startsWith("sha256:") ? actual : "sha512:" + hex(keyDigest.digest());
        verify(want.get(), got);
      }
      String announced = headers.get(StoredHeaders.DOCKER_CONTENT_DIGEST);
      if (announced != null && announced.toLowerCase(Locale.ROOT).startsWith("sha256:")) {
        verify(announced.toLowerCase(Locale.ROOT), actual);
      }
      f.channel().force(true);
      move(f.temp, data);
      moved = true;
      Map<String, String> stored = new LinkedHashMap<>(headers);
      stored.put(StoredHeaders.CONTENT_LENGTH, Long.toString(size));
      long now = System.currentTimeMillis();
      EntryRecord r = new EntryRecord(f.key, data, meta, size, now, sha256Hex, stored, 0, now,
          accessSeq.incrementAndGet());
      writeMeta(meta, metadataOf(r));
      syncDirectory(f.dir);
      r.tryRetain(); // the lease returned to the writer
      publish(f, r);
      f.finish(FlightState.State.COMMITTED, null);
      if (f.markWriterDone()) {
        f.releaseChannel();
      }
      bytesStored.add(size);
      LOG.debug("cache store: {} ({} bytes)", f.key, size);
      evictIfNeeded();
      return new CacheEntry(this, r);
    } catch (IOException | RuntimeException e) {
      if (moved) {
        deleteQuietly(meta);
        deleteQuietly(data);
      }
      if (e instanceof DigestMismatchException) {
        digestMismatches.increment();
        LOG.warn("cache rejects {}: {}", f.key, e.getMessage());
      }
      throw new CompletionException(e);
    }
  }

  /** Ends a flight as failed for its readers and unlists it; the temp file is left to abortFlight. */
  void failFlight(FlightState f, Throwable cause) {
    synchronized (this) {
      flights.remove(f.key, f);
    }
    if (f.finish(FlightState.State.ABORTED, cause)) {
      LOG.debug("cache download of {} aborted: {}", f.key, cause.toString());
    }
  }

  /** Fails the flight and removes its temp file; called once per writer that does not commit. */
  void abortFlight(FlightState f, Throwable cause) {
    failFlight(f, cause);
    if (f.markWriterDone()) {
      deleteQuietly(f.temp);
      f.releaseChannel();
    }
  }

  // ---- internals ----

  private CacheEntry hit(EntryRecord r) {
    hits.increment();
    r.hits.incrementAndGet();
    r.lastAccessMillis = System.currentTimeMillis();
    r.accessSeq = accessSeq.incrementAndGet();
    LOG.debug("cache hit: {}", r.key);
    long at = r.lastAccessMillis;
    if (r.tryRetain()) {
      executor.execute(() -> {
        try {
          Files.setLastModifiedTime(r.data, FileTime.fromMillis(at));
        } catch (IOException e) {
          LOG.debug("recording access time of {} failed", r.key, e);
        } finally {
          release(r);
        }
      });
    }
    return new CacheEntry(this, r);
  }

  private synchronized void publish(FlightState f, EntryRecord r) {
    flights.remove(f.key, f);
    totalSize.addAndGet(r.size);
    EntryRecord old = index.put(f.key, r);
    if (old != null) {
      totalSize.addAndGet(-old.size);
      doom(old);
    }
  }

  private void doom(EntryRecord r) {
    r.doomed = true;
    if (r.tryClaimForDelete()) {
      deleteFiles(r);
    }
  }

  private void evictIfNeeded() {
    if (totalSize.get() <= config.maxSizeBytes()) {
      return;
    }
    synchronized (evictLock) {
      List<EntryRecord> byAge = new ArrayList<>(index.values());
      byAge.sort(Comparator.comparingLong(r -> r.accessSeq));
      for (EntryRecord r : byAge) {
        if (totalSize.get() <= config.maxSizeBytes()) {
          break;
        }
        if (r.tryClaimForDelete()) {
          if (index.remove(r.key, r)) {
            totalSize.addAndGet(-r.size);
          }
          evictions.increment();
          LOG.debug("cache evict: {} ({} bytes)", r.key, r.size);
          deleteFiles(r);
        }
      }
    }
  }

  private void deleteFiles(EntryRecord r) {
    deleteQuietly(r.meta); // the commit record goes first: a crash in between leaves an orphan body
    deleteQuietly(r.data);
  }

  private void load() throws IOException {
    Map<String, Path> datas = new HashMap<>();
    List<Path> metas = new ArrayList<>();
    try (Stream<Path> files = Files.walk(root, 3)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        String name = p.getFileName().toString();
        if (p.getParent().equals(root) || !Files.isRegularFile(p)) {
          continue;
        }
        if (name.endsWith(TEMP_SUFFIX)) {
          LOG.debug("deleting interrupted download {}", p);
          deleteQuietly(p);
        } else if (name.endsWith(DATA_SUFFIX)) {
          datas.put(stem(name, DATA_SUFFIX), p);
        } else if (name.endsWith(META_SUFFIX)) {
          metas.add(p);
        }
      }
    }
    Set<String> valid = new HashSet<>();
    List<EntryRecord> loaded = new ArrayList<>();
    for (Path metaPath : metas) {
      String stem = stem(metaPath.getFileName().toString(), META_SUFFIX);
      Path data = datas.get(stem);
      try {
        EntryMetadata m = EntryMetadata.decode(Files.readAllBytes(metaPath));
        String hash = m.key.fileHash();
        if (data == null || !stem.startsWith(hash + "-")
            || !metaPath.getParent().equals(root.resolve(hash.substring(0, 2)).resolve(hash.substring(2, 4)))
            || Files.size(data) != m.size) {
          throw new IOException("body missing, misplaced or not " + m.size + " bytes");
        }
        long lastAccess = Files.getLastModifiedTime(data).toMillis();
        loaded.add(new EntryRecord(m.key, data, metaPath, m.size, m.createdMillis, m.sha256, m.headers,
            m.hits, lastAccess, 0));
        valid.add(stem);
      } catch (IOException e) {
        LOG.warn("deleting invalid cache entry {}: {}", metaPath, e.getMessage());
        deleteQuietly(metaPath);
      }
    }
    datas.forEach((stem, p) -> {
      if (!valid.contains(stem)) {
        LOG.debug("deleting uncommitted body {}", p);
        deleteQuietly(p);
      }
    });
    loaded.sort(Comparator.comparingLong((EntryRecord r) -> r.lastAccessMillis));
    for (EntryRecord r : loaded) {
      r.accessSeq = accessSeq.incrementAndGet();
      EntryRecord old = index.put(r.key, r);
      totalSize.addAndGet(r.size);
      if (old != null) { // the same key committed twice: keep the newer
        EntryRecord drop = old.createdMillis <= r.createdMillis ? old : r;
        if (drop == r) {
          index.put(r.key, old);
        }
        totalSize.addAndGet(-drop.size);
        drop.tryClaimForDelete();
        deleteFiles(drop);
      }
    }
    LOG.debug("cache {} opened: {} entries, {} bytes", root, index.size(), totalSize.get());
    evictIfNeeded();
  }

  private void verify(String expected, String actual) throws DigestMismatchException {
    if (!MessageDigest.isEqual(expected.getBytes(java.nio.charset.StandardCharsets.US_ASCII),
        actual.getBytes(java.nio.charset.StandardCharsets.US_ASCII))) {
      throw new DigestMismatchException(expected, actual);
    }
  }

  private EntryMetadata metadataOf(EntryRecord r) {
    return new EntryMetadata(r.key, r.size, r.createdMillis, r.sha256, r.hits.get(), r.headers);
  }

  private static void writeMeta(Path meta, EntryMetadata m) throws IOException {
    Path tmp = meta.resolveSibling(meta.getFileName() + TEMP_SUFFIX);
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer b = ByteBuffer.wrap(m.encode());
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
    move(tmp, meta);
  }

  private static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      throw new CacheException("cannot rename " + from + " atomically", e);
    }
  }

  private static void syncDirectory(Path dir) {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException e) {
      LOG.trace("directory fsync not supported for {}", dir, e); // not possible on every platform
    }
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (NoSuchFileException e) {
      // already gone
    } catch (IOException e) {
      LOG.warn("cannot delete {}: {}", p, e.toString());
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("cache " + root + " is closed");
    }
  }

  private static String stem(String name, String suffix) {
    return name.substring(0, name.length() - suffix.length());
  }

  private static String randomSuffix() {
    return String.format("%016x", ThreadLocalRandom.current().nextLong());
  }

  static String hex(byte[] bytes) {
    StringBuilder sb = new StringBuilder(bytes.length * 2);
    for (byte b : bytes) {
      sb.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
    }
    return sb.toString();
  }
}
