package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Conduit;
import dev.conduit.core.Listener;
import dev.conduit.core.Timeouts;
import dev.conduit.mitm.cache.BlobCache;
import dev.conduit.mitm.cache.BlobCacheConfig;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 20 clients ask for the same uncached 200 MiB blob over the plain forward proxy: one upstream
 * download, identical bytes for all, and the client that started the download aborting midway breaks
 * nobody.
 */
class SharedDownloadTest {
  static final int MIB = Integer.getInteger("conduit.test.sharedMib", 200);

  @TempDir
  Path dir;

  record Read(long bytes, long crc) {
  }

  static Read expected(String path) {
    CRC32C crc = new CRC32C();
    byte[] block = new byte[1 << 20];
    for (int i = 0; i < MIB; i++) {
      Origin.bigBlock(path, i, block);
      crc.update(block);
    }
    return new Read((long) MIB << 20, crc.getValue());
  }

  static Read readAll(InputStream in) throws Exception {
    try (in) {
      CRC32C crc = new CRC32C();
      byte[] buf = new byte[256 * 1024];
      long total = 0;
      for (int n; (n = in.read(buf)) >= 0; ) {
        crc.update(buf, 0, n);
        total += n;
      }
      return new Read(total, crc.getValue());
    }
  }

  @Test
  void twentyClientsOneDownloadAndTheLeaderMayLeave() throws Exception {
    String path = "/big/layer.tar";
    Read expected = expected(path);
    ExecutorService pool = Executors.newFixedThreadPool(20);
    try (Origin origin = Origin.http();
        BlobCache cache = BlobCache.open(BlobCacheConfig.builder().root(dir).maxSizeBytes(1L << 30).build())) {
      MitmProxy proxy = MitmProxy.builder().certificateAuthority(Pki.ca("unused")).cache(cache).build();
      Conduit conduit = Conduit.builder()
          .listener(Listener.builder("plain").bind("127.0.0.1:0").protocol(proxy).build())
          .timeouts(Timeouts.builder().drain(Duration.ZERO).build())
          .build().start();
      try {
        InetSocketAddress proxyAddress = conduit.address("plain");
        // paced so the download lasts while the others join and the leader leaves
        String url = "http://127.0.0.1:" + origin.port() + path + "?mib=" + MIB + "&pauseMs=3";
        // the leader: a raw client that reads 20 MiB, then closes its connection
        Socket leader = new Socket(proxyAddress.getAddress(), proxyAddress.getPort());
        leader.setSoTimeout(30_000);
        OutputStream lo = leader.getOutputStream();
        lo.write(("GET " + url + " HTTP/1.1\r\nHost: 127.0.0.1:" + origin.port() + "\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII));
        lo.flush();
        InputStream li = leader.getInputStream();
        byte[] buf = new byte[64 * 1024];
        long leaderRead = 0;
        while (leaderRead < (1 << 20)) {
          int n = li.read(buf);
          assertThat(n).isPositive();
          leaderRead += n;
        }
        HttpClient client = HttpClient.newBuilder().proxy(ProxySelector.of(proxyAddress))
            .version(HttpClient.Version.HTTP_1_1).build();
        List<Future<Read>> reads = new ArrayList<>();
        for (int i = 0; i < 19; i++) {
          reads.add(pool.submit(() -> {
            HttpResponse<InputStream> r = client.send(HttpRequest.newBuilder(URI.create(url))
                .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofInputStream());
            assertThat(r.statusCode()).isEqualTo(200);
            return readAll(r.body());
          }));
        }
        while (leaderRead < (20 << 20)) {
          int n = li.read(buf);
          assertThat(n).isPositive();
          leaderRead += n;
        }
        leader.setSoLinger(true, 0);
        leader.close();
        for (Future<Read> f : reads) {
          assertThat(f.get(90, TimeUnit.SECONDS)).isEqualTo(expected);
        }
        assertThat(origin.requests(path)).isEqualTo(1);
        // and the entry is complete: the next request is a hit
        HttpResponse<InputStream> hit = client.send(HttpRequest.newBuilder(URI.create(url)).build(),
            HttpResponse.BodyHandlers.ofInputStream());
        assertThat(hit.headers().firstValue("X-Cache")).hasValue("HIT");
        assertThat(readAll(hit.body())).isEqualTo(expected);
        assertThat(origin.requests(path)).isEqualTo(1);
      } finally {
        conduit.close();
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
