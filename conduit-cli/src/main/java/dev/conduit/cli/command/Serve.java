package dev.conduit.cli.command;

import static java.util.Objects.requireNonNull;


import dev.conduit.cli.CliContext;
import dev.conduit.cli.CliException;
import dev.conduit.cli.ExitCode;
import dev.conduit.cli.RunControl;
import dev.conduit.cli.config.AdminConfig;
import dev.conduit.cli.config.CacheConfig;
import dev.conduit.cli.config.ConduitConfig;
import dev.conduit.cli.config.Durations;
import dev.conduit.cli.config.LogConfig;
import dev.conduit.cli.logging.Logging;
import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitBuilder;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.admin.AdminServer;
import dev.conduit.core.inbound.OriginalDestinationResolver;
import dev.conduit.core.observe.AccessLog;
import dev.conduit.core.observe.MicrometerObserver;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.pki.Pem;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.tunnel.MeshConfig;
import dev.conduit.core.tunnel.MeshPlan;
import dev.conduit.mitm.MitmServer;
import dev.conduit.netfilter.CapturePlan;
import dev.conduit.netfilter.NetfilterBackend;
import dev.conduit.netfilter.NetfilterException;
import dev.conduit.netfilter.Prerequisites;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a conduit from a configuration until the {@link RunControl} says stop, then drains: seed 000's
 * tunnel client/server with their capture rules, the admin endpoint with Prometheus metrics, the access
 * log, and reloading on SIGHUP ({@link #reload()}).
 */
final class Serve {
  private static final Logger log = LoggerFactory.getLogger("conduit");

  /** The names of the {@code cache} section's listeners. */
  static final String CACHE_LISTENER = "cache";
  static final String CACHE_TLS_LISTENER = "cache-tls";

  /** How often the tunnels' PEM files are checked for changes. */
  static final Duration TLS_CHECK_INTERVAL = Duration.ofSeconds(10);

  private final CliContext context;
  private final Callable<ConduitConfig> reread;
  private final ConduitResources resources;
  private final AtomicReference<Conduit> running = new AtomicReference<>();
  private volatile ConduitConfig current;
  private Conduit conduit;
  private MeshPlan listenerPlan; // built the listeners: its TLS files stay watched until stop
  private MeshPlan routePlan; // built the outbounds in use (same as listenerPlan until a reload)
  private CaptureRules capture;
  private OriginalDestinationResolver resolver = OriginalDestinationResolver.NONE;
  private MicrometerObserver metrics;
  private AdminServer admin;
  private MitmServer cache;

  private Serve(ConduitConfig config, CliContext context, Callable<ConduitConfig> reread) {
    this.current = config;
    this.context = context;
    this.reread = reread;
    this.resources = config.toResourcesBuilder().build();
  }

  /**
   * Runs {@code config} until stopped.
   *
   * @param reread re-reads the configuration on reload (SIGHUP), or null when there is nothing to re-read
   */
  static int serve(ConduitConfig config, CliContext context, Callable<ConduitConfig> reread)
      throws InterruptedException {
    requireNonNull(config, "config");
    requireNonNull(context, "context");
    Logging.configure(config.log());
    Serve serve = new Serve(config, context, reread);
    try {
      serve.start();
    } catch (RuntimeException e) {
      serve.shutdown();
      throw e;
    }
    RunControl control = context.runControl();
    control.started(serve.conduit);
    if (reread != null) {
      control.reloadable(serve::reload);
    }
    try {
      control.awaitStop();
    } finally {
      serve.shutdown();
    }
    return ExitCode.OK;
  }

  private void start() {
    ConduitConfig config = current;
    boolean captureOn = captureWanted(config);
    if (captureOn) {
      if (!resources.isNativeTransport()) {
        // SO_MARK and SO_ORIGINAL_DST are set/read on epoll sockets only
        throw CliException.failure("cannot capture the forward table: the native epoll transport is not"
            + " available (expected on Linux x86_64/aarch64; or set client.capture: false)");
      }
      resolver = CaptureRules.RESOLVER;
    }
    try {
      if (config.runsMesh()) {
        listenerPlan = config.mesh().orElseThrow().plan(resolver, TLS_CHECK_INTERVAL);
        routePlan = listenerPlan;
      }
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    } catch (IOException e) {
      throw CliException.failure(io(e), e);
    }
    if (config.cache().isPresent()) {
      cache = openCache(config.cache().get());
    }
    PrometheusMeterRegistry registry = null;
    ConduitBuilder b;
    try {
      b = config.toConduitBuilder().resources(resources).router(router(config, routePlan));
      if (listenerPlan != null) {
        listenerPlan.listeners().forEach(b::listener);
        listenerPlan.outbounds().forEach(b::outbound);
      }
      if (cache != null) {
        cache.listeners().forEach(b::listener);
      }
      accessLog(config.log()).ifPresent(b::observer);
      if (config.admin().isPresent()) {
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        metrics = MicrometerObserver.builder(registry).resources(resources)
            .draining(() -> running.get() != null && running.get().isStopping()).build();
        b.observer(metrics);
      }
      if (captureOn) {
        b.outboundSocketCustomizer(CaptureRules.markSockets(CaptureRules.BYPASS_MARK));
      }
      conduit = b.build();
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw CliException.usage(e.getMessage());
    }
    running.set(conduit);
    try {
      conduit.start();
    } catch (IOException e) {
      throw CliException.failure(e.getMessage(), e);
    }
    if (listenerPlan != null) {
      listenerPlan.startHealthChecks(conduit, config.timeouts().dial());
    }
    if (captureOn) {
      capture = CaptureRules.install(listenerPlan, conduit.address(MeshPlan.CLIENT_LISTENER), context.commandRunner());
    }
    if (config.admin().isPresent()) {
      startAdmin(config.admin().get(), registry);
    }
    log.info("started: {} listener(s), {} outbound(s), {} rule(s), default {}; timeouts dial {} negotiation {}"
            + " drain {}", conduit.listeners().size(), config.outbounds().size() + (routePlan == null ? 0
            : routePlan.outbounds().size()), config.rules().size() + (routePlan == null ? 0 : routePlan.rules().size()),
        config.defaultDecision(), Durations.format(config.timeouts().dial()),
        Durations.format(config.timeouts().negotiation()), Durations.format(config.timeouts().drain()));
  }

  /** The {@code cache} section's proxy: CA and cache opened now (blocking, at start-up), listeners to add. */
  private static MitmServer openCache(CacheConfig c) {
    MitmServer.Builder b = MitmServer.builder().listenerNames(CACHE_LISTENER, CACHE_TLS_LISTENER);
    try {
      b.certDir(Path.of(c.certDir())).fileDir(Path.of(c.cacheDir())).tcpBind(c.listen())
          .maxCacheBytes(c.maxCacheBytes());
      c.tlsListen().ifPresent(b::tlsBind);
      c.tlsNames().forEach(b::tlsName);
      c.intercept().forEach(b::intercept);
      if (!c.filters().isEmpty()) {
        b.filters(c.filters());
      }
      for (String ca : c.trustUpstreamCas()) {
        for (java.security.cert.X509Certificate cert : Pem.readCertificates(Path.of(ca))) {
          b.trustUpstreamCa(cert);
        }
      }
      MitmServer server = b.open();
      log.info("cache: CA {}, cache {}; trust {}/ca.crt in clients", c.certDir(), c.cacheDir(), c.certDir());
      return server;
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw CliException.usage("cache: " + e.getMessage());
    } catch (IOException e) {
      throw CliException.failure("cache: " + io(e), e);
    }
  }

  private void startAdmin(AdminConfig a, PrometheusMeterRegistry registry) {
    AdminServer.Builder ab;
    try {
      ab = AdminServer.builder().bind(a.listen()).conduit(conduit).metrics(registry::scrape)
          .config(() -> current.describe(), "text/yaml; charset=utf-8");
      Optional<String> token = a.token();
      if (a.tokenFile().isPresent()) {
        token = Optional.of(Files.readString(Path.of(a.tokenFile().get()), StandardCharsets.UTF_8).strip());
      }
      token.ifPresent(ab::token);
    } catch (IllegalArgumentException e) {
      throw CliException.usage("admin: " + e.getMessage());
    } catch (IOException e) {
      throw CliException.failure("admin.token_file: " + io(e), e);
    }
    admin = ab.build();
    try {
      admin.start();
    } catch (IOException e) {
      throw CliException.failure("admin.listen " + a.listen() + ": " + e.getMessage(), e);
    }
    log.info("admin endpoint on http://{}/ (metrics, healthz, readyz, connections, config)",
        hostPort(admin.address()));
  }

  private static String io(IOException e) {
    if (e instanceof java.nio.file.NoSuchFileException n) {
      return n.getFile() + ": no such file";
    }
    if (e instanceof java.nio.file.AccessDeniedException d) {
      return d.getFile() + ": permission denied";
    }
    return e.getMessage() == null ? e.toString() : e.getMessage();
  }

  private static String oneLine(Exception e) {
    String m = e instanceof IOException io ? io(io) : e.getMessage() == null ? e.toString() : e.getMessage();
    return m.strip().replaceAll("\\s*\\R\\s*", "; ");
  }

  private static String hostPort(java.net.InetSocketAddress a) {
    String host = a.getAddress().getHostAddress();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
  }

  /**
   * Re-reads the configuration and applies its rules and outbounds to new connections; established
   * connections keep theirs. Listener changes are reported as needing a restart. A file that does not
   * load is reported and the running configuration stays.
   *
   * @return whether the new rules and outbounds were applied
   */
  synchronized boolean reload() {
    if (conduit == null || conduit.isStopping()) {
      return false;
    }
    ConduitConfig next;
    try {
      next = reread.call();
    } catch (Exception e) {
      log.error("reload failed, keeping the running configuration: {}", oneLine(e));
      return false;
    }
    MeshPlan nextPlan = null;
    try {
      if (next.runsMesh()) {
        nextPlan = next.mesh().orElseThrow().plan(resolver, TLS_CHECK_INTERVAL);
      }
      List<Outbound> outbounds = new ArrayList<>();
      next.outbounds().forEach(o -> outbounds.add(o.toOutbound()));
      if (nextPlan != null) {
        outbounds.addAll(nextPlan.outbounds());
      }
      conduit.update(router(next, nextPlan), outbounds);
    } catch (Exception e) {
      if (nextPlan != null) {
        nextPlan.close();
      }
      log.error("reload failed, keeping the running configuration: {}", oneLine(e));
      return false;
    }
    if (routePlan != null && routePlan != listenerPlan) {
      routePlan.close();
    }
    routePlan = nextPlan;
    if (nextPlan != null) {
      nextPlan.startHealthChecks(conduit, next.timeouts().dial());
    }
    List<String> restart = listenerChanges(current, next);
    ConduitConfig before = current;
    current = next;
    if (!restart.isEmpty()) {
      log.warn("reload: {} changed: restart needed (running listeners keep the old settings)",
          String.join(", ", restart));
    }
    if (!before.log().equals(next.log()) || !Objects.equals(before.admin(), next.admin())
        || !Objects.equals(before.cache(), next.cache()) || !Objects.equals(before.dns(), next.dns())) {
      log.warn("reload: log, admin, cache and dns changes need a restart");
    }
    log.info("reloaded: {} rule(s), {} outbound(s) apply to new connections", next.rules().size()
        + (nextPlan == null ? 0 : nextPlan.rules().size()), outbounds(next, nextPlan));
    return true;
  }

  private static int outbounds(ConduitConfig c, MeshPlan plan) {
    return c.outbounds().size() + (plan == null ? 0 : plan.outbounds().size());
  }

  /** What of the listeners differs between two configurations (these need a restart). */
  static List<String> listenerChanges(ConduitConfig a, ConduitConfig b) {
    List<String> changed = new ArrayList<>();
    if (!a.listeners().equals(b.listeners())) {
      changed.add("listeners");
    }
    MeshConfig ma = a.mesh().orElse(new MeshConfig(null, null));
    MeshConfig mb = b.mesh().orElse(new MeshConfig(null, null));
    if (!Objects.equals(clientListener(ma.client()), clientListener(mb.client())) || !a.capture().equals(b.capture())) {
      changed.add("client.enable/listen/forward_table/capture");
    }
    if (!Objects.equals(serverListener(ma.server()), serverListener(mb.server()))) {
      changed.add("server.enable/listen");
    }
    if (!a.timeouts().equals(b.timeouts()) || !a.tcpKeepAlive().equals(b.tcpKeepAlive()) || a.splice() != b.splice()) {
      changed.add("timeouts/tcp_keepalive/splice");
    }
    return changed;
  }

  private static List<Object> clientListener(MeshConfig.Client c) {
    return c == null || !c.enable() ? null : List.of(String.valueOf(c.listen()), c.forwardTable());
  }

  private static MeshConfig.Listen serverListener(MeshConfig.Server s) {
    return s == null || !s.enable() ? null : s.listen();
  }

  /**
   * The rules of the tunnel plan (each scoped to a tunnel listener, ending in a deny for it) before the
   * file's rules; the file's default, or reject when only tunnels run.
   */
  static Router router(ConduitConfig config, MeshPlan plan) {
    Router.Builder r = Router.builder();
    if (plan != null) {
      plan.rules().forEach(r::rule);
    }
    config.rules().forEach(rule -> r.rule(rule.toRule()));
    // a seed 000 mesh alone routes only by its forward table; own listeners (or the cache proxy) use the default
    r.defaultDecision(config.listeners().isEmpty() && config.cache().isEmpty() ? RouteDecision.reject("no rule")
        : config.defaultDecision());
    return r.build();
  }

  /** The access log observer the log config asks for ({@code log.access}), if any. */
  static Optional<AccessLog> accessLog(LogConfig log) {
    return switch (log.access()) {
      case "json" -> Optional.of(AccessLog.builder().format(AccessLog.Format.JSON).build());
      case "logfmt" -> Optional.of(AccessLog.builder().format(AccessLog.Format.LOGFMT).build());
      default -> Optional.empty();
    };
  }

  /** Whether to install the capture rules: client on and {@code capture: true}, or unset and root. */
  static boolean captureWanted(ConduitConfig config) {
    boolean client = config.mesh().map(MeshConfig::client).map(MeshConfig.Client::enable).orElse(false);
    if (!client) {
      return false;
    }
    return config.capture().orElseGet(() -> {
      boolean root = CaptureRules.isRoot();
      if (!root) {
        log.info("not root: the forward table's capture rules are not installed (connect to client.listen "
            + "directly, or run as root, or set client.capture: true)");
      }
      return root;
    });
  }

  private void shutdown() {
    if (admin != null) {
      admin.close();
    }
    Conduit c = conduit;
    if (c != null) {
      try {
        c.stop().get(current.timeouts().drain().toMillis() + 10_000, TimeUnit.MILLISECONDS);
        log.info("stopped");
      } catch (ExecutionException | TimeoutException e) {
        log.warn("stop did not finish cleanly: {}", e.toString());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (capture != null) {
      capture.clear();
    }
    if (cache != null) {
      cache.close();
    }
    Logging.flushAccessLog();
    synchronized (this) {
      if (routePlan != null && routePlan != listenerPlan) {
        routePlan.close();
      }
      if (listenerPlan != null) {
        listenerPlan.close();
      }
    }
    if (metrics != null) {
      metrics.close();
    }
    resources.close();
  }
}
