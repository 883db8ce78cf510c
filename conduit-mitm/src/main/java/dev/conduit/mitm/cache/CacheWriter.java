package dev.conduit.mitm.cache;

import static java.util.Objects.requireNonNull;

import io.netty.buffer.ByteBuf;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The single writer of a download, handed out by {@link Flight.Miss}.
 *
 * <p>Call {@link #start} with the upstream response headers, then {@link #write} the <em>decoded</em>
 * body (no chunked framing, no content coding) chunk by chunk, then {@link #commit()} or
 * {@link #abort(Throwable)}. All methods return at once; the file I/O runs on the cache's executor
 * in call order and the returned futures complete there (hop back to your event loop before touching
 * channel state). Waiting for a write's future before reading more from upstream gives back-pressure
 * without buffering in memory.
 *
 * <p>The writer belongs to the flight, not to the client that started it: when that client goes away
 * the proxy may keep feeding the writer so that joined readers and later requests still get the
 * blob. Every writer must end with {@code commit} or {@code abort}; until then joined readers wait.
 * Methods may be called from any thread but not concurrently.
 */
public final class CacheWriter {

  private final FlightState flight;
  private final MessageDigest sha256;
  private final MessageDigest keyDigest;
  private CompletableFuture<Void> tail = CompletableFuture.completedFuture(null);
  private Map<String, String> headers;
  private long expectedLength = -1;
  private long accepted;
  private boolean ended;

  CacheWriter(FlightState flight) {
    this.flight = flight;
    this.sha256 = newDigest("SHA-256");
    String digest = flight.key.digest().orElse(null);
    this.keyDigest = digest == null || digest.startsWith("sha256:") ? null : newDigest("SHA-512");
  }

  /** The key being downloaded. */
  public CacheKey key() {
    return flight.key;
  }

  /**
   * Records the response headers; joined readers learn them from {@link CacheReader#response()}.
   * The {@code Content-Length} (unless a {@code Content-Encoding} is present) becomes the length the
   * body must have at commit.
   *
   * @param responseHeaders the upstream response headers (Netty's {@code HttpHeaders} fits)
   * @throws IllegalStateException if called twice or after the writer ended
   */
  public synchronized void start(Iterable<? extends Map.Entry<String, String>> responseHeaders) {
    requireNonNull(responseHeaders, "responseHeaders");
    if (headers != null || ended) {
      throw new IllegalStateException("start: already called for " + flight.key);
    }
    headers = StoredHeaders.select(responseHeaders);
    expectedLength = StoredHeaders.expectedLength(responseHeaders);
    if (expectedLength < 0) {
      headers.remove(StoredHeaders.CONTENT_LENGTH); // a decoded body's length is known at commit
    }
    flight.headers.complete(StoredHeaders.unmodifiable(headers));
  }

  /**
   * Appends a chunk. The caller must not modify {@code chunk} until the returned future completes.
   *
   * @return completes once the chunk is in the file and visible to readers; fails (and aborts the
   *     flight) on an I/O error, when the body exceeds its {@code Content-Length} or the size cap
   * @throws IllegalStateException if {@link #start} was not called or the writer ended
   */
  public synchronized CompletableFuture<Void> write(ByteBuffer chunk) {
    requireNonNull(chunk, "chunk");
    checkWritable();
    return enqueue(new ByteBuffer[] {chunk}, null);
  }

  /**
   * Appends a chunk and takes ownership of it: the buffer is released once written (or failed).
   *
   * @return as {@link #write(ByteBuffer)}
   * @throws IllegalStateException if {@link #start} was not called or the writer ended (the buffer
   *     is released)
   */
  public synchronized CompletableFuture<Void> write(ByteBuf chunk) {
    requireNonNull(chunk, "chunk");
    try {
      checkWritable();
    } catch (IllegalStateException e) {
      chunk.release();
      throw e;
    }
    return enqueue(chunk.nioBuffers(), chunk);
  }

  /**
   * Completes the download: checks the length against {@code Content-Length}, verifies a digest key
   * (and a sha256 {@code Docker-Content-Digest} header) against the bytes, syncs the file to disk and
   * publishes the entry atomically. Joined readers then read to the end.
   *
   * @return the committed entry (a lease the caller must close), or a failure: {@link
   *     DigestMismatchException}, or {@link CacheException} for an incomplete body or an I/O error;
   *     on failure nothing is cached and joined readers get the error
   * @throws IllegalStateException if {@link #start} was not called or the writer already ended
   */
  public synchronized CompletableFuture<CacheEntry> commit() {
    checkWritable();
    ended = true;
    Map<String, String> h = headers;
    long expected = expectedLength;
    CompletableFuture<CacheEntry> result = tail.thenApplyAsync(
        v -> FlightCompletion.commit(flight.cache, flight, h, expected, sha256, keyDigest), flight.cache.executor());
    tail = result.thenApply(e -> null);
    return result.whenComplete((e, t) -> {
      if (t != null) {
        flight.cache.abortFlight(flight, unwrap(t));
      }
    });
  }

  /**
   * Abandons the download: joined readers fail with {@code cause} at once, the temp file is deleted
   * after pending writes finish. Calling it after the writer ended does nothing.
   *
   * @return completes when the temp file is gone
   */
  public synchronized CompletableFuture<Void> abort(Throwable cause) {
    requireNonNull(cause, "cause");
    if (ended) {
      return tail.handle((v, t) -> null);
    }
    ended = true;
    flight.cache.failFlight(flight, cause);
    CompletableFuture<Void> done = tail.handleAsync((v, t) -> {
      flight.cache.abortFlight(flight, cause);
      return null;
    }, flight.cache.executor());
    tail = done;
    return done;
  }

  /**
   * The validators for a conditional request revalidating the stale entry ({@code If-None-Match}
   * from its {@code ETag}, {@code If-Modified-Since} from its {@code Last-Modified}); empty for a
   * miss or an entry without validators (the origin then sends the whole body).
   */
  public Map<String, String> conditionalHeaders() {
    Map<String, String> out = new java.util.LinkedHashMap<>();
    if (flight.stale != null) {
      Map<String, String> h = flight.stale.headers;
      if (h.containsKey("ETag")) {
        out.put("If-None-Match", h.get("ETag"));
      }
      if (h.containsKey("Last-Modified")) {
        out.put("If-Modified-Since", h.get("Last-Modified"));
      }
    }
    return out;
  }

  /**
   * Ends a revalidation the origin answered with {@code 304 Not Modified}: the stale entry's headers
   * are updated from {@code responseHeaders}, its validation time set to now and joined readers
   * served its body; nothing is downloaded.
   *
   * @return the refreshed entry (a lease the caller must close), or a failure when the entry was
   *     purged meanwhile
   * @throws IllegalStateException if this writer does not revalidate an entry, or started or ended
   */
  public synchronized CompletableFuture<CacheEntry> notModified(
      Iterable<? extends Map.Entry<String, String>> responseHeaders) {
    requireNonNull(responseHeaders, "responseHeaders");
    if (flight.stale == null) {
      throw new IllegalStateException("notModified: " + flight.key + " is a miss, not a revalidation");
    }
    if (headers != null || ended) {
      throw new IllegalStateException("notModified: the writer of " + flight.key + " already started or ended");
    }
    ended = true;
    CompletableFuture<CacheEntry> result = tail.thenApplyAsync(
        v -> FlightCompletion.refresh(flight.cache, flight, responseHeaders), flight.cache.executor());
    tail = result.thenApply(e -> null);
    return result.whenComplete((e, t) -> {
      if (t != null) {
        flight.cache.abortFlight(flight, unwrap(t));
      }
    });
  }

  /** Bytes handed to {@link #write} so far (written or queued). */
  public synchronized long bytesAccepted() {
    return accepted;
  }

  private void checkWritable() {
    if (headers == null) {
      throw new IllegalStateException("start: not called for " + flight.key);
    }
    if (ended) {
      throw new IllegalStateException("writer of " + flight.key + " already committed or aborted");
    }
  }

  private CompletableFuture<Void> enqueue(ByteBuffer[] buffers, ByteBuf owned) {
    long n = 0;
    for (ByteBuffer b : buffers) {
      n += b.remaining();
    }
    accepted += n;
    long acceptedNow = accepted;
    long expected = expectedLength;
    // handle (not thenRun) so an owned buffer is released even when an earlier write failed
    CompletableFuture<Void> next = tail.handleAsync((v, prior) -> {
      try {
        if (prior != null) {
          throw new CompletionException(unwrap(prior));
        }
        if (expected >= 0 && acceptedNow > expected) {
          throw new CompletionException(new CacheException("body of " + flight.key
              + " exceeds Content-Length: " + acceptedNow + " > " + expected + " bytes"));
        }
        FlightCompletion.writeChunk(flight.cache, flight, buffers, sha256, keyDigest);
        return null;
      } catch (java.io.IOException e) {
        throw new CompletionException(e);
      } finally {
        if (owned != null) {
          owned.release();
        }
      }
    }, flight.cache.executor());
    // A failed write fails the flight for readers at once; the writer's next call sees it.
    next.whenComplete((v, t) -> {
      if (t != null) {
        flight.cache.failFlight(flight, unwrap(t));
      }
    });
    tail = next;
    return next;
  }

  static Throwable unwrap(Throwable t) {
    return t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
  }

  private static MessageDigest newDigest(String algorithm) {
    try {
      return MessageDigest.getInstance(algorithm);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(algorithm + " unavailable", e);
    }
  }
}
