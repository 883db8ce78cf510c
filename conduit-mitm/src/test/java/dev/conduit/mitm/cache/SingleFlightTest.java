package dev.conduit.mitm.cache;

import static dev.conduit.mitm.cache.TestData.await;
import static dev.conduit.mitm.cache.TestData.headers;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SingleFlightTest {

  private static final int CHUNK = 64 * 1024;
  private static final int CHUNKS = 1024; // 64 MiB
  private static final long SIZE = (long) CHUNK * CHUNKS;
  private static final int CLIENTS = 21; // one writer + 20 readers

  @TempDir
  Path root;

  private BlobCache cache;
  private ExecutorService clients;

  @BeforeEach
  void setUp() throws IOException {
    cache = BlobCache.open(BlobCacheConfig.builder().root(root).build());
    clients = Executors.newFixedThreadPool(CLIENTS);
  }

  @AfterEach
  void tearDown() throws InterruptedException {
    clients.shutdownNow();
    assertThat(clients.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    cache.close();
  }

  @Test
  void concurrentMissesShareOneDownload() throws Exception {
    CacheKey key = CacheKey.ofDigest("sha256:" + expectedSha256());
    CountDownLatch gate = new CountDownLatch(1);
    List<Future<Flight>> begun = new ArrayList<>();
    for (int i = 0; i < CLIENTS; i++) {
      begun.add(clients.submit(() -> {
        gate.await();
        return await(cache.begin(key));
      }));
    }
    gate.countDown();
    List<Flight> flights = new ArrayList<>();
    for (Future<Flight> f : begun) {
      flights.add(f.get(60, TimeUnit.SECONDS));
    }
    assertThat(flights).filteredOn(f -> f instanceof Flight.Miss).hasSize(1);
    assertThat(flights).filteredOn(f -> f instanceof Flight.Join).hasSize(CLIENTS - 1);
    CacheWriter writer = flights.stream().filter(f -> f instanceof Flight.Miss)
        .map(f -> ((Flight.Miss) f).writer()).findFirst().orElseThrow();
    List<CacheReader> readers = flights.stream().filter(f -> f instanceof Flight.Join)
        .map(f -> ((Flight.Join) f).reader()).toList();

    List<Future<String>> results = new ArrayList<>();
    for (int i = 0; i < readers.size(); i++) {
      CacheReader r = readers.get(i);
      long abandonAt = i == 0 ? SIZE / 2 : Long.MAX_VALUE; // reader 0 goes away midway
      int bufferSize = i == 1 ? 1000 : 48 * 1024; // an odd, small buffer for one
      results.add(clients.submit(readAll(r, abandonAt, bufferSize)));
    }

    Future<String> written = clients.submit(() -> {
      writer.start(headers(SIZE, "Content-Type", "application/octet-stream"));
      MessageDigest md = TestData.sha256();
      for (int c = 0; c < CHUNKS; c++) {
        ByteBuffer chunk = TestData.chunk(42, c, CHUNK);
        md.update(chunk.duplicate());
        CompletableFuture<Void> done = writer.write(chunk);
        if (c % 8 == 0) {
          await(done); // a slow upstream: readers catch up and wait for notifications
          Thread.sleep(1);
        }
      }
      try (CacheEntry e = await(writer.commit())) {
        assertThat(e.length()).isEqualTo(SIZE);
      }
      return HexFormat.of().formatHex(md.digest());
    });

    String expected = written.get(120, TimeUnit.SECONDS);
    assertThat(results.get(0).get(120, TimeUnit.SECONDS)).isEqualTo("abandoned");
    for (int i = 1; i < results.size(); i++) {
      assertThat(results.get(i).get(120, TimeUnit.SECONDS)).as("reader %d", i).isEqualTo(expected);
    }
    readers.forEach(CacheReader::close);
    assertThat(key.value()).isEqualTo("sha256:" + expected);
    try (CacheEntry e = cache.lookup(key).orElseThrow()) {
      assertThat(e.sha256()).isEqualTo(expected);
      assertThat(e.headers()).containsEntry("Content-Type", "application/octet-stream");
    }
    CacheStats s = cache.stats();
    assertThat(s.misses()).isEqualTo(CLIENTS);
    assertThat(s.bytesStored()).isEqualTo(SIZE);
    try (Stream<Path> files = Files.walk(root)) {
      assertThat(files.filter(p -> p.toString().endsWith(".tmp"))).isEmpty();
    }
  }

  @Test
  void abortPropagatesToEveryReader() throws Exception {
    CacheKey key = CacheKey.ofDigest("sha256:" + "11".repeat(32));
    Flight.Miss miss = (Flight.Miss) await(cache.begin(key));
    CacheReader early = ((Flight.Join) await(cache.begin(key))).reader();
    CompletableFuture<Map<String, String>> response = early.response();
    CacheWriter w = miss.writer();
    w.start(headers(SIZE));
    assertThat(await(response)).containsEntry("Content-Length", Long.toString(SIZE));
    await(w.write(TestData.chunk(7, 0, CHUNK)));
    CacheReader caughtUp = ((Flight.Join) await(cache.begin(key))).reader();
    ByteBuffer buf = ByteBuffer.allocate(2 * CHUNK);
    while (caughtUp.position() < CHUNK) {
      assertThat(await(caughtUp.read(buf))).isPositive();
    }
    CompletableFuture<Integer> waiting = caughtUp.read(buf.clear()); // no bytes yet: waits

    IOException cause = new IOException("upstream reset");
    await(w.abort(cause));
    assertThatThrownBy(() -> waiting.get(30, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
        .hasRootCauseMessage("upstream reset");
    assertThatThrownBy(() -> await(early.read(ByteBuffer.allocate(10)))).hasRootCauseMessage("upstream reset");
    early.close();
    caughtUp.close();
    assertThat(cache.lookup(key)).isEmpty();
    // the key is free for a new download
    assertThat(await(cache.begin(key))).isInstanceOfSatisfying(Flight.Miss.class,
        m -> m.writer().abort(new IOException("done")));
  }

  @Test
  void readersWaitingForHeadersFailWhenTheWriterAbortsFirst() throws Exception {
    CacheKey key = CacheKey.of(java.net.URI.create("https://h/x.deb"));
    Flight.Miss miss = (Flight.Miss) await(cache.begin(key));
    CacheReader r = ((Flight.Join) await(cache.begin(key))).reader();
    CompletableFuture<Map<String, String>> response = r.response();
    miss.writer().abort(new IOException("status 404"));
    assertThatThrownBy(() -> await(response)).hasRootCauseMessage("status 404");
    r.close();
  }

  @Test
  void closingTheCacheAbortsDownloads() throws Exception {
    CacheKey key = CacheKey.of(java.net.URI.create("https://h/y.deb"));
    Flight.Miss miss = (Flight.Miss) await(cache.begin(key));
    CacheReader r = ((Flight.Join) await(cache.begin(key))).reader();
    miss.writer().start(headers(10));
    CompletableFuture<Integer> waiting = r.read(ByteBuffer.allocate(10));
    cache.close();
    assertThatThrownBy(() -> await(waiting)).hasRootCauseInstanceOf(CacheException.class);
    assertThatThrownBy(() -> await(miss.writer().commit())).hasRootCauseInstanceOf(CacheException.class);
    r.close();
    assertThatThrownBy(() -> cache.begin(key)).isInstanceOf(IllegalStateException.class);
  }

  private static Callable<String> readAll(CacheReader reader, long abandonAt, int bufferSize) {
    return () -> {
      MessageDigest md = TestData.sha256();
      ByteBuffer buf = ByteBuffer.allocate(bufferSize);
      for (;;) {
        if (reader.position() >= abandonAt) {
          reader.close();
          return "abandoned";
        }
        buf.clear();
        int n = await(reader.read(buf));
        if (n < 0) {
          return HexFormat.of().formatHex(md.digest());
        }
        md.update(buf.flip());
      }
    };
  }

  private static String expectedSha256() {
    MessageDigest md = TestData.sha256();
    for (int c = 0; c < CHUNKS; c++) {
      md.update(TestData.chunk(42, c, CHUNK));
    }
    return HexFormat.of().formatHex(md.digest());
  }
}
