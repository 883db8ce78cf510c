package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Conduit;
import dev.conduit.core.Listener;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.testing.Poll;
import dev.conduit.core.testing.Processes;
import dev.conduit.mitm.cache.BlobCache;
import dev.conduit.mitm.cache.BlobCacheConfig;
import dev.conduit.mitm.cache.CachePolicy;
import dev.conduit.mitm.cache.CacheStats;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * HTTP revalidation of mutable entries through the proxy, with real clients (curl, the JDK client)
 * and a real origin: ETag and Last-Modified revalidation (304 vs 200), no-store, private, max-age,
 * serving stale on origin errors within the policy's bound, and one upstream request for concurrent
 * revalidations.
 */
class RevalidationTest {

  @TempDir
  static Path dir;
  static Origin origin;
  static BlobCache cache;
  static Conduit conduit;
  static HttpClient client;
  static final TestClock clock = new TestClock();

  /** A clock the test moves forward: staleness bounds without waiting. */
  static final class TestClock extends Clock {
    final AtomicLong millis = new AtomicLong(System.currentTimeMillis());

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis.get());
    }

    void advance(Duration d) {
      millis.addAndGet(d.toMillis());
    }
  }

  @BeforeAll
  static void start() throws Exception {
    CertificateAuthority ca = Pki.ca("revalidation test CA");
    origin = Origin.http();
    cache = BlobCache.open(BlobCacheConfig.builder().root(dir.resolve("cache")).clock(clock)
        .policy(CachePolicy.builder().filter("^/mut/").staleIfError(Duration.ofHours(1)).build()).build());
    MitmProxy proxy = MitmProxy.builder().certificateAuthority(ca).cache(cache).build();
    conduit = Conduit.builder()
        .listener(Listener.builder("plain").bind("127.0.0.1:0").protocol(proxy).build())
        .timeouts(CachingProxyTest.NO_DRAIN)
        .build().start();
    client = Pki.client(conduit.address("plain"), ca.certificate());
  }

  @AfterAll
  static void stop() {
    conduit.close();
    cache.close();
    origin.close();
  }

  static String url(String path) {
    return "http://127.0.0.1:" + origin.port() + path;
  }

  static HttpResponse<byte[]> get(String path, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url(path))).timeout(Duration.ofSeconds(30));
    if (headers.length > 0) {
      b.headers(headers);
    }
    return client.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  static String xCache(HttpResponse<?> r) {
    return r.headers().firstValue("X-Cache").orElse("none");
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void etagRevalidationRefreshesWithA304AndReplacesOnA200() throws Exception {
    String path = "/mut/etag.gz";
    origin.resource(path, Origin.Resource.of(bytes("one")).etag("\"1\"").cacheControl("max-age=0"));
    CacheStats before = cache.stats();
    HttpResponse<byte[]> miss = get(path);
    assertThat(xCache(miss)).isEqualTo("MISS");
    HttpResponse<byte[]> revalidated = get(path);
    assertThat(xCache(revalidated)).isEqualTo("REVALIDATED");
    assertThat(revalidated.body()).isEqualTo(bytes("one"));
    assertThat(revalidated.headers().firstValue("ETag")).hasValue("\"1\"");
    assertThat(origin.seen(path).get(1)).containsEntry("if-none-match", "\"1\"");
    origin.resource(path, Origin.Resource.of(bytes("two, longer")).etag("\"2\"").cacheControl("max-age=0"));
    HttpResponse<byte[]> replaced = get(path);
    assertThat(xCache(replaced)).isEqualTo("MISS");
    assertThat(replaced.body()).isEqualTo(bytes("two, longer"));
    HttpResponse<byte[]> again = get(path);
    assertThat(xCache(again)).isEqualTo("REVALIDATED");
    assertThat(again.body()).isEqualTo(bytes("two, longer"));
    assertThat(origin.requests(path)).isEqualTo(4);
    CacheStats after = cache.stats();
    assertThat(after.revalidatedNotModified() - before.revalidatedNotModified()).isEqualTo(2);
    assertThat(after.revalidatedModified() - before.revalidatedModified()).isEqualTo(1);
  }

  @Test
  void lastModifiedRevalidationWithCurl() throws Exception {
    String path = "/mut/lm.tar.gz";
    Instant t0 = Instant.parse("2026-01-01T00:00:00Z");
    origin.resource(path, Origin.Resource.of(bytes("v1")).lastModified(t0));
    assertThat(curlBody(path)).isEqualTo("v1");
    assertThat(curlBody(path)).isEqualTo("v1");
    assertThat(origin.seen(path).get(1)).containsKey("if-modified-since");
    origin.resource(path, Origin.Resource.of(bytes("v2 changed")).lastModified(t0.plusSeconds(60)));
    assertThat(curlBody(path)).isEqualTo("v2 changed");
    assertThat(origin.requests(path)).isEqualTo(3);
  }

  @Test
  void maxAgeIsServedWithoutAskingTheOriginUntilItExpires() throws Exception {
    String path = "/mut/fresh.zip";
    origin.resource(path, Origin.Resource.of(bytes("fresh")).etag("\"f\"").cacheControl("public, max-age=600"));
    assertThat(xCache(get(path))).isEqualTo("MISS");
    assertThat(xCache(get(path))).isEqualTo("HIT");
    assertThat(origin.requests(path)).isEqualTo(1);
    // a client asking for revalidation (apt sends max-age=0 for indexes) gets one
    assertThat(xCache(get(path, "Cache-Control", "max-age=0"))).isEqualTo("REVALIDATED");
    assertThat(origin.requests(path)).isEqualTo(2);
    clock.advance(Duration.ofMinutes(11));
    assertThat(xCache(get(path))).isEqualTo("REVALIDATED");
    assertThat(origin.requests(path)).isEqualTo(3);
  }

  @Test
  void noStoreAndPrivateAreNeverCached() throws Exception {
    for (String cc : List.of("no-store", "private, max-age=600")) {
      String path = "/mut/" + cc.charAt(0) + ".xz";
      origin.resource(path, Origin.Resource.of(bytes(cc)).etag("\"x\"").cacheControl(cc));
      assertThat(get(path).body()).isEqualTo(bytes(cc));
      assertThat(get(path).body()).isEqualTo(bytes(cc));
      assertThat(origin.requests(path)).as(cc).isEqualTo(2);
      assertThat(origin.seen(path).get(1)).as(cc).doesNotContainKey("if-none-match");
    }
  }

  @Test
  void immutablePackagesAreNotRevalidatedEvenWhenTheClientAsks() throws Exception {
    String path = "/mut/pool/main/h/hello_1.0-1_amd64.deb";
    origin.resource(path, Origin.Resource.of(bytes("deb")).etag("\"d\"").cacheControl("max-age=0"));
    assertThat(xCache(get(path))).isEqualTo("MISS");
    assertThat(xCache(get(path, "Cache-Control", "no-cache"))).isEqualTo("HIT");
    assertThat(origin.requests(path)).isEqualTo(1);
  }

  @Test
  void aStaleEntryIsServedWhileTheOriginFailsForABoundedTime() throws Exception {
    String path = "/mut/Packages.gz";
    origin.resource(path, Origin.Resource.of(bytes("index v1")).etag("\"i1\"").cacheControl("max-age=600"));
    assertThat(xCache(get(path))).isEqualTo("MISS");
    origin.resource(path, Origin.Resource.of(bytes("index v1")).status(503));
    long staleBefore = cache.stats().staleServes();
    HttpResponse<byte[]> stale = get(path); // an index: revalidated every time, so the 503 is seen
    assertThat(stale.statusCode()).isEqualTo(200);
    assertThat(xCache(stale)).isEqualTo("STALE");
    assertThat(stale.body()).isEqualTo(bytes("index v1"));
    assertThat(cache.stats().staleServes() - staleBefore).isEqualTo(1);
    clock.advance(Duration.ofHours(2)); // beyond the policy's one hour
    HttpResponse<byte[]> tooOld = get(path);
    assertThat(tooOld.statusCode()).isEqualTo(503);
    origin.resource(path, Origin.Resource.of(bytes("index v2")).etag("\"i2\""));
    HttpResponse<byte[]> back = get(path);
    assertThat(back.statusCode()).isEqualTo(200);
    assertThat(back.body()).isEqualTo(bytes("index v2"));
  }

  @Test
  void anOriginThatIsDownIsAnsweredFromTheStaleEntry() throws Exception {
    Origin down = Origin.http();
    String path = "/mut/InRelease";
    String u = "http://127.0.0.1:" + down.port() + path;
    down.resource(path, Origin.Resource.of(bytes("release")).lastModified(Instant.now()));
    HttpResponse<byte[]> first = client.send(HttpRequest.newBuilder(URI.create(u)).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertThat(xCache(first)).isEqualTo("MISS");
    down.close();
    HttpResponse<byte[]> stale = client.send(HttpRequest.newBuilder(URI.create(u)).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertThat(stale.statusCode()).isEqualTo(200);
    assertThat(xCache(stale)).isEqualTo("STALE");
    assertThat(stale.body()).isEqualTo(bytes("release"));
  }

  @Test
  void concurrentRevalidationsMakeOneUpstreamRequest() throws Exception {
    String path = "/mut/repodata/repomd.xml";
    origin.resource(path, Origin.Resource.of(bytes("<repomd/>")).etag("\"r\""));
    assertThat(xCache(get(path))).isEqualTo("MISS");
    CountDownLatch gate = new CountDownLatch(1);
    origin.resource(path, Origin.Resource.of(bytes("<repomd/>")).etag("\"r\"").gate(gate));
    long joinsBefore = cache.stats().joins();
    List<CompletableFuture<HttpResponse<byte[]>>> all = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      all.add(client.sendAsync(HttpRequest.newBuilder(URI.create(url(path))).timeout(Duration.ofSeconds(60)).build(),
          HttpResponse.BodyHandlers.ofByteArray()));
    }
    awaitTrue(() -> origin.requests(path) == 2 && cache.stats().joins() - joinsBefore == 3);
    gate.countDown();
    List<String> states = new ArrayList<>();
    for (CompletableFuture<HttpResponse<byte[]>> f : all) {
      HttpResponse<byte[]> r = f.get(60, TimeUnit.SECONDS);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).isEqualTo(bytes("<repomd/>"));
      states.add(xCache(r));
    }
    assertThat(states).containsExactlyInAnyOrder("REVALIDATED", "JOIN", "JOIN", "JOIN");
    assertThat(origin.requests(path)).isEqualTo(2);
  }

  /** The issue's reproduction: a fixed-path archive changes at the origin; the next request sees it. */
  @Test
  void issueReproductionWithCurlAndPythonHttpServer() throws Exception {
    Processes.requireTool("python3");
    Path www = Files.createDirectories(dir.resolve("www"));
    Path x = www.resolve("x.gz");
    Files.write(x, gzip("v1\n"));
    int port;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Process server = new ProcessBuilder("python3", "-m", "http.server", Integer.toString(port), "--bind", "127.0.0.1",
        "-d", www.toString()).redirectErrorStream(true).redirectOutput(dir.resolve("http.log").toFile()).start();
    try {
      String u = "http://127.0.0.1:" + port + "/x.gz";
      awaitTrue(() -> {
        try (java.net.Socket probe = new java.net.Socket("127.0.0.1", port)) {
          return true;
        } catch (java.io.IOException e) {
          return false;
        }
      });
      assertThat(curlZcat(u)).isEqualTo("v1\n");
      Files.write(x, gzip("v2 changed\n"));
      // http.server's Last-Modified has one-second steps: the publish is a later second
      Files.setLastModifiedTime(x, java.nio.file.attribute.FileTime.from(Instant.now().plusSeconds(5)));
      assertThat(curlZcat(u)).isEqualTo("v2 changed\n");
      assertThat(curlZcat(u)).isEqualTo("v2 changed\n");
    } finally {
      server.destroy();
      server.waitFor(10, TimeUnit.SECONDS);
    }
  }

  private static String curlZcat(String u) throws Exception {
    Processes.requireTool("curl");
    Path out = Files.createTempFile(dir, "x", ".gz");
    Processes.Result r = Processes.run(40, List.of("curl", "-sS", "-f", "--max-time", "30", "-x",
        "http://127.0.0.1:" + conduit.address("plain").getPort(), "-o", out.toString(), u));
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    try (java.util.zip.GZIPInputStream in = new java.util.zip.GZIPInputStream(Files.newInputStream(out))) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static String curlBody(String path) throws Exception {
    Processes.requireTool("curl");
    Processes.Result r = Processes.run(40, List.of("curl", "-sS", "-f", "--max-time", "30", "-x",
        "http://127.0.0.1:" + conduit.address("plain").getPort(), url(path)));
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    return r.out();
  }

  private static byte[] gzip(String text) throws Exception {
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    try (java.util.zip.GZIPOutputStream z = new java.util.zip.GZIPOutputStream(b)) {
      z.write(bytes(text));
    }
    return b.toByteArray();
  }

  static void awaitTrue(BooleanSupplier condition) {
    Poll.until("condition", Duration.ofSeconds(30), condition);
  }
}
