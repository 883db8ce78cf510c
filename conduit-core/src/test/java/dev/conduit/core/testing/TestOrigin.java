package dev.conduit.core.testing;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real HTTP/1.1 origin on loopback (the JDK's server): {@code /hello} answers {@code hello},
 * {@code /bytes?n=N} answers N deterministic bytes, {@code /echo} answers the request body, and
 * every response carries the request's method, path and headers as {@code X-Seen-*}.
 */
public final class TestOrigin implements AutoCloseable {
  private final HttpServer server;
  private final ExecutorService executor = Executors.newCachedThreadPool();
  private final AtomicInteger requests = new AtomicInteger();

  private TestOrigin(HttpServer server) {
    this.server = server;
  }

  /** Starts an origin on 127.0.0.1 and a free port. */
  public static TestOrigin start() throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 128);
    TestOrigin origin = new TestOrigin(server);
    server.createContext("/", origin::handle);
    server.setExecutor(origin.executor);
    server.start();
    return origin;
  }

  /** Deterministic content of {@code /bytes?n=N}. */
  public static byte[] bytes(int n) {
    byte[] b = new byte[n];
    long x = 0x9E3779B97F4A7C15L;
    for (int i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 7;
      x ^= x << 17;
      b[i] = (byte) x;
    }
    return b;
  }

  private void handle(HttpExchange ex) throws IOException {
    requests.incrementAndGet();
    try (ex) {
      byte[] body;
      String path = ex.getRequestURI().getPath();
      ex.getResponseHeaders().add("X-Seen-Method", ex.getRequestMethod());
      ex.getResponseHeaders().add("X-Seen-Path", ex.getRequestURI().toString());
      ex.getRequestHeaders().forEach((k, v) -> ex.getResponseHeaders().add("X-Seen-Header-" + k, String.join(",", v)));
      try (InputStream in = ex.getRequestBody()) {
        byte[] requestBody = in.readAllBytes();
        if (path.equals("/echo")) {
          body = requestBody;
        } else if (path.equals("/bytes")) {
          String q = ex.getRequestURI().getQuery();
          int n = Integer.parseInt(q.substring(q.indexOf("n=") + 2));
          body = bytes(n);
          // fixed bytes: fresh for an hour, so a cache in front serves hits without revalidating
          ex.getResponseHeaders().add("Cache-Control", "max-age=3600");
        } else if (path.equals("/hello")) {
          body = "hello".getBytes(StandardCharsets.US_ASCII);
        } else {
          ex.sendResponseHeaders(404, -1);
          return;
        }
      }
      if (ex.getRequestMethod().equals("HEAD")) {
        ex.sendResponseHeaders(200, -1);
        return;
      }
      ex.sendResponseHeaders(200, body.length == 0 ? -1 : body.length);
      try (OutputStream out = ex.getResponseBody()) {
        out.write(body);
      }
    }
  }

  public InetSocketAddress address() {
    return server.getAddress();
  }

  public int port() {
    return server.getAddress().getPort();
  }

  /** {@code http://127.0.0.1:port/path}. */
  public URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port() + path);
  }

  /** Requests served so far. */
  public int requests() {
    return requests.get();
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
