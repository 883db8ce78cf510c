package dev.conduit.mitm.cache;

import java.time.Instant;

/**
 * A listing row for {@code conduit cache ls} and the cache's admin route.
 *
 * @param key the entry's key
 * @param kind the entry's kind (see {@link Freshness#of})
 * @param size the stored body size in bytes
 * @param created when the entry was committed
 * @param lastAccess when the entry was last committed or served (drives LRU eviction)
 * @param lastValidated when the origin last sent or confirmed (304) the body
 * @param hits how often the entry was served
 * @param pinned whether the entry is exempt from eviction
 */
public record CacheEntryInfo(CacheKey key, Freshness kind, long size, Instant created, Instant lastAccess,
    Instant lastValidated, long hits, boolean pinned) {
}
