package dev.conduit.mitm.cache;

/**
 * The result of {@link BlobCache#begin(CacheKey)}: exactly one of
 * <ul>
 *   <li>{@link Hit}: a committed entry, serve it (zero-copy with {@link CacheEntry#openRegion});</li>
 *   <li>{@link Miss}: nobody is downloading the key; this caller downloads it through the
 *       {@link CacheWriter} and must end with {@link CacheWriter#commit()} or
 *       {@link CacheWriter#abort(Throwable)};</li>
 *   <li>{@link Join}: another caller is downloading the key; stream it with the
 *       {@link CacheReader} as it arrives.</li>
 * </ul>
 * Use with {@code instanceof} patterns, e.g. {@code if (flight instanceof Flight.Hit hit) …}.
 */
public sealed interface Flight permits Flight.Hit, Flight.Miss, Flight.Join {

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
}
