package dev.conduit.cli.command;

import dev.conduit.cli.CliException;
import dev.conduit.cli.config.AdminConfig;
import dev.conduit.cli.config.CacheConfig;
import dev.conduit.cli.config.LogConfig;
import dev.conduit.cli.logging.Logging;
import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitBuilder;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.Timeouts;
import dev.conduit.core.admin.AdminServer;
import dev.conduit.core.runtime.ConduitRuntime;
import dev.conduit.core.runtime.ConduitService;
import dev.conduit.core.runtime.ConfigSections;
import dev.conduit.core.runtime.Service;
import dev.conduit.mitm.MitmServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code conduit cache serve}: the caching MITM proxy of seed 004 (dduct), with its settings under
 * clear names: {@code cert_dir} → {@code --cert-dir}, {@code file_dir} → {@code --cache-dir},
 * {@code tcp_bind} → {@code --listen}, {@code tls_bind} → {@code --tls-listen}, {@code filters} →
 * {@code --filter}, the certificate names → {@code --intercept} (hosts whose CONNECT tunnels are
 * opened; everything else is a blind tunnel).
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = {"Run the caching proxy: HTTP forward proxy + HTTPS interception with conduit's CA + disk cache.",
        "Runs until SIGTERM or SIGINT, then stops accepting and drains open connections.",
        "SIGHUP reloads: a change of the cache's settings is reported as needing a restart."},
    footer = {"", "Example:",
        "  conduit cache serve --cert-dir /var/lib/conduit/certs --cache-dir /var/cache/conduit \\",
        "      --listen 127.0.0.1:8000 --intercept '*.docker.io' --intercept quay.io --intercept '*.quay.io'",
        "  curl --cacert /var/lib/conduit/certs/ca.crt -x http://127.0.0.1:8000 https://some.thing/here.txz"})
public final class CacheServeCommand extends BaseCommand implements Callable<Integer> {
  @Option(names = "--cert-dir", paramLabel = "DIR",
      description = "Where the CA lives (ca.crt, ca.key 0600, ca.p12); created on first start (default: certs next to the jar).")
  Path certDir;

  @Option(names = "--cache-dir", paramLabel = "DIR", description = "The blob cache directory (default: files next to the jar).")
  Path cacheDir;

  @Option(names = "--listen", paramLabel = "IP:PORT", description = "Plain HTTP proxy listener (default: 127.0.0.1:8000).")
  String listen;

  @Option(names = "--tls-listen", paramLabel = "IP:PORT",
      description = "HTTPS proxy listener (curl -x https://...), with a certificate from conduit's CA.")
  String tlsListen;

  @Option(names = "--tls-name", paramLabel = "NAME", description = "The HTTPS listener's certificate name.")
  String tlsName;

  @Option(names = "--intercept", paramLabel = "HOST",
      description = "Open CONNECT tunnels to HOST (exact), *.HOST (subdomains) or * (all); repeatable.")
  List<String> intercept = new ArrayList<>();

  @Option(names = "--filter", paramLabel = "REGEX",
      description = "Cache URLs whose path matches; repeatable (default: OCI blobs, packages, archives).")
  List<String> filters = new ArrayList<>();

  @Option(names = "--trust-upstream-ca", paramLabel = "FILE",
      description = "Trust this CA for upstream servers, besides the system trust store; repeatable.")
  List<Path> upstreamCas = new ArrayList<>();

  @Option(names = "--max-cache-size", paramLabel = "BYTES", defaultValue = "10737418240",
      description = "Evict least recently used entries above this size (default: 10 GiB).")
  long maxCacheBytes;

  @Option(names = "--admin-listen", paramLabel = "IP:PORT",
      description = "Admin endpoint: /metrics (Prometheus), /healthz, /readyz, /connections, /config, /runtime.")
  String adminListen;

  @Option(names = "--drain-timeout", paramLabel = "DURATION", defaultValue = "30s",
      description = "On SIGTERM, how long open connections may finish (default: ${DEFAULT-VALUE}).")
  Duration drainTimeout;

  @Mixin
  LogOptions logOptions = new LogOptions();

  @Mixin
  CacheServeOptions cacheOptions = new CacheServeOptions();

