package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves an egress gateway's metrics over HTTP: {@code GET /metrics} reads the kernel's counters at
 * each request (on a worker thread of its own, never an event loop) and answers in the Prometheus text
 * format; {@code GET /healthz} answers 200 while the table can be listed.
 */
public final class EgressMetricsServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EgressMetricsServer.class);
  private static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

  private final HttpServer server;
  private final ExecutorService workers;

  private EgressMetricsServer(HttpServer server, ExecutorService workers) {
    this.server = server;
    this.workers = workers;
  }

  /**
   * Binds and starts serving.
   *
   * @param bind the address, e.g. {@code 0.0.0.0:9900}
   * @param gateway the gateway
   * @param metrics the renderer
   * @return the running server
   * @throws IOException when the address cannot be bound
   */
  public static EgressMetricsServer start(InetSocketAddress bind, EgressGateway gateway,
      EgressMetrics metrics) throws IOException {
    requireNonNull(bind, "bind");
    requireNonNull(gateway, "gateway");
    requireNonNull(metrics, "metrics");
    HttpServer server = HttpServer.create(bind, 16);
    // two workers: scrapes run nft, concurrent scrapers queue instead of piling up processes
    ExecutorService workers = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "conduit-egress-metrics");
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(workers);
    server.createContext("/", exchange -> {
      try (exchange) {
        String path = exchange.getRequestURI().getPath();
        if (!exchange.getRequestMethod().equals("GET")) {
          reply(exchange, 405, "text/plain; charset=utf-8", "method not allowed (expected: GET)\n");
        } else if (path.equals("/metrics")) {
          reply(exchange, 200, PROMETHEUS_TEXT, metrics.scrape(gateway));
        } else if (path.equals("/healthz")) {
          gateway.show();
          reply(exchange, 200, "text/plain; charset=utf-8", "ok\n");
        } else {
          reply(exchange, 404, "text/plain; charset=utf-8", "not found (try /metrics)\n");
        }
      } catch (Exception e) {
        log.warn("egress metrics: {}", e.toString());
        try {
          reply(exchange, 503, "text/plain; charset=utf-8", "cannot read counters: " + e.getMessage() + "\n");
        } catch (IOException ignored) {
          // the scraper went away
        }
      }
    });
    server.start();
    return new EgressMetricsServer(server, workers);
  }

  private static void reply(HttpExchange exchange, int status, String type, String body)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", type);
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  /** Returns the bound address. */
  public InetSocketAddress address() {
    return server.getAddress();
  }

  /** Stops serving. */
  @Override
  public void close() {
    server.stop(0);
    workers.shutdownNow();
  }
}
