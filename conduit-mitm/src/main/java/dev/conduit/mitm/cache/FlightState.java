package dev.conduit.mitm.cache;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One in-progress download shared by its writer and any readers. Readers read the temp file by
 * offset, so a slow reader never makes the writer buffer in memory; they wait on futures completed
 * by {@link #advance} and {@link #finish}, never by polling.
 */
final class FlightState {

  enum State { OPEN, COMMITTED, ABORTED }

  /** A reader waiting for bytes beyond {@code position}. */
  private static final class Waiter {
    final long position;
    final CompletableFuture<Long> future;

    Waiter(long position, CompletableFuture<Long> future) {
      this.position = position;
      this.future = future;
    }
  }

  /** Returned by {@link #awaitBeyond} when the committed body ends at the position asked for. */
  static final long END = -1;

  final BlobCache cache;
  final CacheKey key;
  final Path dir;
  final String fileStem;
  final Path temp;
  /** Completed with the stored headers when the writer starts the response. */
  final CompletableFuture<Map<String, String>> headers = new CompletableFuture<>();

  /** Set once by the writer's create task before any byte is written. */
  private volatile FileChannel channel;
  private long written;
  private State state = State.OPEN;
  private Throwable failure;
  private final List<Waiter> waiters = new ArrayList<>();
  /** The writer plus every open reader share the channel; it closes when the last one leaves. */
  private int channelRefs = 1;
  private boolean writerDone;

  /** The committed entry this flight revalidates (its lease held by the flight), or null for a miss. */
  final EntryRecord stale;

  FlightState(BlobCache cache, CacheKey key, Path dir, String fileStem, EntryRecord stale) {
    this.stale = stale;
    this.cache = cache;
    this.key = key;
    this.dir = dir;
    this.fileStem = fileStem;
    this.temp = dir.resolve(fileStem + BlobCache.TEMP_SUFFIX);
  }

  void opened(FileChannel channel) {
    this.channel = channel;
  }

  FileChannel channel() {
    return channel;
  }

  synchronized long written() {
    return written;
  }

  synchronized State state() {
    return state;
  }

  synchronized Throwable failure() {
    return failure;
  }

  /** Returns true the first time only: the writer's cleanup runs once. */
  synchronized boolean markWriterDone() {
    if (writerDone) {
      return false;
    }
    writerDone = true;
    return true;
  }

  /** Adds a reader unless the flight already ended; false means the caller must start afresh. */
  synchronized boolean join() {
    if (state == State.ABORTED || channelRefs == 0) {
      return false;
    }
    channelRefs++;
    return true;
  }

  void releaseChannel() {
    FileChannel toClose = null;
    synchronized (this) {
      if (channelRefs > 0 && --channelRefs == 0) {
        toClose = channel;
      }
    }
    if (toClose != null) {
      try {
        toClose.close();
      } catch (IOException e) {
        BlobCache.LOG.debug("closing temp channel of {} failed", key, e);
      }
    }
  }

  /**
   * Completes with the number of bytes written once it exceeds {@code position}, with {@link #END}
   * when the flight committed at exactly {@code position}, or exceptionally when it aborted.
   */
  synchronized CompletableFuture<Long> awaitBeyond(long position) {
    if (state == State.ABORTED) {
      return CompletableFuture.failedFuture(failure);
    }
    if (written > position) {
      return CompletableFuture.completedFuture(written);
    }
    if (state == State.COMMITTED) {
      return CompletableFuture.completedFuture(END);
    }
    CompletableFuture<Long> f = new CompletableFuture<>();
    waiters.add(new Waiter(position, f));
    return f;
  }

  /** Publishes {@code n} more durable-in-page-cache bytes to readers. */
  void advance(long n) {
    List<Waiter> ready = new ArrayList<>();
    long now;
    synchronized (this) {
      written += n;
      now = written;
      waiters.removeIf(w -> {
        if (w.position < now) {
          ready.add(w);
          return true;
        }
        return false;
      });
    }
    for (Waiter w : ready) {
      w.future.complete(now);
    }
  }

  /** Ends the flight; returns false if it had already ended. */
  boolean finish(State outcome, Throwable cause) {
    List<Waiter> all;
    long end;
    synchronized (this) {
      if (state != State.OPEN) {
        return false;
      }
      state = outcome;
      failure = cause;
      end = written;
      all = new ArrayList<>(waiters);
      waiters.clear();
    }
    if (outcome == State.ABORTED) {
      headers.completeExceptionally(cause);
      for (Waiter w : all) {
        w.future.completeExceptionally(cause);
      }
    } else {
      for (Waiter w : all) {
        w.future.complete(w.position < end ? end : END);
      }
    }
    return true;
  }
}
