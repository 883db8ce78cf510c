package dev.conduit.mitm.cache;

/**
 * A snapshot of the cache counters since {@link BlobCache#open}.
 *
 * @param hits requests answered from a fresh committed entry (or one a 304 just refreshed)
 * @param misses requests that started or joined a download (revalidations are counted apart)
 * @param joins requests that joined another request's download or revalidation
 * @param revalidatedNotModified revalidations the origin answered with 304 (no download)
 * @param revalidatedModified revalidations the origin answered with a new body
 * @param staleServes stale entries served because the origin failed
 * @param bytesServed body bytes served from committed entries
 * @param bytesFromUpstream body bytes a proxy relayed from origins (see {@link BlobCache#recordUpstreamBytes})
 * @param bytesStored bytes of committed entries
 * @param evictions entries evicted to stay under the size cap
 * @param digestMismatches downloads rejected because their bytes did not match the digest
 * @param entries committed entries now indexed
 * @param sizeBytes total size of the indexed entries
 */
public record CacheStats(long hits, long misses, long joins, long revalidatedNotModified,
    long revalidatedModified, long staleServes, long bytesServed, long bytesFromUpstream, long bytesStored,
    long evictions, long digestMismatches, long entries, long sizeBytes) {
}
