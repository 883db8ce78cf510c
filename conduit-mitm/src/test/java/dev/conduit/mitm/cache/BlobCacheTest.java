package dev.conduit.mitm.cache;

import static dev.conduit.mitm.cache.TestData.await;
import static dev.conduit.mitm.cache.TestData.bytes;
import static dev.conduit.mitm.cache.TestData.headers;
import static dev.conduit.mitm.cache.TestData.sha256Hex;
import static dev.conduit.mitm.cache.TestData.store;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.testing.FileWatch;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.FileRegion;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BlobCacheTest {

  @TempDir
  Path root;

  private BlobCache cache;

  private BlobCache open(long maxSize) throws IOException {
    cache = BlobCache.open(BlobCacheConfig.builder().root(root).maxSizeBytes(maxSize).build());
    return cache;
  }

  @AfterEach
  void closeCache() {
    if (cache != null) {
      cache.close();
    }
  }

  private static CacheKey key(String path) {
    return CacheKey.of(URI.create("https://files.test" + path));
  }

  @Test
  void commitThenLookupRoundTripsBodyAndHeaders() throws Exception {
    open(1 << 30);
    byte[] body = bytes(1, 100_000);
    CacheKey k = key("/pool/x.deb");
    try (CacheEntry e = store(cache, k, body, "Content-Type", "application/vnd.debian.binary-package",
        "ETag", "\"abc\"", "Last-Modified", "Tue, 15 Nov 1994 08:12:31 GMT", "Set-Cookie", "secret=1")) {
      assertThat(e.length()).isEqualTo(body.length);
    }
    try (CacheEntry e = cache.lookup(k).orElseThrow()) {
      assertThat(e.headers()).containsExactly(
          java.util.Map.entry("Content-Length", "100000"),
          java.util.Map.entry("Content-Type", "application/vnd.debian.binary-package"),
          java.util.Map.entry("ETag", "\"abc\""),
          java.util.Map.entry("Last-Modified", "Tue, 15 Nov 1994 08:12:31 GMT"));
      assertThat(e.sha256()).isEqualTo(sha256Hex(body));
      assertThat(Files.readAllBytes(e.path())).isEqualTo(body);
      assertThat(e.path().toString()).doesNotContain("pool").startsWith(root.toString());
      try (FileChannel ch = e.openChannel()) {
        assertThat(ch.size()).isEqualTo(body.length);
      }
    }
    assertThat(await(cache.begin(k))).isInstanceOfSatisfying(Flight.Hit.class, h -> h.entry().close());
    CacheStats s = cache.stats();
    assertThat(s.hits()).isEqualTo(2);
    assertThat(s.misses()).isEqualTo(1);
    assertThat(s.bytesStored()).isEqualTo(body.length);
    assertThat(s.entries()).isEqualTo(1);

    // survives a restart, with the hit count saved on close
    cache.close();
    open(1 << 30);
    assertThat(cache.list()).singleElement().satisfies(i -> {
      assertThat(i.key()).isEqualTo(k);
      assertThat(i.size()).isEqualTo(body.length);
      assertThat(i.hits()).isEqualTo(2);
      assertThat(i.lastAccess()).isAfterOrEqualTo(i.created());
    });
    try (CacheEntry e = cache.lookup(k).orElseThrow()) {
      assertThat(Files.readAllBytes(e.path())).isEqualTo(body);
    }
  }

  @Test
  void fileRegionServesZeroCopyAndCountsBytes() throws Exception {
    open(1 << 30);
    byte[] body = bytes(2, 10_000);
    store(cache, key("/a.tgz"), body).close();
    FileRegion region;
    try (CacheEntry e = cache.lookup(key("/a.tgz")).orElseThrow()) {
      region = await(e.openRegion(100, 900));
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    var sink = Channels.newChannel(out);
    while (region.transferred() < region.count()) {
      region.transferTo(sink, region.transferred());
    }
    assertThat(region.release()).isTrue();
    assertThat(out.toByteArray()).isEqualTo(java.util.Arrays.copyOfRange(body, 100, 1000));
    assertThat(cache.stats().bytesServed()).isEqualTo(900);
    try (CacheEntry e = cache.lookup(key("/a.tgz")).orElseThrow()) {
      assertThatThrownBy(() -> e.openRegion(9_000, 1_001)).isInstanceOf(IndexOutOfBoundsException.class);
    }
  }

  @Test
  void digestKeysAreVerified() throws Exception {
    open(1 << 30);
    byte[] body = bytes(3, 50_000);
    CacheKey good = CacheKey.ofDigest("sha256:" + sha256Hex(body));
    store(cache, good, body).close();
    assertThat(cache.lookup(good)).isPresent().get().satisfies(CacheEntry::close);

    CacheKey wrong = CacheKey.ofDigest("sha256:" + "00".repeat(32));
    Flight.Miss miss = (Flight.Miss) await(cache.begin(wrong));
    Flight.Join join = (Flight.Join) await(cache.begin(wrong));
    miss.writer().start(headers(body.length));
    miss.writer().write(ByteBuffer.wrap(body));
    assertThatThrownBy(() -> await(miss.writer().commit()))
        .isInstanceOf(ExecutionException.class).cause().isInstanceOf(DigestMismatchException.class)
        .hasMessage("digest mismatch: expected " + wrong.value() + ", got sha256:" + sha256Hex(body));
    assertThatThrownBy(() -> drain(join.reader())).cause().isInstanceOf(DigestMismatchException.class);
    join.reader().close();
    assertThat(cache.lookup(wrong)).isEmpty();
    assertThat(cache.stats().digestMismatches()).isEqualTo(1);
    assertThat(filesEndingWith(".tmp")).isEmpty();
    assertThat(filesEndingWith(".data")).hasSize(1);

    // a Docker-Content-Digest header is checked for URL keys too
    Flight.Miss m2 = (Flight.Miss) await(cache.begin(key("/blob.tar")));
    m2.writer().start(headers(body.length, "Docker-Content-Digest", wrong.value()));
    m2.writer().write(ByteBuffer.wrap(body));
    assertThatThrownBy(() -> await(m2.writer().commit())).cause().isInstanceOf(DigestMismatchException.class);
    assertThat(cache.stats().digestMismatches()).isEqualTo(2);
  }

  @Test
  void incompleteOrOversizedBodiesAreNotCached() throws Exception {
    open(1 << 20);
    Flight.Miss m = (Flight.Miss) await(cache.begin(key("/short.gz")));
    m.writer().start(headers(10));
    m.writer().write(ByteBuffer.wrap(new byte[5]));
    assertThatThrownBy(() -> await(m.writer().commit())).cause().isInstanceOf(CacheException.class)
        .hasMessage("incomplete body of https://files.test/short.gz: 5 of 10 bytes");

    Flight.Miss over = (Flight.Miss) await(cache.begin(key("/long.gz")));
    over.writer().start(headers(3));
    assertThatThrownBy(() -> await(over.writer().write(ByteBuffer.wrap(new byte[4]))))
        .cause().hasMessageContaining("exceeds Content-Length: 4 > 3 bytes");
    assertThatThrownBy(() -> await(over.writer().commit())).cause().hasMessageContaining("exceeds Content-Length");

    Flight.Miss huge = (Flight.Miss) await(cache.begin(key("/huge.gz")));
    huge.writer().start(List.of());
    assertThatThrownBy(() -> await(huge.writer().write(ByteBuffer.wrap(new byte[(1 << 20) + 1]))))
        .cause().hasMessageContaining("exceeds the cache size cap");
    huge.writer().abort(new IOException("upstream gone")).get();
    assertThat(cache.list()).isEmpty();
    assertThat(filesEndingWith(".tmp")).isEmpty();
    // the key can be downloaded again afterwards
    assertThat(await(cache.begin(key("/short.gz")))).isInstanceOfSatisfying(Flight.Miss.class,
        again -> again.writer().abort(new IOException("test")));
  }

  @Test
  void byteBufChunksAreReleased() throws Exception {
    open(1 << 30);
    byte[] body = bytes(4, 3000);
    Flight.Miss m = (Flight.Miss) await(cache.begin(key("/buf.zip")));
    m.writer().start(headers(body.length));
    ByteBuf a = Unpooled.directBuffer().writeBytes(body, 0, 1000);
    ByteBuf b = Unpooled.wrappedBuffer(Unpooled.wrappedBuffer(body, 1000, 1000), Unpooled.wrappedBuffer(body, 2000, 1000));
    m.writer().write(a);
    m.writer().write(b);
    try (CacheEntry e = await(m.writer().commit())) {
      assertThat(Files.readAllBytes(e.path())).isEqualTo(body);
    }
    assertThat(a.refCnt()).isZero();
    assertThat(b.refCnt()).isZero();
    // after the writer ended, a ByteBuf handed to it is still released
    ByteBuf late = Unpooled.buffer().writeZero(1);
    assertThatThrownBy(() -> m.writer().write(late)).isInstanceOf(IllegalStateException.class);
    assertThat(late.refCnt()).isZero();
  }

  @Test
  void crashLeftoversAreCleanedAndNeverServed() throws Exception {
    open(1 << 30);
    byte[] body = bytes(5, 20_000);
    store(cache, key("/ok.xz"), body).close();
    store(cache, key("/half.xz"), body).close();
    store(cache, key("/short.xz"), body).close();
    // a download in progress when the process dies (kill -9: no abort, no close)
    Flight.Miss m = (Flight.Miss) await(cache.begin(key("/inflight.xz")));
    m.writer().start(headers(body.length));
    await(m.writer().write(ByteBuffer.wrap(body, 0, 5000)));
    Path half = dataOf(key("/half.xz"));
    Path shortBody = dataOf(key("/short.xz"));
    cache.close();
    cache = null;
    // a commit cut between the body rename and the metadata rename, and a truncated body
    Files.delete(metaOf(half));
    try (FileChannel ch = FileChannel.open(shortBody, StandardOpenOption.WRITE)) {
      ch.truncate(100);
    }
    Files.write(half.resolveSibling("garbage-1.meta.tmp"), new byte[] {1, 2});
    assertThat(filesEndingWith(".tmp")).hasSize(2);

    open(1 << 30);
    assertThat(cache.list()).extracting(CacheEntryInfo::key).containsExactly(key("/ok.xz"));
    assertThat(cache.lookup(key("/half.xz"))).isEmpty();
    assertThat(cache.lookup(key("/short.xz"))).isEmpty();
    assertThat(filesEndingWith(".tmp")).isEmpty();
    assertThat(filesEndingWith(".data")).hasSize(1);
    assertThat(filesEndingWith(".meta")).hasSize(1);
    try (CacheEntry e = cache.lookup(key("/ok.xz")).orElseThrow()) {
      assertThat(Files.readAllBytes(e.path())).isEqualTo(body);
    }
    assertThat(await(cache.begin(key("/inflight.xz")))).isInstanceOf(Flight.Miss.class);
  }

  @Test
  void secondOpenOfTheSameRootIsRefused() throws Exception {
    open(1 << 30);
    assertThatThrownBy(() -> BlobCache.open(BlobCacheConfig.builder().root(root).build()))
        .isInstanceOf(CacheException.class).hasMessageContaining("is already open");
  }

  @Test
  void lruEvictionSparesEntriesInUse() throws Exception {
    open(35_000);
    store(cache, key("/1.gz"), bytes(11, 10_000)).close();
    store(cache, key("/2.gz"), bytes(12, 10_000)).close();
    CacheEntry pinned = store(cache, key("/3.gz"), bytes(13, 10_000)); // oldest access but leased below
    cache.lookup(key("/1.gz")).orElseThrow().close(); // /1 is now the most recent
    try (CacheEntry held = cache.lookup(key("/3.gz")).orElseThrow()) {
      pinned.close();
      store(cache, key("/4.gz"), bytes(14, 10_000)).close();
      // over the cap: /2 is the least recently used unleased entry
      assertThat(keys()).containsExactlyInAnyOrder("/1.gz", "/3.gz", "/4.gz");
      store(cache, key("/5.gz"), bytes(15, 10_000)).close();
      // by last access: /1, then /3 (held, skipped), then /4: /1 goes
      assertThat(keys()).containsExactlyInAnyOrder("/3.gz", "/4.gz", "/5.gz");
      assertThat(Files.readAllBytes(held.path())).isEqualTo(bytes(13, 10_000));
    }
    assertThat(cache.stats().evictions()).isEqualTo(2);
    assertThat(cache.stats().sizeBytes()).isLessThanOrEqualTo(35_000);
    assertThat(filesEndingWith(".data")).hasSize(3);
  }

  @Test
  void evictionOrderFollowsLastAccess() throws Exception {
    open(30_000);
    for (int i = 1; i <= 3; i++) {
      store(cache, key("/" + i + ".gz"), bytes(20 + i, 10_000)).close();
    }
    cache.lookup(key("/1.gz")).orElseThrow().close();
    cache.lookup(key("/2.gz")).orElseThrow().close();
    store(cache, key("/4.gz"), bytes(24, 10_000)).close();
    assertThat(keys()).containsExactlyInAnyOrder("/1.gz", "/2.gz", "/4.gz");
    cache.lookup(key("/1.gz")).orElseThrow().close();
    store(cache, key("/5.gz"), bytes(25, 10_000)).close();
    assertThat(keys()).containsExactlyInAnyOrder("/1.gz", "/4.gz", "/5.gz");
  }

  @Test
  void purgeAndList() throws Exception {
    open(1 << 30);
    for (String p : new String[] {"/a.deb", "/b.deb", "/c.rpm"}) {
      store(cache, key(p), bytes(p.hashCode(), 1000)).close();
    }
    assertThat(cache.list()).extracting(i -> i.key().value())
        .containsExactly("https://files.test/a.deb", "https://files.test/b.deb", "https://files.test/c.rpm");
    CacheEntry held = cache.lookup(key("/a.deb")).orElseThrow();
    Path heldPath = held.path();
    assertThat(cache.purge(key("/a.deb"))).isEqualTo(1);
    assertThat(cache.purge(key("/a.deb"))).isZero();
    assertThat(cache.lookup(key("/a.deb"))).isEmpty();
    assertThat(heldPath).exists(); // still leased
    held.close();
    waitUntilGone(heldPath);
    assertThat(cache.purge(i -> i.key().value().endsWith(".rpm"))).isEqualTo(1);
    assertThat(cache.purgeAll()).isEqualTo(1);
    assertThat(cache.list()).isEmpty();
    assertThat(cache.stats().sizeBytes()).isZero();
    assertThat(filesEndingWith(".data")).isEmpty();
  }

  @Test
  void pinnedEntriesAreNotEvictedAndThePinSurvivesAReopen() throws Exception {
    open(25_000);
    store(cache, key("/p1.deb"), bytes(31, 10_000)).close();
    store(cache, key("/p2.deb"), bytes(32, 10_000)).close();
    assertThat(cache.pin(i -> i.key().equals(key("/p1.deb")), true)).isEqualTo(1);
    store(cache, key("/p3.deb"), bytes(33, 10_000)).close(); // over the cap: the oldest unpinned goes
    assertThat(keys()).containsExactlyInAnyOrder("/p1.deb", "/p3.deb");
    cache.close();
    open(25_000);
    assertThat(cache.list()).filteredOn(CacheEntryInfo::pinned).extracting(i -> i.key().path().orElseThrow())
        .containsExactly("/p1.deb");
    assertThat(cache.pin(i -> true, false)).isEqualTo(1);
  }

  @Test
  void aDirectoryInUseIsListedReadOnlyWithKindsAndNothingChanges() throws Exception {
    open(1 << 30);
    store(cache, key("/dists/stable/main/binary-amd64/Packages.gz"), bytes(41, 500)).close();
    store(cache, key("/pool/main/h/hello_1.0_all.deb"), bytes(42, 700)).close();
    assertThatThrownBy(() -> BlobCache.open(BlobCacheConfig.builder().root(root).build()))
        .isInstanceOf(CacheException.class).hasMessageContaining("already open");
    List<CacheEntryInfo> listed = BlobCache.listReadOnly(root);
    assertThat(listed).extracting(CacheEntryInfo::kind).containsExactly(Freshness.MUTABLE, Freshness.IMMUTABLE);
    assertThat(listed).extracting(CacheEntryInfo::size).containsExactly(500L, 700L);
    assertThat(cache.list()).hasSize(2);
  }

  @Test
  void aRelativeRootOpens() throws Exception {
    Path relative = Path.of("target", "relative-cache-" + System.nanoTime());
    try (BlobCache c = BlobCache.open(BlobCacheConfig.builder().root(relative).build())) {
      assertThat(c.config().root()).isAbsolute();
      assertThat(c.list()).isEmpty();
      assertThat(BlobCache.listReadOnly(relative)).isEmpty();
    }
  }

  private List<String> keys() {
    return cache.list().stream().map(i -> i.key().path().orElseThrow()).collect(Collectors.toList());
  }

  private static int drain(CacheReader reader) throws Exception {
    ByteBuffer buf = ByteBuffer.allocate(65536);
    int total = 0;
    for (;;) {
      buf.clear();
      int n = await(reader.read(buf));
      if (n < 0) {
        return total;
      }
      total += n;
    }
  }

  private Path dataOf(CacheKey k) throws IOException {
    String hash = k.fileHash();
    try (Stream<Path> s = Files.list(root.resolve(hash.substring(0, 2)).resolve(hash.substring(2, 4)))) {
      return s.filter(p -> p.getFileName().toString().startsWith(hash) && p.toString().endsWith(".data"))
          .findFirst().orElseThrow();
    }
  }

  private static Path metaOf(Path data) {
    String n = data.getFileName().toString();
    return data.resolveSibling(n.substring(0, n.length() - ".data".length()) + ".meta");
  }

  private List<Path> filesEndingWith(String suffix) throws IOException {
    try (Stream<Path> s = Files.walk(root)) {
      return s.filter(p -> p.toString().endsWith(suffix)).collect(Collectors.toList());
    }
  }

  private static void waitUntilGone(Path p) throws IOException, InterruptedException {
    // deletion of a released, purged entry runs on the cache executor: woken by the directory's delete event
    FileWatch.awaitDeleted(p, Duration.ofSeconds(10));
    assertThat(p).doesNotExist();
  }
}