  @Override
  public Integer call() throws InterruptedException {
    Optional<SeedToml> seed = SeedToml.load(cacheOptions.cfg);
    seed.ifPresent(t -> logOptions.level = logOptions.level != null ? logOptions.level : t.logLevel);
    CacheConfig cache = toConfig();
    LogConfig logConfig;
    try {
      logConfig = logOptions.apply(LogConfig.defaults());
      Timeouts.builder().drain(drainTimeout).build();
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
    Logging.configure(logConfig);
    seed.ifPresent(t -> t.notices.forEach(n -> err().println("notice: " + n)));
    ConduitRuntime.Builder runtime = ConduitRuntime.builder().sections(sections(cache))
        .drainTimeout(drainTimeout.plus(ProxyRole.DRAIN_MARGIN));
    ConduitResources resources = ConduitResources.builder().build();
    MitmServer server;
    try {
      server = CacheRole.open(cache, null, null, b -> cacheOptions.customize(b, seed));
    } catch (RuntimeException e) {
      resources.close();
      throw e;
    }
    ConduitBuilder cb = Conduit.builder().resources(resources)
        .timeouts(Timeouts.builder().drain(drainTimeout).build());
    server.listeners().forEach(cb::listener);
    ProxyRole.accessLog(logConfig).ifPresent(cb::observer);
    MetricsService metrics = adminListen == null ? null : new MetricsService(cb, resources);
    Conduit conduit = cb.build();
    runtime.service(Service.closing("event-loops", resources));
    if (metrics != null) {
      runtime.service(metrics.of(conduit));
    }
    runtime.service(CacheRole.service(server, metrics).section(CacheConfig.SECTION, cache).build());
    runtime.service(new ConduitService(conduit));
    if (adminListen != null) {
      runtime.admin(ProxyRole.admin(AdminConfig.of(adminListen))
          .config(() -> describe(cache), "text/yaml; charset=utf-8"));
    }
    return Lifecycle.run(runtime.build(), CacheAdminClient.advertising(context(), server.cache().config().root()),
        () -> sections(toConfig()), Lifecycle::startError);
  }

  private static ConfigSections sections(CacheConfig cache) {
    return ConfigSections.builder().section(CacheConfig.SECTION, cache).build();
  }

  /** The flags as the {@code cache} section they stand for. */
  private CacheConfig toConfig() {
    if (adminListen != null) {
      try {
        AdminServer.builder().bind(adminListen);
      } catch (IllegalArgumentException e) {
        throw CliException.usage("--admin-listen: " + e.getMessage());
      }
    }
    Optional<SeedToml> seed = SeedToml.load(cacheOptions.cfg); // flags win over the file, the file over defaults
    Path certs = certDir != null ? certDir : seed.map(t -> t.certDir).orElse(SeedToml.home().resolve("certs"));
    Path files = cacheDir != null ? cacheDir : seed.map(t -> t.fileDir).orElse(SeedToml.home().resolve("files"));
    String plain = listen != null ? listen : seed.map(t -> t.tcpBind).orElse(CacheConfig.DEFAULT_LISTEN);
    Optional<String> tls = tlsListen != null ? Optional.of(tlsListen) : seed.map(t -> t.tlsBind);
    List<String> names = tlsName != null ? List.of(tlsName) : seed.map(t -> t.tlsNames).orElse(List.of());
    List<String> hosts = !intercept.isEmpty() ? intercept : seed.map(t -> t.intercept).orElse(List.of());
    List<String> paths = !filters.isEmpty() ? filters : seed.map(t -> t.filters).orElse(List.of());
    try {
      return new CacheConfig(certs.toString(), files.toString(), plain, tls, names, hosts, paths,
          upstreamCas.stream().map(Path::toString).toList(), maxCacheBytes);
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
  }

  private static String describe(CacheConfig c) {
    return "cache:\n  cert_dir: " + c.certDir() + "\n  cache_dir: " + c.cacheDir() + "\n  listen: " + c.listen()
        + c.tlsListen().map(t -> "\n  tls_listen: " + t).orElse("") + "\n  intercept: " + c.intercept()
        + "\n  filters: " + c.filters() + "\n  max_cache_size: " + c.maxCacheBytes() + "\n";
  }
}
