package dev.conduit.mitm.cache;

import static java.util.Objects.requireNonNull;

import io.netty.channel.DefaultFileRegion;
import io.netty.channel.FileRegion;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A lease on a committed entry. While any lease (or a region opened from it) is open the entry is
 * neither evicted nor deleted by a purge, so its file stays readable. Close it when done.
 *
 * <p>The body is the whole file at {@link #path()}: offset 0, {@link #length()} bytes, decoded
 * (no transfer or content coding). Serve it zero-copy with {@link #openRegion}.
 */
public final class CacheEntry implements AutoCloseable {

  private final BlobCache cache;
  private final EntryRecord record;
  private final AtomicBoolean closed = new AtomicBoolean();

  CacheEntry(BlobCache cache, EntryRecord record) {
    this.cache = cache;
    this.record = record;
  }

  EntryRecord record() {
    return record;
  }

  /** The entry's kind (see {@link Freshness#of}). */
  public Freshness kind() {
    return Freshness.of(record.key);
  }

  /** When the origin last sent or confirmed (304) the body. */
  public Instant lastValidated() {
    return Instant.ofEpochMilli(record.validatedMillis);
  }

  /** The entry's key. */
  public CacheKey key() {
    return record.key;
  }

  /** The body file; the body spans the whole file. */
  public Path path() {
    return record.data;
  }

  /** The body length in bytes. */
  public long length() {
    return record.size;
  }

  /**
   * The stored response headers in canonical spelling: {@code Content-Type}, {@code ETag},
   * {@code Last-Modified}, {@code Docker-Content-Digest}, {@code Cache-Control}, {@code Expires}
   * and {@code Date} when upstream sent them (as refreshed by the last 304), and always
   * {@code Content-Length} (the stored length).
   */
  public Map<String, String> headers() {
    return record.headers;
  }

  /** Lower-case hex SHA-256 of the body. */
  public String sha256() {
    return record.sha256;
  }

  /** When the entry was committed. */
  public Instant created() {
    return Instant.ofEpochMilli(record.createdMillis);
  }

  /** When the entry was last served (or committed). */
  public Instant lastAccess() {
    return Instant.ofEpochMilli(record.lastAccessMillis);
  }

  /**
   * Opens the body for reading. Blocking file I/O: do not call on an event loop (use
   * {@link #openRegion} there). The channel stays valid after this lease is closed.
   */
  public FileChannel openChannel() throws IOException {
    return FileChannel.open(record.data, StandardOpenOption.READ);
  }

  /**
   * Opens, on the cache's executor, a Netty {@link FileRegion} over {@code [position, position +
   * count)} of the body for zero-copy ({@code sendfile}) writes. The region holds its own lease and
   * counts its transferred bytes as served from cache; whoever ends up owning it (normally the
   * channel it is written to) releases it, so this entry may be closed right away.
   *
   * @throws IndexOutOfBoundsException if the range is not within the body
   */
  public CompletableFuture<FileRegion> openRegion(long position, long count) {
    if (position < 0 || count < 0 || position > record.size - count) {
      throw new IndexOutOfBoundsException("range: " + position + "+" + count + " (expected: within 0-"
          + record.size + ")");
    }
    if (!record.tryRetain()) {
      return CompletableFuture.failedFuture(new CacheException("entry " + record.key + " was removed"));
    }
    return CompletableFuture.supplyAsync(() -> {
      try {
        FileChannel ch = FileChannel.open(record.data, StandardOpenOption.READ);
        return (FileRegion) new LeasedRegion(ch, position, count);
      } catch (IOException e) {
        cache.release(record);
        throw new CompletionException(e);
      }
    }, cache.executor());
  }

  /** Releases this lease; idempotent. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      cache.release(record);
    }
  }

  @Override
  public String toString() {
    return "CacheEntry{" + record.key + ", " + record.size + " bytes}";
  }

  /** A file region that returns its lease and counts served bytes when released. */
  private final class LeasedRegion extends DefaultFileRegion {
    LeasedRegion(FileChannel channel, long position, long count) {
      super(requireNonNull(channel, "channel"), position, count);
    }

    @Override
    protected void deallocate() {
      try {
        cache.recordServed(transferred());
        super.deallocate();
      } finally {
        cache.release(record);
      }
    }
  }
}
