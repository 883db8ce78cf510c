package dev.conduit.cli.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.conduit.cli.CliException;
import dev.conduit.mitm.cache.CacheAdminRoute;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.StringJoiner;

/**
 * Talks to the cache admin route of the {@code cache serve} that holds a directory: the server
 * writes its admin endpoint's address to {@value #ADMIN_FILE} in the cache directory while it runs.
 */
final class CacheAdminClient {

  /** The file in the cache directory naming the admin endpoint of the server holding it. */
  static final String ADMIN_FILE = ".admin";

  private final URI base;
  private final String token;
  private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private CacheAdminClient(URI base, String token) {
    this.base = base;
    this.token = token;
  }

  /** Records the admin endpoint of the server now holding {@code dir}. */
  static void advertise(Path dir, InetSocketAddress admin) throws IOException {
    String host = admin.getAddress().isAnyLocalAddress() ? "127.0.0.1" : admin.getAddress().getHostAddress();
    if (host.indexOf(':') >= 0) {
      host = "[" + host + "]";
    }
    Files.writeString(dir.resolve(ADMIN_FILE), "http://" + host + ":" + admin.getPort() + "\n");
  }

  /**
   * A context whose run control records the runtime's admin endpoint in {@code dir} once the
   * runtime started, and removes the record when asked to stop.
   */
  static dev.conduit.cli.CliContext advertising(dev.conduit.cli.CliContext context, Path dir) {
    dev.conduit.cli.RunControl inner = context.runControl();
    dev.conduit.cli.RunControl control = new dev.conduit.cli.RunControl() {
      @Override
      public void started(dev.conduit.core.Conduit conduit) {
        inner.started(conduit);
      }

      @Override
      public void started(dev.conduit.core.runtime.ConduitRuntime runtime) {
        runtime.admin().ifPresent(a -> {
          try {
            advertise(dir, a.address());
          } catch (IOException e) {
            // cache ls/purge/pin then need --admin
          }
        });
        inner.started(runtime);
      }

      @Override
      public void reloadable(Runnable action) {
        inner.reloadable(action);
      }

      @Override
      public void awaitStop() throws InterruptedException {
        try {
          inner.awaitStop();
        } finally {
          withdraw(dir);
        }
      }
    };
    return new dev.conduit.cli.CliContext(control, context.commandRunner());
  }

  /** Removes the record written by {@link #advertise}. */
  static void withdraw(Path dir) {
    try {
      Files.deleteIfExists(dir.resolve(ADMIN_FILE));
    } catch (IOException e) {
      // the next server overwrites it
    }
  }

  /** The client for {@code --admin URL}, or the endpoint recorded in {@code dir}, if any. */
  static Optional<CacheAdminClient> of(Path dir, String adminUrl, String token) {
    String url = adminUrl;
    if (url == null) {
      try {
        url = Files.readString(dir.resolve(ADMIN_FILE)).strip();
      } catch (IOException e) {
        return Optional.empty();
      }
    }
    try {
      URI u = URI.create(url.endsWith("/") ? url.substring(0, url.length() - 1) : url);
      if (u.getScheme() == null || u.getHost() == null) {
        throw new IllegalArgumentException("no scheme or host");
      }
      return Optional.of(new CacheAdminClient(u, token));
    } catch (IllegalArgumentException e) {
      throw CliException.usage("--admin: " + url + " (expected: an URL such as http://127.0.0.1:9090)");
    }
  }

  URI base() {
    return base;
  }

  JsonNode entries() {
    return call("GET", "/entries", Map.of());
  }

  int purge(Map<String, String> selector) {
    return call("POST", "/purge", selector).path("purged").asInt();
  }

  int pin(Map<String, String> selector, boolean pinned) {
    return call("POST", pinned ? "/pin" : "/unpin", selector).path("changed").asInt();
  }

  private JsonNode call(String method, String path, Map<String, String> query) {
    StringJoiner q = new StringJoiner("&", "?", "").setEmptyValue("");
    query.forEach((k, v) -> q.add(k + "=" + URLEncoder.encode(v, StandardCharsets.UTF_8)));
    URI uri = URI.create(base + CacheAdminRoute.PREFIX + path + q);
    HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30))
        .method(method, HttpRequest.BodyPublishers.noBody());
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    HttpResponse<String> r;
    try {
      r = client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw CliException.failure("admin endpoint " + base + ": " + e.getMessage() + " (is the server running?)", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw CliException.failure("interrupted");
    }
    if (r.statusCode() == 401) {
      throw CliException.failure("admin endpoint " + base + ": 401 (give its token with --admin-token)");
    }
    if (r.statusCode() != 200) {
      throw CliException.failure("admin endpoint " + base + ": " + r.statusCode() + " " + r.body().strip());
    }
    try {
      return new ObjectMapper().readTree(r.body());
    } catch (IOException e) {
      throw CliException.failure("admin endpoint " + base + ": not JSON: " + e.getMessage(), e);
    }
  }
}
