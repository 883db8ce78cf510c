package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.runtime.Service;

/**
 * The egress gateway's L7 check as a {@link Service}: starts the listener (before the gateway's table, whose
 * divert rules send flows to it, is installed: give it to the runtime first), stops it at close.
 */
public final class EgressL7CheckService implements Service {

  private final EgressL7Check.Builder builder;
  private volatile EgressL7Check check;

  /**
   * Creates the service.
   *
   * @param builder the check's settings
   */
  public EgressL7CheckService(EgressL7Check.Builder builder) {
    this.builder = requireNonNull(builder, "builder");
  }

  @Override
  public String name() {
    return "egress-l7-check";
  }

  @Override
  public void start() throws Exception {
    check = builder.build();
  }

  /** Returns the running check, or throws {@link IllegalStateException} before {@link #start()}. */
  public EgressL7Check check() {
    EgressL7Check c = check;
    if (c == null) {
      throw new IllegalStateException("not started");
    }
    return c;
  }

  @Override
  public void close() {
    EgressL7Check c = check;
    if (c != null) {
      c.close();
    }
  }

  @Override
  public String toString() {
    return "EgressL7CheckService{" + check + "}";
  }
}
