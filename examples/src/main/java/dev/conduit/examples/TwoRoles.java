package dev.conduit.examples;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitBuilder;
import dev.conduit.core.Listener;
import dev.conduit.core.admin.AdminResponse;
import dev.conduit.core.admin.AdminServer;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import dev.conduit.core.runtime.ConduitRuntime;
import dev.conduit.core.runtime.ConduitService;
import dev.conduit.core.runtime.ConfigSections;
import dev.conduit.core.runtime.ReloadOutcome;
import dev.conduit.core.runtime.SectionKey;
import dev.conduit.core.runtime.Service;
import dev.conduit.mitm.MitmServer;
import dev.conduit.mitm.MitmService;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Hosts two conduit roles in one JVM service with one runtime, the way the {@code conduit} command
 * does: a forward proxy whose blocked networks are its reloadable section, and the caching MITM proxy;
 * one admin endpoint where each role mounts its routes; one stop that drains both.
 *
 * <pre>
 * java -cp examples.jar dev.conduit.examples.TwoRoles /tmp/certs /tmp/cache
 * curl -x http://127.0.0.1:8080 http://example.org/
 * curl --cacert /tmp/certs/ca.crt -x http://127.0.0.1:8000 https://example.org/some.tar.gz
 * curl http://127.0.0.1:9090/runtime
 * </pre>
 */
public final class TwoRoles {
  private TwoRoles() {}

  /**
   * The forward proxy role's section: the networks it refuses.
   *
   * @param blockedCidrs CIDRs such as {@code 169.254.0.0/16}
   */
  public record ProxySettings(List<String> blockedCidrs) {
    /** Copies the list. */
    public ProxySettings {
      blockedCidrs = List.copyOf(requireNonNull(blockedCidrs, "blockedCidrs"));
    }
  }

  /** The forward proxy role's section key. */
  public static final SectionKey<ProxySettings> PROXY = SectionKey.of("proxy", ProxySettings.class);

  // README-begin: two roles
  /**
   * Builds the runtime: the cache (opened now: its CA and files), its conduit, the forward proxy and its
   * rules, and the admin endpoint. Start it; reload it with new {@link ConfigSections}; stop it.
   *
   * @param cachedPaths regexes of the URL paths the cache keeps, e.g. {@code \.deb$}
   */
  public static ConduitRuntime build(String proxyListen, String cacheListen, String adminListen, Path certDir,
      Path cacheDir, List<String> cachedPaths, ProxySettings settings) throws IOException {
    MitmServer cache = MitmServer.builder().certDir(certDir).fileDir(cacheDir).bind(cacheListen)
        .filters(cachedPaths).build();
    ConduitBuilder cacheConduit = Conduit.builder();
    cache.listeners().forEach(cacheConduit::listener);
    Conduit proxy = Conduit.builder()
        .listener(Listener.builder("http").bind(proxyListen).protocol(InboundProtocols.http()).build())
        .router(router(settings))
        .build();
    return ConduitRuntime.builder()
        .service(MitmService.of(cache))                          // role 1: opened first, closed last
        .service(new ConduitService("cache-proxy", cacheConduit.build()))
        .service(new ConduitService("proxy", proxy))             // role 2
        .service(new ProxyRules(proxy, settings))                // reloads role 2's section
        .admin(AdminServer.builder().bind(adminListen))          // /runtime, /proxy, ...
        .sections(ConfigSections.builder().section(PROXY, settings).build())
        .drainTimeout(Duration.ofSeconds(30))
        .build();
  }
  // README-end: two roles

  /** The forward proxy's rules: its blocked networks, everything else direct. */
  static Router router(ProxySettings settings) {
    Router.Builder r = Router.builder();
    for (String cidr : settings.blockedCidrs()) {
      r.rule(Rule.builder("blocked " + cidr).destinationCidr(cidr)
          .decision(RouteDecision.reject("blocked by the proxy role")).build());
    }
    return r.defaultDecision(RouteDecision.direct()).build();
  }

  /** The proxy role's section as a service: new rules on reload, its settings on {@code GET /proxy}. */
  static final class ProxyRules implements Service {
    private final Conduit proxy;
    private volatile ProxySettings settings;

    ProxyRules(Conduit proxy, ProxySettings settings) {
      this.proxy = proxy;
      this.settings = settings;
    }

    @Override
    public String name() {
      return "proxy-rules";
    }

    @Override
    public void start() {}

    @Override
    public ReloadOutcome reload(ConfigSections sections) {
      ProxySettings next = sections.get(PROXY).orElse(new ProxySettings(List.of()));
      if (next.equals(settings)) {
        return ReloadOutcome.unchanged();
      }
      proxy.update(router(next), List.of());
      settings = next;
      return ReloadOutcome.applied(next.blockedCidrs().size() + " blocked network(s)");
    }

    @Override
    public void mount(AdminServer.Builder admin) {
      admin.route("/proxy", request -> AdminResponse.json(200,
          "{\"blocked\":" + settings.blockedCidrs().stream().map(c -> "\"" + c + "\"").toList() + "}"));
    }

    @Override
    public void close() {}
  }

  /** Runs until the JVM is told to stop (SIGTERM): then drains both roles and exits. */
  public static void main(String[] args) throws Exception {
    ConduitRuntime runtime = build("127.0.0.1:8080", "127.0.0.1:8000", "127.0.0.1:9090", Path.of(args[0]),
        Path.of(args[1]), List.of("\\.(?:deb|rpm|tar|tgz|gz|xz|zip)$"), new ProxySettings(List.of("169.254.0.0/16"))).start();
    Runtime.getRuntime().addShutdownHook(new Thread(runtime::stop));
    System.out.println("proxy on 127.0.0.1:8080, cache on 127.0.0.1:8000, admin on 127.0.0.1:9090");
    Thread.currentThread().join();
  }
}
