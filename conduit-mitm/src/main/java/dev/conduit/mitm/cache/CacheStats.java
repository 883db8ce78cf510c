package dev.conduit.mitm.cache;

/**
 * A snapshot of the cache counters since {@link BlobCache#open}.
 *
 * @param hits requests answered from a committed entry
 * @param misses requests that started or joined a download
 * @param bytesServed bytes sent from committed entries through {@link CacheEntry#openRegion}
 *     regions (counted when a region is released)
 * @param bytesStored bytes of committed entries
 * @param evictions entries evicted to stay under the size cap
 * @param digestMismatches downloads rejected because their bytes did not match the digest
 * @param entries committed entries now indexed
 * @param sizeBytes total size of the indexed entries
 */
public record CacheStats(long hits, long misses, long bytesServed, long bytesStored, long evictions,
    long digestMismatches, long entries, long sizeBytes) {
}
