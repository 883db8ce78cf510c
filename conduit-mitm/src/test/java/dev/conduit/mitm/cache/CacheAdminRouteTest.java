package dev.conduit.mitm.cache;

import static dev.conduit.mitm.cache.TestData.bytes;
import static dev.conduit.mitm.cache.TestData.store;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.admin.AdminServer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The cache's admin route on a real admin endpoint, with the JDK client: list, stats, purge, pin, metrics. */
class CacheAdminRouteTest {

  @TempDir
  Path root;
  BlobCache cache;
  AdminServer admin;
  final HttpClient client = HttpClient.newHttpClient();

  @BeforeEach
  void start() throws Exception {
    cache = BlobCache.open(BlobCacheConfig.builder().root(root).maxSizeBytes(35_000).build());
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    CacheMetrics.bind(cache, registry);
    admin = AdminServer.builder().bind("127.0.0.1:0").metrics(registry::scrape)
        .route(CacheAdminRoute.PREFIX, new CacheAdminRoute(cache)).build().start();
  }

  @AfterEach
  void stop() {
    admin.close();
    cache.close();
  }

  private static CacheKey key(String path) {
    return CacheKey.of(URI.create("https://mirror.test" + path));
  }

  private HttpResponse<String> call(String method, String pathAndQuery) throws Exception {
    return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.address().getPort() + pathAndQuery))
        .method(method, HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(30)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static String q(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  @Test
  void listsEntriesWithKindSizeHitsAndValidation() throws Exception {
    store(cache, key("/debian/dists/stable/main/binary-amd64/Packages.gz"), bytes(1, 1000)).close();
    store(cache, key("/debian/pool/main/h/hello_1.0_amd64.deb"), bytes(2, 2000)).close();
    cache.lookup(key("/debian/pool/main/h/hello_1.0_amd64.deb")).orElseThrow().close();
    HttpResponse<String> r = call("GET", "/cache/entries");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).contains("json"));
    assertThat(r.body()).contains("\"key\": \"https://mirror.test/debian/pool/main/h/hello_1.0_amd64.deb\", \"kind\": \"immutable\", \"size\": 2000")
        .contains("\"kind\": \"mutable\", \"size\": 1000").contains("\"hits\": 1").contains("\"last_validated\": \"")
        .contains("\"count\": 2, \"bytes\": 3000");
    assertThat(call("GET", "/cache?prefix=" + q("https://mirror.test/debian/pool/")).body()).contains("\"count\": 1");
    assertThat(call("GET", "/cache/stats").body()).contains("\"hits\": 1").contains("\"entries\": 2");
  }

  @Test
  void purgesByKeyPrefixAndAge() throws Exception {
    store(cache, key("/a/1.deb"), bytes(3, 100)).close();
    store(cache, key("/a/2.deb"), bytes(4, 100)).close();
    store(cache, key("/b/3.deb"), bytes(5, 100)).close();
    assertThat(call("POST", "/cache/purge?key=" + q("https://mirror.test/a/1.deb")).body()).contains("\"purged\": 1");
    assertThat(call("POST", "/cache/purge?prefix=" + q("https://mirror.test/a/")).body()).contains("\"purged\": 1");
    assertThat(call("POST", "/cache/purge?older-than=1d").body()).contains("\"purged\": 0");
    assertThat(call("POST", "/cache/purge?older-than=0s").body()).contains("\"purged\": 1");
    assertThat(cache.list()).isEmpty();
    HttpResponse<String> bad = call("POST", "/cache/purge?older-than=soon");
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(bad.body()).contains("age: soon (expected:");
    assertThat(call("POST", "/cache/purge").statusCode()).isEqualTo(400);
    assertThat(call("GET", "/cache/purge?all=true").statusCode()).isEqualTo(400);
  }

  @Test
  void aPinnedEntrySurvivesEviction() throws Exception {
    store(cache, key("/p/1.deb"), bytes(6, 10_000)).close();
    store(cache, key("/p/2.deb"), bytes(7, 10_000)).close();
    assertThat(call("POST", "/cache/pin?key=" + q("https://mirror.test/p/1.deb")).body()).contains("\"changed\": 1");
    store(cache, key("/p/3.deb"), bytes(8, 10_000)).close();
    store(cache, key("/p/4.deb"), bytes(9, 10_000)).close(); // over 35,000 bytes: the unpinned oldest go
    assertThat(cache.list()).extracting(i -> i.key().path().orElseThrow()).contains("/p/1.deb").doesNotContain("/p/2.deb");
    assertThat(call("GET", "/cache").body()).contains("\"pinned\": true");
    assertThat(call("POST", "/cache/unpin?prefix=" + q("https://mirror.test/p/")).body()).contains("\"changed\": 1");
  }

  @Test
  void metricsArePublished() throws Exception {
    store(cache, key("/m/1.deb"), bytes(10, 500)).close();
    cache.lookup(key("/m/1.deb")).orElseThrow().close();
    String metrics = call("GET", "/metrics").body();
    assertThat(metrics).contains("conduit_cache_hits_total 1.0", "conduit_cache_entries 1.0",
        "conduit_cache_size_bytes 500.0", "conduit_cache_revalidations_total{result=\"not_modified\"}",
        "conduit_cache_bytes_total{source=\"upstream\"}", "conduit_cache_digest_mismatches_total",
        "conduit_cache_stale_serves_total", "conduit_cache_joins_total", "conduit_cache_evictions_total");
  }
}
