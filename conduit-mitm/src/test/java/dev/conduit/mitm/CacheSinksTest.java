package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.mitm.cache.BlobCache;
import dev.conduit.mitm.cache.BlobCacheConfig;
import dev.conduit.mitm.cache.CacheKey;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.URI;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The relay and cache-fill sinks and cache serving on EmbeddedChannels with a real cache directory:
 * a miss stored while relayed, a redirect followed under the original key, a 304 refreshing a
 * stale entry, a 5xx answered from the stale entry, a hit with a range.
 */
class CacheSinksTest {

  @TempDir
  Path dir;
  BlobCache cache;
  MitmProxy proxy;

  @BeforeEach
  void open() throws Exception {
    cache = BlobCache.open(BlobCacheConfig.builder().root(dir).build());
    proxy = MitmProxy.builder().certificateAuthority(Pki.ca("sinks test CA")).cache(cache).build();
  }

  @AfterEach
  void close() {
    cache.close();
  }

  private static CacheKey key(String url) {
    return CacheKey.of(URI.create(url));
  }

  /** Stores {@code body} for {@code url} through a first request. */
  private void miss(MitmHarness h, String url, String headers, String body, int dial) {
    h.send("GET " + url + " HTTP/1.1\r\nHost: o.test\r\n\r\n");
    EmbeddedChannel origin = h.answerDial(dial);
    MitmHarness.request(origin);
    h.respond(origin, "HTTP/1.1 200 OK\r\nContent-Length: " + body.length() + "\r\n" + headers + "\r\n" + body);
    String out = h.awaitWritten(body);
    assertThat(out).contains("X-Cache: MISS");
    h.awaitTrue(() -> cache.lookup(key(url)).map(e -> {
      e.close();
      return true;
    }).orElse(false));
  }

  @Test
  void aMissIsRelayedAndStoredThenServedFromDiskWithRanges() {
    try (MitmHarness h = new MitmHarness(proxy)) {
      miss(h, "http://o.test/pool/a_1.0_all.deb", "ETag: \"a\"\r\n", "0123456789", 0);
      h.send("GET http://o.test/pool/a_1.0_all.deb HTTP/1.1\r\nHost: o.test\r\nRange: bytes=2-4\r\n\r\n");
      String out = h.awaitWritten("234");
      assertThat(out).startsWith("HTTP/1.1 206").contains("X-Cache: HIT", "content-range: bytes 2-4/10");
      assertThat(h.context.dials).hasSize(1);
    }
  }

  @Test
  void aRedirectIsFollowedAndStoredUnderTheOriginalKey() {
    try (MitmHarness h = new MitmHarness(proxy)) {
      h.send("GET http://o.test/dl/b.tar.gz HTTP/1.1\r\nHost: o.test\r\n\r\n");
      EmbeddedChannel first = h.answerDial(0);
      MitmHarness.request(first);
      h.respond(first, "HTTP/1.1 302 Found\r\nLocation: http://cdn.test/x?sig=1\r\nContent-Length: 0\r\n\r\n");
      EmbeddedChannel cdn = h.answerDial(1);
      assertThat(h.context.requests.get(1).destination().toString()).isEqualTo("cdn.test:80");
      assertThat(MitmHarness.request(cdn)).startsWith("GET /x?sig=1 ");
      h.respond(cdn, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nCache-Control: max-age=60\r\n\r\nbody");
      assertThat(h.awaitWritten("body")).contains("X-Cache: MISS");
      h.awaitTrue(() -> cache.list().stream().anyMatch(i -> i.key().equals(key("http://o.test/dl/b.tar.gz"))));
    }
  }

  @Test
  void aStaleEntryIsRevalidatedAndA304ServesItFromDisk() {
    try (MitmHarness h = new MitmHarness(proxy)) {
      miss(h, "http://o.test/dists/stable/InRelease", "ETag: \"r1\"\r\n", "release-one", 0);
      h.send("GET http://o.test/dists/stable/InRelease HTTP/1.1\r\nHost: o.test\r\nIf-None-Match: \"client\"\r\n\r\n");
      EmbeddedChannel origin = h.answerDial(1);
      String sent = MitmHarness.request(origin);
      assertThat(sent).containsIgnoringCase("if-none-match: \"r1\"").doesNotContain("\"client\"");
      h.respond(origin, "HTTP/1.1 304 Not Modified\r\nETag: \"r1\"\r\n\r\n");
      String out = h.awaitWritten("release-one");
      assertThat(out).startsWith("HTTP/1.1 200").contains("X-Cache: REVALIDATED");
      assertThat(cache.stats().revalidatedNotModified()).isEqualTo(1);
    }
  }

  @Test
  void aStaleEntryIsServedWhenTheOriginAnswers503() {
    try (MitmHarness h = new MitmHarness(proxy)) {
      miss(h, "http://o.test/repodata/repomd.xml", "Last-Modified: Tue, 15 Nov 1994 08:12:31 GMT\r\n", "<repomd/>", 0);
      h.send("GET http://o.test/repodata/repomd.xml HTTP/1.1\r\nHost: o.test\r\n\r\n");
      EmbeddedChannel origin = h.answerDial(1);
      assertThat(MitmHarness.request(origin)).containsIgnoringCase("if-modified-since: Tue, 15 Nov 1994 08:12:31 GMT");
      h.respond(origin, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown");
      String out = h.awaitWritten("<repomd/>");
      assertThat(out).startsWith("HTTP/1.1 200").contains("X-Cache: STALE").doesNotContain("down");
      assertThat(cache.stats().staleServes()).isEqualTo(1);
    }
  }

  @Test
  void anUncacheableResponseIsRelayedUnchanged() {
    try (MitmHarness h = new MitmHarness(proxy)) {
      h.send("GET http://o.test/x.zip HTTP/1.1\r\nHost: o.test\r\n\r\n");
      EmbeddedChannel origin = h.answerDial(0);
      MitmHarness.request(origin);
      h.respond(origin, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nCache-Control: no-store\r\n\r\nsecret");
      assertThat(h.awaitWritten("secret")).contains("X-Cache: MISS");
      assertThat(cache.list()).isEmpty();
    }
  }
}
