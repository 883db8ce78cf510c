package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.net.IpAddress;
import dev.conduit.core.net.IpPrefix;
import dev.conduit.netfilter.Command;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.NetfilterException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Routes the public IPv4 and IPv6 prefixes via an egress gateway, in the main routing table: each is
 * more specific than the default route, so it wins, while private, link-local and the host's own
 * networks keep their routes (they are not public, so never routed). The routes carry a protocol
 * number of their own, so the agent lists, restores and removes exactly its routes. A check every
 * {@link RouteAgentConfig#checkInterval()} restores routes that disappeared (a network restart, an
 * {@code ip route flush}) and deletes routes of its protocol it does not want (a crashed agent's);
 * {@link #close()} removes them. Blocking (runs {@code ip}); thread-safe.
 */
public final class RouteAgent implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(RouteAgent.class);

  private final RouteAgentConfig config;
  private final CommandRunner runner;
  private ScheduledExecutorService checks;
  private boolean closed;

  private RouteAgent(RouteAgentConfig config, CommandRunner runner) {
    this.config = config;
    this.runner = runner;
  }

  /**
   * Checks that each gateway is on-link, installs the routes and starts the periodic check.
   *
   * @param config the config
   * @param runner runs {@code ip}
   * @return the running agent
   * @throws NetfilterException when a gateway is not on-link or the routes cannot be installed
   */
  public static RouteAgent start(RouteAgentConfig config, CommandRunner runner) throws NetfilterException {
    RouteAgent agent = new RouteAgent(requireNonNull(config, "config"), requireNonNull(runner, "runner"));
    for (Optional<IpAddress> gw : List.of(config.gateway4(), config.gateway6())) {
      if (gw.isPresent()) {
        agent.requireOnLink(gw.get());
      }
    }
    agent.check();
    agent.checks = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "conduit-route-agent");
      t.setDaemon(true);
      return t;
    });
    long every = config.checkInterval().toMillis();
    agent.checks.scheduleWithFixedDelay(() -> {
      try {
        int restored = agent.check();
        if (restored > 0) {
          log.warn("route agent: restored {} route(s) via the egress gateway that had disappeared", restored);
        }
      } catch (NetfilterException | RuntimeException e) {
        log.warn("route agent: cannot restore routes (retrying in {} ms): {}", every, e.getMessage());
      }
    }, every, every, TimeUnit.MILLISECONDS);
    return agent;
  }

  /**
   * Fails unless the gateway is directly reachable on a link of this host (a route via a gateway needs
   * its next hop on-link).
   *
   * @param gateway the gateway address
   * @throws NetfilterException with what {@code ip route get} found instead
   */
  void requireOnLink(IpAddress gateway) throws NetfilterException {
    String family = gateway.isIpv4() ? "-4" : "-6";
    CommandRunner.Result r = runner.run(List.of("ip", family, "route", "get", gateway.toString()), "");
    String how = (r.stdout() + r.stderr()).strip().replaceAll("\\s+", " ");
    if (!r.ok()) {
      throw new NetfilterException("egress gateway " + gateway + " is unreachable from this host (" + how
          + "); the route agent must run on a network the gateway is on");
    }
    if (how.startsWith("local ")) {
      throw new NetfilterException("egress gateway " + gateway + " is an address of this host itself");
    }
    if (how.contains(" via ")) {
      throw new NetfilterException("egress gateway " + gateway + " is not on-link: this host reaches it "
          + how.substring(how.indexOf(" via ") + 1) + "; run the route agent on a host in the gateway's"
          + " subnet (routes via a gateway need it on a directly connected network)");
    }
  }

  /**
   * Installs every route that is missing now.
   *
   * @return the number of routes (re)installed
   * @throws NetfilterException when {@code ip} fails
   */
  public synchronized int check() throws NetfilterException {
    if (closed) {
      return 0;
    }
    int installed = 0;
    for (boolean v4 : List.of(true, false)) {
      Optional<IpAddress> gw = v4 ? config.gateway4() : config.gateway6();
      if (gw.isEmpty()) {
        continue;
      }
      Set<IpPrefix> present = installed(v4);
      StringBuilder batch = new StringBuilder();
      // routes of this protocol that are not wanted (left by an agent that crashed with other prefixes)
      Set<IpPrefix> stale = new TreeSet<>(present);
      config.prefixes(v4).forEach(stale::remove);
      for (IpPrefix p : stale) {
        batch.append("route del ").append(p).append(" proto ").append(config.protocol()).append('\n');
      }
      int n = 0;
      for (IpPrefix p : config.prefixes(v4)) {
        if (present.contains(p)) {
          continue;
        }
        batch.append("route replace ").append(p).append(" via ").append(gw.get()).append(" proto ")
            .append(config.protocol());
        config.device().ifPresent(d -> batch.append(" dev ").append(d));
        batch.append('\n');
        n++;
      }
      if (n > 0 || !stale.isEmpty()) {
        runner.run(Command.withInput(batch.toString(), "ip", v4 ? "-4" : "-6", "-batch", "-"));
        installed += n;
      }
    }
    return installed;
  }

  /**
   * Returns the routes of the agent's protocol that are installed now.
   *
   * @param ipv4 the family
   * @return their prefixes
   * @throws NetfilterException when {@code ip} fails
   */
  public Set<IpPrefix> installed(boolean ipv4) throws NetfilterException {
    String out = runner.run(Command.of("ip", ipv4 ? "-4" : "-6", "route", "show", "table", "main",
        "proto", Integer.toString(config.protocol()))).stdout();
    Set<IpPrefix> present = new TreeSet<>();
    for (String line : out.split("\n")) {
      String first = line.strip().split("\\s+")[0];
      if (!first.isEmpty()) {
        present.add(IpPrefix.parse(first));
      }
    }
    return present;
  }

  /** Returns the config. */
  public RouteAgentConfig config() {
    return config;
  }

  /**
   * Stops checking and removes the agent's routes (only those of its protocol).
   *
   * @throws NetfilterException when {@code ip} fails
   */
  @Override
  public synchronized void close() throws NetfilterException {
    if (closed) {
      return;
    }
    closed = true;
    if (checks != null) {
      checks.shutdownNow();
    }
    List<NetfilterException> failures = new ArrayList<>();
    for (String family : List.of("-4", "-6")) {
      try {
        runner.run(Command.of("ip", family, "route", "flush", "table", "main", "proto",
            Integer.toString(config.protocol())));
      } catch (NetfilterException e) {
        failures.add(e);
      }
    }
    if (!failures.isEmpty()) {
      throw failures.get(0);
    }
  }

  @Override
  public String toString() {
    return "RouteAgent[" + config + "]";
  }
}
