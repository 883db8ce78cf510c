package dev.conduit.netfilter.mesh;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.runtime.Service;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.NetfilterException;

/**
 * {@link InboundEnforcement} as a {@link Service} of a mesh node ({@code server.enforce}): installs the table at
 * start (replacing what a crashed conduit left) and removes it at close.
 */
public final class InboundEnforcementService implements Service {

  private final InboundEnforcementConfig config;
  private final CommandRunner runner;
  private volatile InboundEnforcement enforcement;

  /**
   * Creates the service.
   *
   * @param config the ports to enforce
   * @param runner runs {@code nft}
   */
  public InboundEnforcementService(InboundEnforcementConfig config, CommandRunner runner) {
    this.config = requireNonNull(config, "config");
    this.runner = requireNonNull(runner, "runner");
  }

  @Override
  public String name() {
    return "mesh-enforce";
  }

  @Override
  public void start() throws NetfilterException {
    enforcement = InboundEnforcement.install(config, runner);
  }

  /** Returns the installed enforcement, or throws {@link IllegalStateException} before {@link #start()}. */
  public InboundEnforcement enforcement() {
    InboundEnforcement e = enforcement;
    if (e == null) {
      throw new IllegalStateException("not started");
    }
    return e;
  }

  @Override
  public void close() throws NetfilterException {
    InboundEnforcement e = enforcement;
    if (e != null) {
      e.close();
    }
  }

  @Override
  public String toString() {
    return "InboundEnforcementService{" + config + "}";
  }
}
