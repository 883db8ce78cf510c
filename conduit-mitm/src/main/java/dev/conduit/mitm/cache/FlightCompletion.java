package dev.conduit.mitm.cache;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionException;

/**
 * The ends of a {@link FlightState} on the cache's executor: each written chunk, the commit
 * (length and digest checks, fsync, atomic publish) and the refresh of a revalidated entry by a 304.
 */
final class FlightCompletion {

  private static final org.slf4j.Logger LOG = BlobCache.LOG;

  private FlightCompletion() {
  }

  private static void verify(String expected, String actual) throws DigestMismatchException {
    if (!MessageDigest.isEqual(expected.getBytes(java.nio.charset.StandardCharsets.US_ASCII),
        actual.getBytes(java.nio.charset.StandardCharsets.US_ASCII))) {
      throw new DigestMismatchException(expected, actual);
    }
  }

  /** Runs on the executor, in order, for each chunk of a flight. */
  static void writeChunk(BlobCache cache, FlightState f, ByteBuffer[] buffers, MessageDigest sha256, MessageDigest keyDigest)
      throws IOException {
    if (f.state() != FlightState.State.OPEN) {
      throw new CacheException("download of " + f.key + " was aborted", f.failure());
    }
    long n = 0;
    for (ByteBuffer b : buffers) {
      n += b.remaining();
    }
    long position = f.written();
    if (position + n > cache.config.maxSizeBytes()) {
      throw new CacheException("body of " + f.key + " exceeds the cache size cap of "
          + cache.config.maxSizeBytes() + " bytes");
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
  static CacheEntry commit(BlobCache cache, FlightState f, Map<String, String> headers, long expectedLength,
      MessageDigest sha256, MessageDigest keyDigest) {
    Path data = f.dir.resolve(f.fileStem + CacheFiles.DATA_SUFFIX);
    Path meta = f.dir.resolve(f.fileStem + CacheFiles.META_SUFFIX);
    boolean moved = false;
    try {
      if (f.state() != FlightState.State.OPEN) {
        throw new CacheException("download of " + f.key + " was aborted", f.failure());
      }
      long size = f.written();
      if (expectedLength >= 0 && size != expectedLength) {
        throw new CacheException("incomplete body of " + f.key + ": " + size + " of " + expectedLength + " bytes");
      }
      String sha256Hex = CacheFiles.hex(sha256.digest());
      String actual = "sha256:" + sha256Hex;
      Optional<String> want = f.key.digest();
      if (want.isPresent()) {
        String got = want.get().startsWith("sha256:") ? actual : "sha512:" + CacheFiles.hex(keyDigest.digest());
        verify(want.get(), got);
      }
      java.util.regex.Matcher byHash = Freshness.BY_HASH.matcher(f.key.path().orElse(""));
      if (byHash.find()) {
        verify("sha256:" + byHash.group(1), actual);
      }
      Optional<String> listed = cache.packages.expected(f.key);
      if (listed.isPresent()) {
        verify("sha256:" + listed.get(), actual);
      }
      String announced = headers.get(StoredHeaders.DOCKER_CONTENT_DIGEST);
      if (announced != null && announced.toLowerCase(Locale.ROOT).startsWith("sha256:")) {
        verify(announced.toLowerCase(Locale.ROOT), actual);
      }
      f.channel().force(true);
      CacheFiles.move(f.temp, data);
      moved = true;
      Map<String, String> stored = new LinkedHashMap<>(headers);
      stored.put(StoredHeaders.CONTENT_LENGTH, Long.toString(size));
      long now = cache.now();
      EntryRecord r = new EntryRecord(f.key, data, meta, size, now, sha256Hex, stored, 0, now,
          cache.accessSeq.incrementAndGet(), now, f.stale != null && f.stale.pinned);
      CacheFiles.writeMeta(meta, cache.metadataOf(r));
      CacheFiles.syncDirectory(f.dir);
      r.tryRetain(); // the lease returned to the writer
      cache.publish(f, r);
      if (PackageIndex.isIndex(f.key)) {
        // before the client gets the end of the index, so the packages it asks for next are verified
        int n = cache.packages.learn(f.key, data);
        LOG.debug("package index {}: {} digests", f.key, n);
      }
      f.finish(FlightState.State.COMMITTED, null);
      if (f.markWriterDone()) {
        f.releaseChannel();
      }
      cache.counters.bytesStored.add(size);
      if (f.stale != null) {
        cache.counters.revalidatedModified.increment();
        cache.release(f.stale);
      }
      LOG.debug("cache store: {} ({} bytes)", f.key, size);
      cache.evictIfNeeded();
      return new CacheEntry(cache, r);
    } catch (IOException | RuntimeException e) {
      if (moved) {
        cache.deleteQuietly(meta);
        cache.deleteQuietly(data);
      }
      if (e instanceof DigestMismatchException) {
        cache.counters.digestMismatches.increment();
        LOG.warn("cache rejects {}: {}", f.key, e.getMessage());
      }
      throw new CompletionException(e);
    }
  }

  /**
   * Runs on the executor for a revalidation the origin answered with 304: the stale entry is
   * refreshed in place (headers, validation time), joined readers read its body, no byte is copied.
   */
  static CacheEntry refresh(BlobCache cache, FlightState f, Iterable<? extends Map.Entry<String, String>> notModified) {
    EntryRecord r = f.stale;
    if (f.state() != FlightState.State.OPEN) {
      throw new CompletionException(new CacheException("revalidation of " + f.key + " was aborted", f.failure()));
    }
    if (cache.index.get(f.key) != r) {
      throw new CompletionException(new CacheException("entry " + f.key + " was removed during its revalidation"));
    }
    r.headers = StoredHeaders.unmodifiable(StoredHeaders.refreshed(r.headers, notModified));
    r.validatedMillis = cache.now();
    cache.saveMeta(r, false); // a lost validation time only costs one more revalidation
    FileChannel body;
    try {
      body = FileChannel.open(r.data, StandardOpenOption.READ);
    } catch (IOException e) {
      throw new CompletionException(e);
    }
    FileChannel temp = f.channel();
    f.opened(body); // joined readers have read nothing yet: the temp file stayed empty
    try {
      temp.close();
    } catch (IOException e) {
      LOG.debug("closing temp channel of {} failed", f.key, e);
    }
    CacheFiles.deleteQuietly(f.temp);
    f.headers.complete(r.headers);
    synchronized (cache) {
      cache.flights.remove(f.key, f);
    }
    f.advance(r.size);
    f.finish(FlightState.State.COMMITTED, null);
    if (f.markWriterDone()) {
      f.releaseChannel();
    }
    cache.counters.revalidatedNotModified.increment();
    LOG.debug("cache revalidated (304): {}", f.key);
    return cache.hit(r); // the lease taken by begin passes to the caller
  }
}
