package dev.conduit.mitm.cache;

import static java.util.Objects.requireNonNull;

import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Streams a download in progress, handed out by {@link Flight.Join}.
 *
 * <p>Bytes are read from the growing temp file by offset, never from an in-memory queue, so a slow
 * reader costs the writer nothing. A read waits (on a future, without polling) until the writer has
 * written past the reader's position. When the writer commits, reads continue to the end and then
 * return -1; when it aborts, pending and later reads fail with the writer's cause.
 *
 * <p>{@link #close()} detaches this reader only; the shared download continues. One read may be
 * outstanding at a time. Futures complete on the cache's executor.
 */
public final class CacheReader implements AutoCloseable {

  private final FlightState flight;
  private long position;
  private CompletableFuture<Integer> pending;
  private boolean closed;

  CacheReader(FlightState flight) {
    this.flight = flight;
  }

  /** The key being downloaded. */
  public CacheKey key() {
    return flight.key;
  }

  /**
   * The stored response headers ({@code Content-Type}, {@code ETag}, {@code Last-Modified},
   * {@code Docker-Content-Digest} and {@code Content-Length} when the length is known up front),
   * completed when the writer starts; fails if the writer aborts first.
   */
  public CompletableFuture<Map<String, String>> response() {
    return flight.headers.copy();
  }

  /** Bytes read so far. */
  public synchronized long position() {
    return position;
  }

  /**
   * Reads the next bytes into {@code dst}.
   *
   * @return the number of bytes read (at least 1), -1 at the end of a committed body, or a failure
   *     with the writer's abort cause
   * @throws IllegalStateException if a read is outstanding or the reader is closed
   */
  public synchronized CompletableFuture<Integer> read(ByteBuffer dst) {
    requireNonNull(dst, "dst");
    if (!dst.hasRemaining()) {
      throw new IllegalArgumentException("dst: no space remaining (expected: a writable buffer)");
    }
    if (closed) {
      throw new IllegalStateException("reader of " + flight.key + " is closed");
    }
    if (pending != null && !pending.isDone()) {
      throw new IllegalStateException("read: another read of " + flight.key + " is outstanding");
    }
    long from = position;
    CompletableFuture<Integer> f = flight.awaitBeyond(from).thenApplyAsync(available -> {
      if (available == FlightState.END) {
        return -1;
      }
      try {
        ByteBuffer view = dst;
        long room = available - from;
        if (room < dst.remaining()) {
          view = dst.duplicate();
          view.limit(view.position() + (int) room);
        }
        int n = 0;
        while (view.hasRemaining() && from + n < available) {
          int r = flight.channel().read(view, from + n);
          if (r < 0) {
            break;
          }
          n += r;
        }
        if (view != dst) {
          dst.position(view.position());
        }
        synchronized (this) {
          position = from + n;
        }
        return n;
      } catch (ClosedChannelException e) {
        throw new CompletionException(new CacheException("reader of " + flight.key + " is closed", e));
      } catch (IOException e) {
        throw new CompletionException(e);
      }
    }, flight.cache.executor());
    pending = f;
    return f;
  }

  /**
   * Reads the next bytes into the writable space of {@code dst} and advances its writer index.
   *
   * @param dst a buffer backed by one NIO buffer (not a composite)
   * @return as {@link #read(ByteBuffer)}; {@code dst} must not be touched until it completes
   */
  public CompletableFuture<Integer> read(ByteBuf dst) {
    requireNonNull(dst, "dst");
    if (dst.nioBufferCount() != 1) {
      throw new IllegalArgumentException("dst: " + dst.nioBufferCount()
          + " NIO buffers (expected: 1, e.g. a pooled heap or direct buffer)");
    }
    int start = dst.writerIndex();
    ByteBuffer nio = dst.nioBuffer(start, dst.writableBytes());
    return read(nio).thenApply(n -> {
      if (n > 0) {
        dst.writerIndex(start + n);
      }
      return n;
    });
  }

  /** Detaches this reader; the download continues for the writer and other readers. */
  @Override
  public void close() {
    CompletableFuture<Integer> inFlight;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      inFlight = pending;
    }
    if (inFlight == null || inFlight.isDone()) {
      flight.releaseChannel();
    } else {
      inFlight.whenComplete((n, t) -> flight.releaseChannel());
    }
  }
}
