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
 *   <li>{@code /cdn/HEX}: the blob registered with {@link #blob}.</li>
 * </ul>
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
      ex.getRequestBody().readAllBytes();
      Map<String, String> q = query(ex.getRequestURI().getRawQuery());
      if (path.equals("/hello")) {
        String seen = ex.getRequestHeaders().getFirst("X-Test");
        if (seen != null) {
          ex.getResponseHeaders().set("X-Seen-Test", seen);
        }
        send(ex, 200, "hello".getBytes(StandardCharsets.UTF_8), 0);
      } else if (path.startsWith("/files/")) {
        int n = Integer.parseInt(q.getOrDefault("n", "1000"));
        ex.getResponseHeaders().set("Content-Type", "application/octet-stream");
        send(ex, 200, data(path, n), Integer.parseInt(q.getOrDefault("pauseMs", "0")));
      } else if (path.startsWith("/big/")) {
        int mib = Integer.parseInt(q.getOrDefault("mib", "1"));
        int pauseMs = Integer.parseInt(q.getOrDefault("pauseMs", "0"));
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
