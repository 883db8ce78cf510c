package dev.conduit.cli.command;

import static java.util.Objects.requireNonNull;

import dev.conduit.cli.config.ConduitConfig;
import dev.conduit.cli.config.Durations;
import dev.conduit.core.Conduit;
import dev.conduit.core.admin.AdminServer;
import dev.conduit.core.inbound.OriginalDestinationResolver;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.runtime.ConfigSections;
import dev.conduit.core.runtime.ReloadOutcome;
import dev.conduit.core.runtime.Service;
import dev.conduit.cli.config.MeshConfig;
import dev.conduit.core.tunnel.MeshPlan;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy role's routes and mesh plan as a service: at start, the plan's tunnel health checks; on
 * reload, the file's rules and outbounds plus a new plan's apply to new connections (established ones
 * keep theirs), and listener changes are reported as needing a restart; at close, the TLS file watches of
 * a reloaded plan stop. Mounts {@code /config} (the configuration in force, secrets masked).
 */
final class ProxyRoutes implements Service {
  private static final Logger log = LoggerFactory.getLogger("conduit");

  /** How often the tunnels' PEM files are checked for changes. */
  static final Duration TLS_CHECK_INTERVAL = Duration.ofSeconds(10);

  private final Conduit conduit;
  private final OriginalDestinationResolver resolver;
  private final MeshPlan listenerPlan; // built the listeners: its TLS files stay watched until close
  private MeshPlan routePlan; // built the outbounds in use (the listener plan until a reload)
  private volatile ConduitConfig current;
  private final List<BiConsumer<Router, List<Outbound>>> followers = new ArrayList<>();

  ProxyRoutes(Conduit conduit, ConduitConfig config, MeshPlan listenerPlan, OriginalDestinationResolver resolver) {
    this.conduit = requireNonNull(conduit, "conduit");
    this.current = requireNonNull(config, "config");
    this.listenerPlan = listenerPlan;
    this.routePlan = listenerPlan;
    this.resolver = requireNonNull(resolver, "resolver");
  }

  /** Adds a service that takes a reload's rules and outbounds too (the TPROXY UDP relay). */
  synchronized ProxyRoutes follow(BiConsumer<Router, List<Outbound>> follower) {
    followers.add(requireNonNull(follower, "follower"));
    return this;
  }

  @Override
  public String name() {
    return "routes";
  }

  @Override
  public synchronized void start() {
    ConduitConfig config = current;
    if (listenerPlan != null) {
      listenerPlan.startHealthChecks(conduit, config.timeouts().dial());
    }
    log.info("started: {} listener(s), {} outbound(s), {} rule(s), default {}; timeouts dial {} negotiation {}"
            + " drain {}", conduit.listeners().size(), outbounds(config, routePlan), rules(config, routePlan),
        config.defaultDecision(), Durations.format(config.timeouts().dial()),
        Durations.format(config.timeouts().negotiation()), Durations.format(config.timeouts().drain()));
  }

  @Override
  public synchronized ReloadOutcome reload(ConfigSections sections) throws Exception {
    ConduitConfig next = sections.get(ProxyRole.CONFIG).orElseThrow(
        () -> new IllegalStateException("no proxy configuration in the reloaded sections"));
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
      Router nextRouter = router(next, nextPlan);
      conduit.update(nextRouter, outbounds);
      followers.forEach(f -> f.accept(nextRouter, outbounds));
    } catch (Exception e) {
      if (nextPlan != null) {
        nextPlan.close();
      }
      throw e;
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
    if (!before.log().equals(next.log()) || !Objects.equals(before.admin(), next.admin())
        || !Objects.equals(before.cache(), next.cache()) || !Objects.equals(before.dns(), next.dns())) {
      restart.add("log/admin/cache/dns");
    }
    String applied = rules(next, nextPlan) + " rule(s), " + outbounds(next, nextPlan)
        + " outbound(s) apply to new connections";
    if (restart.isEmpty()) {
      return ReloadOutcome.applied(applied);
    }
    log.info("reloaded: {}", applied);
    return ReloadOutcome.restartNeeded(String.join(", ", restart));
  }

  @Override
  public void mount(AdminServer.Builder admin) {
    admin.config(() -> current.describe(), "text/yaml; charset=utf-8");
  }

  @Override
  public synchronized void close() {
    if (routePlan != null && routePlan != listenerPlan) {
      routePlan.close();
    }
    routePlan = null; // the listener plan is the mesh-plan service's
  }

  private static int outbounds(ConduitConfig c, MeshPlan plan) {
    return c.outbounds().size() + (plan == null ? 0 : plan.outbounds().size());
  }

  private static int rules(ConduitConfig c, MeshPlan plan) {
    return c.rules().size() + (plan == null ? 0 : plan.rules().size());
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

  /** The client listener's settings that need a restart; null without an enabled client. */
  private record ClientListener(String listen, List<MeshConfig.Forward> forwardTable) {}

  private static ClientListener clientListener(MeshConfig.Client c) {
    return c == null || !c.enable() ? null : new ClientListener(String.valueOf(c.listen()), c.forwardTable());
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
}
