package dev.conduit.cli.command;

import dev.conduit.cli.CliException;
import dev.conduit.cli.config.CacheConfig;
import dev.conduit.core.pki.Pem;
import dev.conduit.mitm.MitmServer;
import java.io.IOException;
import dev.conduit.mitm.MitmService;
import dev.conduit.mitm.cache.CacheAdminRoute;
import dev.conduit.mitm.cache.CacheMetrics;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.security.cert.X509Certificate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The caching MITM proxy role (seed 004): its section, and its server opened from it. */
final class CacheRole {
  private static final Logger log = LoggerFactory.getLogger("conduit");

  /** The names of the {@code cache} section's listeners in a conduit that may have others. */
  static final String CACHE_LISTENER = "cache";
  static final String CACHE_TLS_LISTENER = "cache-tls";

  private CacheRole() {}

  /**
   * Opens the CA and the cache (blocking, at start-up); the server's listeners go into the conduit.
   *
   * @param plainName the plain listener's name, or null for the server's default
   * @param tlsName the TLS listener's name, or null for the server's default
   * @throws CliException naming what is wrong
   */
  static MitmServer open(CacheConfig c, String plainName, String tlsName) {
    return open(c, plainName, tlsName, b -> { });
  }

  /** As {@link #open(CacheConfig, String, String)}, with settings the section does not carry (cache serve's flags). */
  static MitmServer open(CacheConfig c, String plainName, String tlsName, Consumer<MitmServer.Builder> extra) {
    MitmServer.Builder b = MitmServer.builder();
    try {
      extra.accept(b);
      if (plainName != null) {
        b.listenerNames(plainName, tlsName);
      }
      b.certDir(Path.of(c.certDir())).fileDir(Path.of(c.cacheDir())).bind(c.listen())
          .maxCacheBytes(c.maxCacheBytes());
      c.tlsListen().ifPresent(b::bindTls);
      c.tlsNames().forEach(b::tlsName);
      c.intercept().forEach(b::intercept);
      if (!c.filters().isEmpty()) {
        b.filters(c.filters());
      }
      for (String ca : c.trustUpstreamCas()) {
        for (X509Certificate cert : Pem.readCertificates(Path.of(ca))) {
          b.trustUpstreamCa(cert);
        }
      }
      MitmServer server = b.build();
      log.info("cache: CA {}, cache {}; trust {}/ca.crt in clients", c.certDir(), c.cacheDir(), c.certDir());
      return server;
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw CliException.usage("cache: " + e.getMessage());
    } catch (IOException e) {
      throw CliException.failure("cache: " + Lifecycle.io(e), e);
    }
  }

  /**
   * The cache's service: its admin route at {@value CacheAdminRoute#PREFIX} and, when the runtime has
   * metrics, its meters on their registry.
   */
  static MitmService.Builder service(MitmServer server, MetricsService metrics) {
    if (metrics != null) {
      CacheMetrics.bind(server.cache(), metrics.registry());
    }
    return MitmService.builder(server).route(CacheAdminRoute.PREFIX, new CacheAdminRoute(server.cache()));
  }
}
