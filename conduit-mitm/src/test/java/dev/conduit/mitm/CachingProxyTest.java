package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Conduit;
import dev.conduit.core.Listener;
import dev.conduit.core.Timeouts;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.testing.Processes;
import dev.conduit.mitm.cache.BlobCache;
import dev.conduit.mitm.cache.BlobCacheConfig;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The cache behind the proxy: misses, hits, single flight, HEAD and Range, registry redirects. */
class CachingProxyTest {
  static final Timeouts NO_DRAIN = Timeouts.builder().drain(Duration.ZERO).build();

  @TempDir
  static Path dir;
  static CertificateAuthority mitmCa;
  static Origin tlsOrigin;
  static Origin plainOrigin;
  static BlobCache cache;
  static Conduit conduit;
  static Path mitmCaFile;
  static HttpClient client;
  static final java.util.concurrent.BlockingQueue<dev.conduit.core.observe.ConnectionSummary> closed =
      new java.util.concurrent.LinkedBlockingQueue<>();

  @BeforeAll
  static void start() throws Exception {
    mitmCa = Pki.ca("conduit test MITM CA");
    CertificateAuthority originCa = Pki.ca("test origin CA");
    mitmCaFile = dir.resolve("mitm.crt");
    mitmCa.writeTo(mitmCaFile, dir.resolve("mitm.key"));
    tlsOrigin = Origin.https(Pki.server(originCa, "localhost"));
    plainOrigin = Origin.http();
    cache = BlobCache.open(BlobCacheConfig.builder().root(dir.resolve("cache")).maxSizeBytes(256L << 20).build());
    MitmProxy proxy = MitmProxy.builder()
        .certificateAuthority(mitmCa)
        .interceptHost("localhost")
        .trustUpstreamCa(originCa.certificate())
        .cache(cache)
        .build();
    conduit = Conduit.builder()
        .listener(Listener.builder("plain").bind("127.0.0.1:0").protocol(proxy).build())
        .timeouts(NO_DRAIN)
        .observer(new dev.conduit.core.observe.ConnectionObserver() {
          @Override
          public void closed(dev.conduit.core.observe.ConnectionSummary summary) {
            closed.add(summary);
          }
        })
        .build().start();
    client = Pki.client(conduit.address("plain"), mitmCa.certificate());
  }

  @AfterAll
  static void stop() {
    conduit.close();
    cache.close();
    tlsOrigin.close();
    plainOrigin.close();
  }

