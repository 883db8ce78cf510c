package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.runtime.Service;
import dev.conduit.netfilter.CommandRunner;

/**
 * The egress route agent as a {@link Service}: installs the routes towards the egress gateways at start, keeps
 * them checked while it runs, removes them at close.
 */
public final class RouteAgentService implements Service {

  private final RouteAgentConfig config;
  private final CommandRunner runner;
  private volatile RouteAgent agent;

  /**
   * Creates the service.
   *
   * @param config the routes to keep
   * @param runner runs {@code ip}
   */
  public RouteAgentService(RouteAgentConfig config, CommandRunner runner) {
    this.config = requireNonNull(config, "config");
    this.runner = requireNonNull(runner, "runner");
  }

  @Override
  public String name() {
    return "egress-route";
  }

  @Override
  public void start() throws Exception {
    agent = RouteAgent.start(config, runner);
  }

  /** Returns the running agent, or throws {@link IllegalStateException} before {@link #start()}. */
  public RouteAgent agent() {
    RouteAgent a = agent;
    if (a == null) {
      throw new IllegalStateException("not started");
    }
    return a;
  }

  @Override
  public void close() throws Exception {
    RouteAgent a = agent;
    if (a != null) {
      a.close();
    }
  }

  @Override
  public String toString() {
    return "RouteAgentService{" + config.protocol() + "}";
  }
}
