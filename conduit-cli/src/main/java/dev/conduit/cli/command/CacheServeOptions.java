package dev.conduit.cli.command;

import dev.conduit.cli.CliException;
import dev.conduit.cli.config.Durations;
import dev.conduit.core.Conduit;
import dev.conduit.core.admin.AdminServer;
import dev.conduit.core.observe.ConnectionObserver;
import dev.conduit.core.observe.MicrometerObserver;
import dev.conduit.mitm.MitmServer;
import dev.conduit.mitm.cache.CacheAdminRoute;
import dev.conduit.mitm.cache.CacheMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/**
 * The cache-specific options of {@code conduit cache serve}: seed 004's TOML file, freshness rules
 * and the admin endpoint with the cache's route ({@code /cache}) and metrics.
 */
final class CacheServeOptions {
  private static final Logger log = LoggerFactory.getLogger(CacheServeOptions.class);

  @Option(names = "--cfg", paramLabel = "FILE",
      description = "A dduct-style TOML file ([misc], [proxy], [certs]); default: " + SeedToml.FILE_NAME
          + " next to the jar, when present. Flags win over it.")
  Path cfg;

  @Option(names = "--admin-listen", paramLabel = "IP:PORT",
      description = "Admin endpoint: /metrics, /healthz, /readyz, /connections and /cache (entries, purge, pin).")
  String adminListen;

  @Option(names = "--max-age", paramLabel = "REGEX=DURATION",
      description = "Entries whose URL path matches REGEX are fresh for DURATION after each validation"
          + " (0: revalidate every time); repeatable, the first match wins.")
  List<String> maxAges = new ArrayList<>();

  @Option(names = "--no-cache", paramLabel = "REGEX", description = "Never cache URLs whose path matches; repeatable.")
  List<String> noCache = new ArrayList<>();

  @Option(names = "--stale-if-error", paramLabel = "DURATION",
      description = "Serve a stale mutable entry for this long after it went stale when the origin fails (default: 1d; 0: never).")
  String staleIfError;

  private PrometheusMeterRegistry registry;

  /** Applies the seed file (where the flags say nothing) and the freshness flags. */
  void apply(MitmServer.Builder b, Optional<SeedToml> seed, boolean interceptGiven, boolean filtersGiven,
      boolean tlsNameGiven) {
    if (seed.isPresent()) {
      SeedToml t = seed.get();
      if (!interceptGiven) {
        t.intercept.forEach(b::intercept);
      }
      if (!filtersGiven && !t.filters.isEmpty()) {
        b.filters(t.filters);
      }
      if (!tlsNameGiven) {
        t.tlsNames.forEach(b::tlsName);
      }
      b.caValidity(t.caValidity).caCommonName(t.caCommonName).pkcs12Password(t.p12Password);
    }
    for (String rule : maxAges) {
      int eq = rule.lastIndexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("--max-age: " + rule + " (expected: REGEX=DURATION, such as '\\.json$=10m')");
      }
      b.maxAge(rule.substring(0, eq), Durations.parse(rule.substring(eq + 1)));
    }
    noCache.forEach(b::neverCache);
    if (staleIfError != null) {
      b.staleIfError(Durations.parse(staleIfError));
    }
  }

  /** The connection metrics observer, when there is an admin endpoint; binds the cache's metrics too. */
  Optional<ConnectionObserver> metrics(MitmServer server) {
    if (adminListen == null) {
      return Optional.empty();
    }
    registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    CacheMetrics.bind(server.cache(), registry);
    return Optional.of(MicrometerObserver.builder(registry).build());
  }

  /** Starts the admin endpoint with the cache route mounted, and records it in the cache directory. */
  AdminServer startAdmin(Conduit conduit, MitmServer server) {
    if (adminListen == null) {
      return null;
    }
    AdminServer admin;
    try {
      admin = AdminServer.builder().bind(adminListen).conduit(conduit).metrics(registry::scrape)
          .route(CacheAdminRoute.PREFIX, new CacheAdminRoute(server.cache())).build();
    } catch (IllegalArgumentException e) {
      throw CliException.usage("--admin-listen: " + e.getMessage());
    }
    try {
      admin.start();
      CacheAdminClient.advertise(server.cache().config().root(), admin.address());
    } catch (IOException e) {
      admin.close();
      throw CliException.failure("--admin-listen " + adminListen + ": " + e.getMessage(), e);
    }
    log.info("admin endpoint on http://{}:{}/ (metrics, healthz, readyz, connections, cache)",
        admin.address().getHostString(), admin.address().getPort());
    return admin;
  }

  /** Stops the admin endpoint and removes its record. */
  void stopAdmin(AdminServer admin, MitmServer server) {
    if (admin != null) {
      CacheAdminClient.withdraw(server.cache().config().root());
      admin.close();
    }
  }
}
