package dev.conduit.mitm.cache;

/**
 * The result of {@link BlobCache#begin(CacheKey)}: exactly one of
 * <ul>
 *   <li>{@link Hit}: a committed entry, serve it (zero-copy with {@link CacheEntry#openRegion});</li>
 *   <li>{@link Miss}: nobody is downloading the key; this caller downloads it through the
 *       {@link CacheWriter} and must end with {@link CacheWriter#commit()} or
 *       {@link CacheWriter#abort(Throwable)};</li>
 *   <li>{@link Join}: another caller is downloading or revalidating the key; stream it with the
 *       {@link CacheReader} as it arrives;</li>
 *   <li>{@link Revalidate}: the key's entry is stale and nobody is revalidating it; this caller
 *       asks the origin with {@link CacheWriter#conditionalHeaders()} and ends with
 *       {@link CacheWriter#notModified} (304), the writer's {@code start}/{@code write}/{@code commit}
 *       (a new body) or {@link CacheWriter#abort}.</li>
 * </ul>
 * Use with {@code instanceof} patterns, e.g. {@code if (flight instanceof Flight.Hit hit) …}.
 */
public sealed interface Flight permits Flight.Hit, Flight.Miss, Flight.Join, Flight.Revalidate {

  /** The key this flight is for. */
  CacheKey key();

  /**
   * A committed entry; the caller owns the lease and must {@link CacheEntry#close() close} it.
   *
   * @param entry the entry
   */
  record Hit(CacheEntry entry) implements Flight {
    @Override
    public CacheKey key() {
      return entry.key();
    }
  }

  /**
   * The caller is the single writer of the key's download.
   *
   * @param writer the writer, owned by the flight rather than by the client that started it
   */
  record Miss(CacheWriter writer) implements Flight {
    @Override
    public CacheKey key() {
      return writer.key();
    }
  }

  /**
   * The caller joins a download already in progress; it must {@link CacheReader#close() close} the
   * reader when done (closing never cancels the download).
   *
   * @param reader the reader
   */
  record Join(CacheReader reader) implements Flight {
    @Override
    public CacheKey key() {
      return reader.key();
    }
  }

  /**
   * The committed entry is stale: this caller revalidates it for everyone asking meanwhile.
   *
   * @param stale the stale entry, a lease the caller must close (it may serve it when the origin
   *     fails, see {@link BlobCache#lookupStale})
   * @param writer receives the outcome: {@link CacheWriter#notModified} or a new body
   */
  record Revalidate(CacheEntry stale, CacheWriter writer) implements Flight {
    @Override
    public CacheKey key() {
      return writer.key();
    }
  }
}
