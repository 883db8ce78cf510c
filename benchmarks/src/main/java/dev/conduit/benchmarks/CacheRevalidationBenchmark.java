package dev.conduit.benchmarks;

import com.sun.net.httpserver.HttpServer;
import dev.conduit.core.Conduit;
import dev.conduit.core.Listener;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.mitm.MitmProxy;
import dev.conduit.mitm.cache.BlobCache;
import dev.conduit.mitm.cache.BlobCacheConfig;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A revalidated hit against a full download of the same entry through the caching proxy
 * ({@code ms/op}, lower is better), on loopback with an in-process origin and the JDK client.
 *
 * <ul>
 *   <li>{@code fullDownload}: the origin answers {@code Cache-Control: no-store}, so each request is
 *       relayed from upstream whole;</li>
 *   <li>{@code revalidatedHit}: the entry is stored with an {@code ETag} and {@code max-age=0}, so
 *       each request asks the origin {@code If-None-Match}, gets a {@code 304} and sends the body from
 *       disk ({@code sendfile});</li>
 *   <li>{@code freshHit}: {@code max-age=3600}, the body from disk without asking the origin.</li>
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class CacheRevalidationBenchmark {

  @Param({"1048576", "16777216"})
  int size;

  private Path root;
  private BlobCache cache;
  private Conduit conduit;
  private HttpServer origin;
  private HttpClient client;
  private byte[] body;

  @Setup
  public void setUp() throws Exception {
    body = new byte[size];
    new SplittableRandom(size).nextBytes(body);
    origin = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
    origin.setExecutor(Executors.newFixedThreadPool(4));
    origin.createContext("/", ex -> {
      try (ex) {
        String path = ex.getRequestURI().getPath();
        ex.getResponseHeaders().set("ETag", "\"v1\"");
        ex.getResponseHeaders().set("Cache-Control", path.startsWith("/none/") ? "no-store"
            : path.startsWith("/fresh/") ? "max-age=3600" : "max-age=0");
        if ("\"v1\"".equals(ex.getRequestHeaders().getFirst("If-None-Match"))) {
          ex.sendResponseHeaders(304, -1);
          return;
        }
        ex.sendResponseHeaders(200, body.length);
        try (OutputStream out = ex.getResponseBody()) {
          out.write(body);
        }
      }
    });
    origin.start();
    root = Files.createTempDirectory("conduit-revalidation-bench");
    cache = BlobCache.open(BlobCacheConfig.builder().root(root).build());
    MitmProxy proxy = MitmProxy.builder()
        .certificateAuthority(CertificateAuthority.builder().commonName("bench").build()).cache(cache).build();
    conduit = Conduit.builder().listener(Listener.builder("p").bind("127.0.0.1:0").protocol(proxy).build())
        .build().start();
    client = HttpClient.newBuilder().proxy(ProxySelector.of(conduit.address("p"))).build();
    get("/rev/x.tar.gz");
    get("/fresh/x.tar.gz");
  }

  private int get(String path) throws IOException, InterruptedException {
    HttpResponse<byte[]> r = client.send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + origin.getAddress().getPort() + path)).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    if (r.statusCode() != 200 || r.body().length != size) {
      throw new IllegalStateException(path + ": " + r.statusCode() + ", " + r.body().length + " bytes");
    }
    return r.body().length;
  }

  @Benchmark
  public int fullDownload() throws Exception {
    return get("/none/x.tar.gz");
  }

  @Benchmark
  public int revalidatedHit() throws Exception {
    return get("/rev/x.tar.gz");
  }

  @Benchmark
  public int freshHit() throws Exception {
    return get("/fresh/x.tar.gz");
  }

  @TearDown
  public void tearDown() throws IOException {
    conduit.close();
    cache.close();
    origin.stop(0);
    try (Stream<Path> files = Files.walk(root)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
