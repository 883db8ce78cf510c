package dev.conduit.benchmarks;

import dev.conduit.mitm.cache.BlobCache;
import dev.conduit.mitm.cache.BlobCacheConfig;
import dev.conduit.mitm.cache.CacheEntry;
import dev.conduit.mitm.cache.CacheKey;
import dev.conduit.mitm.cache.CachePolicy;
import dev.conduit.mitm.cache.CacheWriter;
import dev.conduit.mitm.cache.Flight;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cost of asking the blob cache for an entry ({@code ns/op}, lower is better), as a caching proxy
 * does for every cacheable request. The cache holds {@value #ENTRIES} committed 64-byte entries.
 *
 * <ul>
 *   <li>{@code lookupHit} / {@code lookupMiss}: {@link BlobCache#lookup} with a prepared key (a hit
 *       takes and closes the entry's lease);</li>
 *   <li>{@code keyForAndLookupHit}: {@link CachePolicy#keyFor(String, String, String)} from the
 *       request's scheme, Host and target (filter match, normalisation, hashing), then the lookup.</li>
 * </ul>
 * No disk I/O happens on these paths; the entries are written once in setup.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class CacheLookupBenchmark {

  static final int ENTRIES = 256;
  private static final int MASK = ENTRIES - 1;

  private Path root;
  private BlobCache cache;
  private CacheKey[] hits;
  private CacheKey[] misses;
  private String[] targets;
  private int next;

  /** Creates the cache in a temporary directory and stores the entries. */
  @Setup
  public void setUp() throws Exception {
    root = Files.createTempDirectory("conduit-cache-bench");
    cache = BlobCache.open(BlobCacheConfig.builder().root(root).build());
    hits = new CacheKey[ENTRIES];
    misses = new CacheKey[ENTRIES];
    targets = new String[ENTRIES];
    for (int i = 0; i < ENTRIES; i++) {
      targets[i] = "/debian/pool/main/p/pkg" + i + "/pkg" + i + "_1.0-" + i + "_amd64.deb";
      hits[i] = cache.policy().keyFor("http", "deb.example.org", targets[i])
          .orElseThrow(() -> new IllegalStateException("default policy does not cache .deb"));
      misses[i] = cache.policy().keyFor("http", "deb.example.org", "/debian/pool/main/q/other" + i + ".deb").orElseThrow();
      Flight.Miss miss = (Flight.Miss) cache.begin(hits[i]).get(10, TimeUnit.SECONDS);
      CacheWriter w = miss.writer();
      w.start(List.of(Map.entry("Content-Type", "application/vnd.debian.binary-package"),
          Map.entry("Content-Length", "64")));
      w.write(ByteBuffer.wrap(new byte[64])).get(10, TimeUnit.SECONDS);
      w.commit().get(10, TimeUnit.SECONDS).close();
    }
  }

  /** Closes the cache and deletes its directory. */
  @TearDown
  public void tearDown() throws IOException {
    cache.close();
    try (Stream<Path> files = Files.walk(root)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.delete(p);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    }
  }

  /** A committed key. */
  @Benchmark
  public long lookupHit() {
    try (CacheEntry e = cache.lookup(hits[next++ & MASK]).orElseThrow()) {
      return e.length();
    }
  }

  /** A key never stored. */
  @Benchmark
  public boolean lookupMiss() {
    return cache.lookup(misses[next++ & MASK]).isPresent();
  }

  /** Key derivation from the request plus a hit. */
  @Benchmark
  public long keyForAndLookupHit() {
    Optional<CacheKey> key = cache.policy().keyFor("http", "deb.example.org", targets[next++ & MASK]);
    try (CacheEntry e = cache.lookup(key.orElseThrow()).orElseThrow()) {
      return e.length();
    }
  }
}
