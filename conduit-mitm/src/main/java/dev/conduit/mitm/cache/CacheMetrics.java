package dev.conduit.mitm.cache;

import static java.util.Objects.requireNonNull;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.function.ToDoubleFunction;

/**
 * Publishes a {@link BlobCache}'s counters to a Micrometer registry (Prometheus names in brackets):
 * {@code conduit.cache.hits} ({@code conduit_cache_hits_total}), {@code conduit.cache.misses},
 * {@code conduit.cache.joins}, {@code conduit.cache.revalidations} tagged
 * {@code result=not_modified|modified}, {@code conduit.cache.stale.serves},
 * {@code conduit.cache.bytes} tagged {@code source=cache|upstream} (body bytes served from disk vs
 * relayed from origins), {@code conduit.cache.evictions}, {@code conduit.cache.digest.mismatches},
 * and the gauges {@code conduit.cache.entries} and {@code conduit.cache.size} (bytes on disk).
 * Micrometer is an optional dependency of conduit-mitm: only this class needs it.
 */
public final class CacheMetrics {

  private CacheMetrics() {
  }

  /** Registers the cache's meters; they read {@link BlobCache#stats()} when scraped. */
  public static void bind(BlobCache cache, MeterRegistry registry) {
    requireNonNull(cache, "cache");
    requireNonNull(registry, "registry");
    counter(registry, cache, "conduit.cache.hits", "Requests answered from a fresh entry", Tags.empty(),
        c -> c.stats().hits());
    counter(registry, cache, "conduit.cache.misses", "Requests that started or joined a download", Tags.empty(),
        c -> c.stats().misses());
    counter(registry, cache, "conduit.cache.joins", "Requests that joined another one's download or revalidation",
        Tags.empty(), c -> c.stats().joins());
    counter(registry, cache, "conduit.cache.revalidations", "Revalidations of stale entries by their origin's answer",
        Tags.of("result", "not_modified"), c -> c.stats().revalidatedNotModified());
    counter(registry, cache, "conduit.cache.revalidations", "Revalidations of stale entries by their origin's answer",
        Tags.of("result", "modified"), c -> c.stats().revalidatedModified());
    counter(registry, cache, "conduit.cache.stale.serves", "Stale entries served because the origin failed",
        Tags.empty(), c -> c.stats().staleServes());
    counter(registry, cache, "conduit.cache.bytes", "Body bytes served, by source", Tags.of("source", "cache"),
        c -> c.stats().bytesServed());
    counter(registry, cache, "conduit.cache.bytes", "Body bytes served, by source", Tags.of("source", "upstream"),
        c -> c.stats().bytesFromUpstream());
    counter(registry, cache, "conduit.cache.evictions", "Entries evicted to stay under the size cap", Tags.empty(),
        c -> c.stats().evictions());
    counter(registry, cache, "conduit.cache.digest.mismatches", "Bodies rejected because they did not match their digest",
        Tags.empty(), c -> c.stats().digestMismatches());
    Gauge.builder("conduit.cache.entries", cache, c -> c.stats().entries())
        .description("Committed entries").register(registry);
    Gauge.builder("conduit.cache.size", cache, c -> c.stats().sizeBytes())
        .description("Bytes of committed entries on disk").baseUnit("bytes").register(registry);
  }

  private static void counter(MeterRegistry registry, BlobCache cache, String name, String description, Tags tags,
      ToDoubleFunction<BlobCache> value) {
    FunctionCounter.builder(name, cache, value).description(description).tags(tags)
        .baseUnit(name.endsWith(".bytes") ? "bytes" : null).register(registry);
  }
}
