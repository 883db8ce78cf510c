package dev.conduit.mitm;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.conduit.core.pki.IssuedCertificate;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * An HTTP(S) origin for the tests (the JDK HTTP server on loopback), counting requests per path:
 * <ul>
 *   <li>{@code /hello}: "hello", echoing {@code X-Test} as {@code X-Seen-Test};</li>
 *   <li>{@code /files/NAME?n=BYTES&pauseMs=MS}: {@link #data} of seed NAME, optionally paced;</li>
 *   <li>{@code /v2/REPO/blobs/sha256:HEX}: a 307 to {@code /cdn/HEX?sig=RANDOM} (relative Location);</li>
 *   <li>{@code /cdn/HEX}: the blob registered with {@link #blob};</li>
 *   <li>any path registered with {@link #resource}: its current body, validators and status, with
 *       conditional requests answered 304.</li>
 * </ul>
 * {@code /files/} and {@code /big/} bodies are fresh for a day ({@code Cache-Control: max-age=86400}),
 * so the tests of hits see hits whatever the entry's kind.
 */
final class Origin implements AutoCloseable {

  private final HttpServer server;
  private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "test-origin");
    t.setDaemon(true);
    return t;
  });
  private final Map<String, AtomicInteger> requests = new ConcurrentHashMap<>();
  private final Map<String, byte[]> blobs = new ConcurrentHashMap<>();
  private final Map<String, Resource> resources = new ConcurrentHashMap<>();
  private final Map<String, java.util.List<Map<String, String>>> seen = new ConcurrentHashMap<>();

  /**
   * A resource whose answer the test changes between requests.
   *
   * @param body the body
   * @param etag the ETag (with quotes) or null
   * @param lastModified the Last-Modified date or null
   * @param cacheControl the Cache-Control value or null
   * @param status a status to answer instead (e.g. 503), or 0
   * @param gate when not null, the answer waits until it is counted down
   */
  record Resource(byte[] body, String etag, String lastModified, String cacheControl, int status,
      java.util.concurrent.CountDownLatch gate) {
    static Resource of(byte[] body) {
      return new Resource(body, null, null, null, 0, null);
    }

    Resource etag(String value) {
      return new Resource(body, value, lastModified, cacheControl, status, gate);
    }

    Resource lastModified(java.time.Instant at) {
      return new Resource(body, etag, java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME.format(
          at.atZone(java.time.ZoneOffset.UTC)), cacheControl, status, gate);
    }

    Resource cacheControl(String value) {
      return new Resource(body, etag, lastModified, value, status, gate);
    }

    Resource status(int value) {
      return new Resource(body, etag, lastModified, cacheControl, value, gate);
    }

    Resource gate(java.util.concurrent.CountDownLatch value) {
      return new Resource(body, etag, lastModified, cacheControl, status, value);
    }
  }

  /** Registers or changes the answer at {@code path}. */
  void resource(String path, Resource resource) {
    resources.put(path, resource);
  }

  /** The request headers (lower-case names) of each request to {@code path}, in order. */
  java.util.List<Map<String, String>> seen(String path) {
    return seen.getOrDefault(path, java.util.List.of());
  }

  private Origin(HttpServer server) {
    this.server = server;
    server.createContext("/", this::handle);
    server.setExecutor(executor);
    server.start();
  }

  static Origin http() throws IOException {
    return new Origin(HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64));
  }

  static Origin https(IssuedCertificate certificate) throws Exception {
    char[] password = "test".toCharArray();
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(new ByteArrayInputStream(certificate.toPkcs12(password)), password);
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, password);
    SSLContext ssl = SSLContext.getInstance("TLS");
    ssl.init(kmf.getKeyManagers(), null, null);
    HttpsServer s = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
    s.setHttpsConfigurator(new HttpsConfigurator(ssl));
    return new Origin(s);
  }

  /** Deterministic pseudo-random bytes of stream {@code seed}. */
  static byte[] data(String seed, int n) {
    byte[] b = new byte[n];
    new SplittableRandom(seed.hashCode()).nextBytes(b);
    return b;
  }

  /** Block {@code index} (1 MiB) of the generated body of {@code /big/...} path {@code path}. */
  static void bigBlock(String path, int index, byte[] block) {
    new SplittableRandom(path.hashCode() * 1_000_003L + index).nextBytes(block);
  }

  private static void pause(int ms) throws IOException {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }

  static String sha256(byte[] data) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  /** Registers a blob for {@code /v2/.../blobs/sha256:HEX} and {@code /cdn/HEX}. */
  void blob(String hex, byte[] data) {
    blobs.put(hex, data);
  }

  int port() {
    return server.getAddress().getPort();
  }

  int requests(String path) {
    AtomicInteger n = requests.get(path);
    return n == null ? 0 : n.get();
  }

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      String path = ex.getRequestURI().getRawPath();
      requests.computeIfAbsent(path, p -> new AtomicInteger()).incrementAndGet();
      byte[] requestBody = ex.getRequestBody().readAllBytes();
      Map<String, String> q = query(ex.getRequestURI().getRawQuery());
      Map<String, String> headers = new java.util.TreeMap<>();
      ex.getRequestHeaders().forEach((k, v) -> headers.put(k.toLowerCase(java.util.Locale.ROOT), v.get(0)));
      seen.computeIfAbsent(path, p -> new java.util.concurrent.CopyOnWriteArrayList<>()).add(headers);
      Resource res = resources.get(path);
      if (res != null) {
        serve(ex, res, headers);
      } else if (path.equals("/hello")) {
        String seen = ex.getRequestHeaders().getFirst("X-Test");
        if (seen != null) {
          ex.getResponseHeaders().set("X-Seen-Test", seen);
        }
        send(ex, 200, "hello".getBytes(StandardCharsets.UTF_8), 0);
      } else if (path.equals("/echo")) {
        send(ex, 200, requestBody, 0);
      } else if (path.startsWith("/chunked/")) {
        ex.sendResponseHeaders(200, 0); // no length: sent chunked
        ex.getResponseBody().write(data(path, Integer.parseInt(q.getOrDefault("n", "1000"))));
      } else if (path.startsWith("/files/")) {
        int n = Integer.parseInt(q.getOrDefault("n", "1000"));
        ex.getResponseHeaders().set("Content-Type", "application/octet-stream");
        ex.getResponseHeaders().set("Cache-Control", "max-age=86400");
        send(ex, 200, data(path, n), Integer.parseInt(q.getOrDefault("pauseMs", "0")));
      } else if (path.startsWith("/big/")) {
        int mib = Integer.parseInt(q.getOrDefault("mib", "1"));
        int pauseMs = Integer.parseInt(q.getOrDefault("pauseMs", "0"));
        ex.getResponseHeaders().set("Cache-Control", "max-age=86400");
        ex.sendResponseHeaders(200, (long) mib << 20);
        OutputStream out = ex.getResponseBody();
        byte[] block = new byte[1 << 20];
        for (int i = 0; i < mib; i++) {
          bigBlock(path, i, block);
          out.write(block);
          if (pauseMs > 0) {
            out.flush();
            pause(pauseMs);
          }
        }
      } else if (path.startsWith("/v2/") && path.contains("/blobs/sha256:")) {
        String hex = path.substring(path.indexOf("sha256:") + 7);
        ex.getResponseHeaders().set("Location", "/cdn/" + hex + "?sig=" + UUID.randomUUID());
        ex.sendResponseHeaders(307, -1);
      } else if (path.startsWith("/cdn/") && blobs.containsKey(path.substring(5))) {
        send(ex, 200, blobs.get(path.substring(5)), 0);
      } else {
        send(ex, 404, "not found".getBytes(StandardCharsets.UTF_8), 0);
      }
    }
  }

  private static void serve(HttpExchange ex, Resource res, Map<String, String> request) throws IOException {
    if (res.gate() != null) {
      try {
        res.gate().await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException(e);
      }
    }
    if (res.status() != 0) {
      send(ex, res.status(), "origin error\n".getBytes(StandardCharsets.UTF_8), 0);
      return;
    }
    if (res.etag() != null) {
      ex.getResponseHeaders().set("ETag", res.etag());
    }
    if (res.lastModified() != null) {
      ex.getResponseHeaders().set("Last-Modified", res.lastModified());
    }
    if (res.cacheControl() != null) {
      ex.getResponseHeaders().set("Cache-Control", res.cacheControl());
    }
    String inm = request.get("if-none-match");
    String ims = request.get("if-modified-since");
    boolean notModified = inm != null ? inm.equals(res.etag())
        : ims != null && res.lastModified() != null && !parse(res.lastModified()).isAfter(parse(ims));
    if (notModified) {
      ex.sendResponseHeaders(304, -1);
      return;
    }
    send(ex, 200, res.body(), 0);
  }

  private static java.time.Instant parse(String date) {
    return java.time.ZonedDateTime.parse(date, java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
  }

  private static void send(HttpExchange ex, int status, byte[] body, int pauseMs) throws IOException {
    boolean head = ex.getRequestMethod().equals("HEAD");
    ex.sendResponseHeaders(status, head ? -1 : body.length);
    if (head) {
      return;
    }
    OutputStream out = ex.getResponseBody();
    int chunk = 64 * 1024;
    for (int off = 0; off < body.length; off += chunk) {
      out.write(body, off, Math.min(chunk, body.length - off));
      if (pauseMs > 0) {
        out.flush();
        try {
          Thread.sleep(pauseMs);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException(e);
        }
      }
    }
  }

  private static Map<String, String> query(String raw) {
    Map<String, String> m = new ConcurrentHashMap<>();
    if (raw != null) {
      for (String kv : raw.split("&")) {
        int eq = kv.indexOf('=');
        if (eq > 0) {
          m.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
      }
    }
    return m;
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
