package dev.conduit.cli.command;

import dev.conduit.cli.CliContext;
import dev.conduit.cli.CliException;
import dev.conduit.cli.config.AdminConfig;
import dev.conduit.cli.config.ConduitConfig;
import dev.conduit.cli.config.ListenerConfig;
import dev.conduit.cli.config.LogConfig;
import dev.conduit.cli.logging.Logging;
import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitBuilder;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.admin.AdminServer;
import dev.conduit.core.inbound.OriginalDestinationResolver;
import dev.conduit.core.observe.AccessLog;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.runtime.ConduitRuntime;
import dev.conduit.core.runtime.ConduitService;
import dev.conduit.core.runtime.ConfigSections;
import dev.conduit.core.runtime.SectionKey;
import dev.conduit.core.runtime.Service;
import dev.conduit.core.runtime.ServiceStartException;
import dev.conduit.cli.config.MeshConfig;
import dev.conduit.core.tunnel.MeshPlan;
import dev.conduit.mitm.MitmServer;
import dev.conduit.netfilter.CaptureService;
import dev.conduit.netfilter.ForwardTableCapture;
import dev.conduit.netfilter.NetfilterBackend;
import dev.conduit.netfilter.TransparentSockets;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy role ({@code proxy}, {@code run}): the runtime for a configuration, its services in start
 * order: the event loops, the metrics, the cache (seed 004), the conduit, its routes and mesh plan
 * (seed 000), the forward table's capture, then the admin endpoint.
 */
final class ProxyRole {
  private static final Logger log = LoggerFactory.getLogger("conduit");

  /** The proxy role's section: the whole file as read by the config loader. */
  static final SectionKey<ConduitConfig> CONFIG = SectionKey.of("conduit", ConduitConfig.class);

  /** How often the capture rules are checked for drift (and applied again when they vanished). */
  static final Duration DRIFT_CHECK_INTERVAL = Duration.ofSeconds(2);

  /** How much longer than the conduit's own drain timeout the runtime waits at stop. */
  static final Duration DRAIN_MARGIN = Duration.ofSeconds(10);

  private ProxyRole() {}

  /** The runtime's configuration for {@code config}: the roles' sections, and the whole file for the routes. */
  static ConfigSections sections(ConduitConfig config) {
    return config.sections().toBuilder().section(CONFIG, config).build();
  }

  /**
   * Runs {@code config} until stopped.
   *
   * @param reread re-reads the configuration on reload (SIGHUP), or null when there is nothing to re-read
   */
  static int run(ConduitConfig config, CliContext context, Callable<ConduitConfig> reread)
      throws InterruptedException {
    Logging.configure(config.log());
    ConduitRuntime.Builder runtime = ConduitRuntime.builder().sections(sections(config))
        .drainTimeout(config.timeouts().drain().plus(DRAIN_MARGIN));
    assemble(config, context, runtime);
    return Lifecycle.run(runtime.build(), context, reread == null ? null : () -> sections(reread.call()),
        ProxyRole::startError);
  }

  /** Adds the role's services to {@code runtime}; returns the conduit. Closes what it opened on failure. */
  private static Conduit assemble(ConduitConfig config, CliContext context, ConduitRuntime.Builder runtime) {
    if (config.meshNode().isPresent()) {
      return MeshNodeRole.assemble(config, context, runtime); // mesh mode: the manager supplies peers and certificates
    }
    ConduitResources resources = config.toResourcesBuilder().build();
    MeshPlan plan = null;
    MitmServer cache = null;
    try {
      boolean captureOn = captureWanted(config);
      if (captureOn && !resources.isNativeTransport()) {
        // SO_MARK and SO_ORIGINAL_DST are set/read on epoll sockets only
        throw CliException.failure("cannot capture the forward table: the native epoll transport is not"
            + " available (expected on Linux x86_64/aarch64; or set client.capture: false)");
      }
      OriginalDestinationResolver resolver = captureOn ? ForwardTableCapture.resolver()
          : OriginalDestinationResolver.NONE;
      if (config.runsMesh()) {
        plan = config.mesh().orElseThrow().plan(resolver, ProxyRoutes.TLS_CHECK_INTERVAL);
      }
      if (config.cache().isPresent()) {
        cache = CacheRole.open(config.cache().get(), CacheRole.CACHE_LISTENER, CacheRole.CACHE_TLS_LISTENER);
      }
      dev.conduit.core.route.Router router = ProxyRoutes.router(config, plan);
      ConduitBuilder b = config.toConduitBuilder().resources(resources).router(router);
      if (plan != null) {
        plan.listeners().forEach(b::listener);
        plan.outbounds().forEach(b::outbound);
      }
      if (cache != null) {
        cache.listeners().forEach(b::listener);
      }
      accessLog(config.log()).ifPresent(b::observer);
      MetricsService metrics = config.admin().isPresent() ? new MetricsService(b, resources) : null;
      if (captureOn) {
        b.outboundSocketCustomizer(TransparentSockets.outboundMark(ForwardTableCapture.BYPASS_MARK));
      }
      Conduit conduit = b.build();

      runtime.service(Service.closing("event-loops", resources));
      if (metrics != null) {
        runtime.service(metrics.of(conduit));
      }
      if (cache != null) {
        runtime.service(CacheRole.service(cache, metrics).build()); // the /cache admin route and meters
      }
      if (plan != null) {
        runtime.service(Service.closing("mesh-plan", plan)); // the listeners' TLS files stay watched until the end
        if (metrics != null) {
          MeshGuards.gaugeCertificates(metrics, plan);
        }
      }
      MeshGuards.enforcement(config).ifPresent(runtime::service); // server.enforce: before the listeners open
      runtime.service(new ConduitService(conduit));
      ProxyRoutes routes = new ProxyRoutes(conduit, config, plan, resolver);
      runtime.service(routes);
      List<Outbound> outbounds = new ArrayList<>();
      config.outbounds().forEach(o -> outbounds.add(o.toOutbound()));
      if (plan != null) {
        outbounds.addAll(plan.outbounds());
      }
      for (ListenerConfig l : config.listeners()) {
        if (l.type() == ListenerConfig.Type.TPROXY && l.udp()) { // UDP on the TPROXY address, same rules as TCP
          TproxyUdpService udp = new TproxyUdpService(l.name() + "-udp", l.listen(), router, outbounds,
              metrics == null ? null : metrics.registry());
          routes.follow(udp::update); // a reload's rules apply to new flows
          runtime.service(udp);
        }
      }
      if (captureOn) {
        runtime.service(captureService(plan, conduit, context, metrics == null ? null : metrics.registry()));
      }
      config.admin().ifPresent(a -> runtime.admin(admin(a)));
      return conduit;
    } catch (IllegalArgumentException | IllegalStateException e) {
      close(plan, cache, resources);
      throw CliException.usage(e.getMessage());
    } catch (IOException e) {
      close(plan, cache, resources);
      throw CliException.failure(Lifecycle.io(e), e);
    } catch (RuntimeException e) {
      close(plan, cache, resources);
      throw e;
    }
  }

