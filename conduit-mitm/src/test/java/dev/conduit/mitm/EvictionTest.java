package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Conduit;
import dev.conduit.core.Listener;
import dev.conduit.core.Timeouts;
import dev.conduit.mitm.cache.BlobCache;
import dev.conduit.mitm.cache.BlobCacheConfig;
import dev.conduit.mitm.cache.CacheEntryInfo;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The proxy's cache stays under its size cap, evicting the least recently used entry. */
class EvictionTest {
  @TempDir
  Path dir;

  @Test
  void leastRecentlyUsedEntryIsEvictedAndDownloadedAgain() throws Exception {
    try (Origin origin = Origin.http();
        BlobCache cache = BlobCache.open(BlobCacheConfig.builder().root(dir).maxSizeBytes(5L << 20).build())) {
      MitmProxy proxy = MitmProxy.builder().certificateAuthority(Pki.ca("unused")).cache(cache).build();
      try (Conduit conduit = Conduit.builder()
          .listener(Listener.builder("plain").bind("127.0.0.1:0").protocol(proxy).build())
          .timeouts(Timeouts.builder().drain(Duration.ZERO).build())
          .build().start()) {
        HttpClient client = HttpClient.newBuilder().proxy(ProxySelector.of(conduit.address("plain"))).build();
        String base = "http://127.0.0.1:" + origin.port() + "/files/";
        for (String name : new String[] {"a.gz", "b.gz", "a.gz", "c.gz", "a.gz", "b.gz"}) {
          HttpResponse<byte[]> r = client.send(HttpRequest.newBuilder(URI.create(base + name + "?n=2000000")).build(),
              HttpResponse.BodyHandlers.ofByteArray());
          assertThat(r.body()).isEqualTo(Origin.data("/files/" + name, 2_000_000));
          assertThat(cache.list().stream().mapToLong(CacheEntryInfo::size).sum()).isLessThanOrEqualTo(5L << 20);
        }
        // a, b (cached), a (hit), c (evicts b, the least recently used), a (hit), b (evicted: downloaded again)
        assertThat(origin.requests("/files/a.gz")).isEqualTo(1);
        assertThat(origin.requests("/files/b.gz")).isEqualTo(2);
        assertThat(origin.requests("/files/c.gz")).isEqualTo(1);
        assertThat(cache.stats().evictions()).isGreaterThanOrEqualTo(1);
      }
    }
  }
}
