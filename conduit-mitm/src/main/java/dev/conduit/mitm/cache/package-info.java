/**
 * The on-disk blob cache of the caching MITM proxy: keys ({@link dev.conduit.mitm.cache.CacheKey}),
 * policy ({@link dev.conduit.mitm.cache.CachePolicy}), storage with single-flight downloads
 * ({@link dev.conduit.mitm.cache.BlobCache}) and Range helpers
 * ({@link dev.conduit.mitm.cache.RangeSpec}, {@link dev.conduit.mitm.cache.MultipartByteranges}).
 */
package dev.conduit.mitm.cache;