  private static void close(MeshPlan plan, MitmServer cache, ConduitResources resources) {
    if (plan != null) {
      plan.close();
    }
    if (cache != null) {
      cache.close();
    }
    resources.close();
  }

  /** The forward table's capture rules, planned once the client listener is bound. */
  private static CaptureService captureService(MeshPlan plan, Conduit conduit, CliContext context,
      io.micrometer.core.instrument.MeterRegistry registry) {
    return CaptureService.builder(() -> {
      try {
        return ForwardTableCapture.plan(plan.captureEntries(), conduit.address(MeshPlan.CLIENT_LISTENER));
      } catch (IllegalArgumentException e) {
        throw CliException.usage("client.forward_table: " + e.getMessage());
      }
    }, NetfilterBackend.iptables(context.commandRunner()), context.commandRunner())
        // rules flushed under conduit (iptables -F, a firewalld reload) are applied again, each repair logged
        // and counted by table and chain on /metrics
        .watcher(c -> DriftMeters.start(c, DRIFT_CHECK_INTERVAL, registry))
        .description(p -> plan.captureEntries().size() + " forward_table entr"
            + (plan.captureEntries().size() == 1 ? "y" : "ies") + " redirected to "
            + conduit.address(MeshPlan.CLIENT_LISTENER))
        .build();
  }

  /** The admin endpoint of an {@code admin} section (or {@code --admin-listen}). */
  static AdminServer.Builder admin(AdminConfig a) {
    AdminServer.Builder ab;
    try {
      ab = AdminServer.builder().bind(a.listen())
          .route(dev.conduit.cli.logging.LoggersRoute.PREFIX, new dev.conduit.cli.logging.LoggersRoute());
      Optional<String> token = a.token();
      if (a.tokenFile().isPresent()) {
        token = Optional.of(Files.readString(Path.of(a.tokenFile().get()), StandardCharsets.UTF_8).strip());
      }
      token.ifPresent(ab::token);
    } catch (IllegalArgumentException e) {
      throw CliException.usage("admin: " + e.getMessage());
    } catch (IOException e) {
      throw CliException.failure("admin.token_file: " + Lifecycle.io(e), e);
    }
    if (a.tlsCert().isPresent()) {
      Path cert = Path.of(a.tlsCert().get());
      try {
        // without client_ca the trust roots go unused (no client is asked for a certificate)
        ab.tls(dev.conduit.core.pki.TlsMaterial.load(cert, Path.of(a.tlsKey().orElseThrow()),
            a.clientCa().map(Path::of).orElse(cert)),
            AdminServer.ClientCertificates.valueOf(a.clientCertificates().toUpperCase(java.util.Locale.ROOT)));
      } catch (IOException | IllegalArgumentException e) {
        throw CliException.failure("admin.tls_cert/tls_key/client_ca: " + e.getMessage(), e);
      }
    }
    return ab;
  }

  private static CliException startError(ServiceStartException e) {
    if (e.service().equals("capture") && !(e.getCause() instanceof CliException)) {
      return CliException.failure("cannot install the forward table's capture rules: " + e.getCause().getMessage()
          + " (or set client.capture: false)", e.getCause());
    }
    if (e.service().equals("tproxy-udp")) {
      return CliException.failure("cannot relay UDP on the TPROXY listener: " + e.getCause().getMessage(), e.getCause());
    }
    if (e.service().equals("admin") && e.getCause() instanceof IOException io) {
      return CliException.failure(Lifecycle.io(io), io);
    }
    return Lifecycle.startError(e);
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
      boolean root = isRoot();
      if (!root) {
        log.info("not root: the forward table's capture rules are not installed (connect to client.listen "
            + "directly, or run as root, or set client.capture: true)");
      }
      return root;
    });
  }

  /** Whether the process runs with user id 0 (the owner of /proc/self is the effective user). */
  static boolean isRoot() {
    try {
      return Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return false;
    }
  }
}
