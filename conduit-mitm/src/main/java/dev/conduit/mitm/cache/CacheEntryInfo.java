package dev.conduit.mitm.cache;

import java.time.Instant;

/**
 * A listing row for {@code conduit cache ls}.
 *
 * @param key the entry's key
 * @param size the stored body size in bytes
 * @param created when the entry was committed
 * @param lastAccess when the entry was last committed or served (drives LRU eviction)
 * @param hits how often the entry was served
 */
public record CacheEntryInfo(CacheKey key, long size, Instant created, Instant lastAccess, long hits) {
}