  static Processes.Result curl(String... args) throws Exception {
    Processes.requireTool("curl");
    List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "30",
        "--cacert", mitmCaFile.toString(), "-x", "http://127.0.0.1:" + conduit.address("plain").getPort()));
    cmd.addAll(List.of(args));
    return Processes.run(40, cmd);
  }

  static HttpResponse<byte[]> get(String url, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30));
    if (headers.length > 0) {
      b.headers(headers);
    }
    return client.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  @Test
  void curlMissThenHitWithIdenticalBytesAndNoSecondUpstreamRequest() throws Exception {
    String path = "/files/curl.tar.gz";
    String url = "https://localhost:" + tlsOrigin.port() + path + "?n=3000000";
    byte[] expected = Origin.data(path, 3_000_000);
    for (String cacheState : List.of("MISS", "HIT")) {
      Path headers = Files.createTempFile(dir, "h", ".txt");
      Path body = Files.createTempFile(dir, "b", ".bin");
      Processes.Result r = curl("-D", headers.toString(), "-o", body.toString(), url);
      assertThat(r.exitCode()).as(r.stderr()).isZero();
      assertThat(Files.readString(headers)).contains("X-Cache: " + cacheState);
      assertThat(Arrays.equals(Files.readAllBytes(body), expected)).as("identical bytes (" + cacheState + ")").isTrue();
    }
    assertThat(tlsOrigin.requests(path)).isEqualTo(1);
    assertThat(cache.stats().hits()).isPositive();
  }

  /** A connection answered from the cache alone dialed nothing: its summary still counts its request. */
  @Test
  void aConnectionServedFromTheCacheIsSummarisedAsOneRequest() throws Exception {
    String path = "/files/summary.gz";
    String url = "http://127.0.0.1:" + plainOrigin.port() + path + "?n=10000";
    closed.clear();
    for (String cacheState : List.of("MISS", "HIT")) {
      Processes.Result r = curl("-sS", "-o", "/dev/null", "-D", "-", url);
      assertThat(r.exitCode()).as(r.stderr()).isZero();
      assertThat(r.out()).contains("X-Cache: " + cacheState);
    }
    assertThat(plainOrigin.requests(path)).isEqualTo(1);
    // the two curl runs are two connections; the second (the hit) dialed nothing
    java.util.List<dev.conduit.core.observe.ConnectionSummary> summaries = new ArrayList<>();
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (System.nanoTime() < deadline && summaries.stream().filter(CachingProxyTest::isSummaryFetch).count() < 2) {
      dev.conduit.core.observe.ConnectionSummary s = closed.poll(1, java.util.concurrent.TimeUnit.SECONDS);
      if (s != null) {
        summaries.add(s);
      }
    }
    List<dev.conduit.core.observe.ConnectionSummary> ours = summaries.stream()
        .filter(CachingProxyTest::isSummaryFetch).toList();
    assertThat(ours).as("summaries: %s", summaries).hasSize(2);
    assertThat(ours).allSatisfy(s -> {
      assertThat(s.outcome()).as(s.detail()).isEqualTo(dev.conduit.core.observe.Outcome.OK);
      assertThat(s.requests()).isEqualTo(1);
    });
  }

  /** One 10,000-byte body and its head: no other test fetches that size. */
  private static boolean isSummaryFetch(dev.conduit.core.observe.ConnectionSummary s) {
    return s.bytesToClient() >= 10_000 && s.bytesToClient() < 11_000;
  }

  @Test
  void plainHttpForwardProxyUsesTheSameCache() throws Exception {
    String path = "/files/plain.zip";
    String url = "http://127.0.0.1:" + plainOrigin.port() + path + "?n=2000000";
    byte[] expected = Origin.data(path, 2_000_000);
    HttpResponse<byte[]> miss = get(url);
    long servedBefore = cache.stats().bytesServed();
    HttpResponse<byte[]> hit = get(url);
    // the hit went out as a FileRegion (sendfile), which counts its bytes as served from cache
    assertThat(cache.stats().bytesServed() - servedBefore).isEqualTo(2_000_000);
    assertThat(miss.headers().firstValue("X-Cache")).hasValue("MISS");
    assertThat(hit.headers().firstValue("X-Cache")).hasValue("HIT");
    assertThat(miss.body()).isEqualTo(expected);
    assertThat(hit.body()).isEqualTo(expected);
    assertThat(plainOrigin.requests(path)).isEqualTo(1);
  }

  @Test
  void headAndRangeAreServedFromACompleteEntry() throws Exception {
    String path = "/files/range.xz";
    byte[] expected = Origin.data(path, 500_000);
    for (String base : List.of("https://localhost:" + tlsOrigin.port(), "http://127.0.0.1:" + plainOrigin.port())) {
      String url = base + path + "?n=500000";
      assertThat(get(url).body()).isEqualTo(expected);
      HttpResponse<Void> head = client.send(HttpRequest.newBuilder(URI.create(url))
          .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
      assertThat(head.statusCode()).as(head.headers().map().toString()).isEqualTo(200);
      assertThat(head.headers().firstValue("Content-Length")).hasValue("500000");
      assertThat(head.headers().firstValue("X-Cache")).hasValue("HIT");
      HttpResponse<byte[]> range = get(url, "Range", "bytes=1000-1999");
      assertThat(range.statusCode()).isEqualTo(206);
      assertThat(range.headers().firstValue("Content-Range")).hasValue("bytes 1000-1999/500000");
      assertThat(range.body()).isEqualTo(Arrays.copyOfRange(expected, 1000, 2000));
      HttpResponse<byte[]> suffix = get(url, "Range", "bytes=-10");
      assertThat(suffix.body()).isEqualTo(Arrays.copyOfRange(expected, 499_990, 500_000));
      HttpResponse<byte[]> unsatisfiable = get(url, "Range", "bytes=600000-");
      assertThat(unsatisfiable.statusCode()).isEqualTo(416);
    }
    assertThat(tlsOrigin.requests(path)).isEqualTo(1);
    assertThat(plainOrigin.requests(path)).isEqualTo(1);
  }

  @Test
  void concurrentMissesShareOneUpstreamDownload() throws Exception {
    String path = "/files/shared.tgz";
    int n = 4 << 20;
    byte[] expected = Origin.data(path, n);
    // paced so that every client arrives while the first download is still running
    String url = "https://localhost:" + tlsOrigin.port() + path + "?n=" + n + "&pauseMs=5";
    List<CompletableFuture<HttpResponse<byte[]>>> all = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      all.add(client.sendAsync(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60)).build(),
          HttpResponse.BodyHandlers.ofByteArray()));
    }
    for (CompletableFuture<HttpResponse<byte[]>> f : all) {
      HttpResponse<byte[]> r = f.get(60, TimeUnit.SECONDS);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(Arrays.equals(r.body(), expected)).isTrue();
    }
    assertThat(tlsOrigin.requests(path)).isEqualTo(1);
  }

  @Test
  void registryRedirectToSignedCdnUrlIsAHitOnTheSecondPull() throws Exception {
    byte[] layer = Origin.data("layer", 1_500_000);
    String hex = Origin.sha256(layer);
    tlsOrigin.blob(hex, layer);
    String blobPath = "/v2/library/alpine/blobs/sha256:" + hex;
    String url = "https://localhost:" + tlsOrigin.port() + blobPath;
    for (int pull = 0; pull < 2; pull++) {
      HttpResponse<byte[]> r = get(url);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).isEqualTo(layer);
      assertThat(r.headers().firstValue("X-Cache")).hasValue(pull == 0 ? "MISS" : "HIT");
    }
    assertThat(tlsOrigin.requests(blobPath)).isEqualTo(1);
    assertThat(tlsOrigin.requests("/cdn/" + hex)).isEqualTo(1);
  }

  /** The client must learn that the body is bad: the response is cut short, never a complete 200. */
  @Test
  void aBlobWhoseBytesDoNotMatchItsDigestIsNotCachedAndTheResponseIsAborted() throws Exception {
    byte[] claimed = Origin.data("claimed", 300_000);
    String hex = Origin.sha256(claimed);
    byte[] served = Origin.data("served", 300_000);
    tlsOrigin.blob(hex, served);
    String blobPath = "/v2/library/bad/blobs/sha256:" + hex;
    String url = "https://localhost:" + tlsOrigin.port() + blobPath;
    long mismatches = cache.stats().digestMismatches();
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> get(url)).isInstanceOf(java.io.IOException.class);
    Path body = Files.createTempFile(dir, "bad", ".bin");
    Processes.Result r = curl("-o", body.toString(), url);
    assertThat(r.exitCode()).as("curl must fail: %s", r.stderr()).isNotZero();
    assertThat(Files.size(body)).isLessThan(300_000);
    assertThat(tlsOrigin.requests(blobPath)).isEqualTo(2);
    assertThat(cache.stats().digestMismatches() - mismatches).isEqualTo(2);
    assertThat(cache.lookup(dev.conduit.mitm.cache.CacheKey.ofDigest("sha256:" + hex))).isEmpty();
  }

  @Test
  void uncacheableResponsesAreRelayed() throws Exception {
    String url = "https://localhost:" + tlsOrigin.port() + "/files/missing.tar";
    tlsOrigin.blob("x", new byte[0]);
    HttpResponse<byte[]> r = get("https://localhost:" + tlsOrigin.port() + "/nothing/here.tar");
    assertThat(r.statusCode()).isEqualTo(404);
    HttpResponse<byte[]> again = get("https://localhost:" + tlsOrigin.port() + "/nothing/here.tar");
    assertThat(again.statusCode()).isEqualTo(404);
    assertThat(tlsOrigin.requests("/nothing/here.tar")).isEqualTo(2);
    assertThat(url).isNotEmpty();
  }
}
