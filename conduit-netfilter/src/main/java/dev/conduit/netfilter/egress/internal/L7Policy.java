package dev.conduit.netfilter.egress.internal;

import dev.conduit.core.net.IpAddress;
import dev.conduit.netfilter.egress.NameAllowlist;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** What the L7 check's handler asks of the gateway for each flow. */
public interface L7Policy {

  /** Returns the names in force now. */
  NameAllowlist names();

  /**
   * Resolves a name below a wildcard to the addresses the gateway may dial: only public ones (or in the
   * space explicitly allowed).
   *
   * @param executor the connection's event loop, where the future completes
   * @param name the name
   * @return the addresses (empty when none is allowed)
   */
  Future<List<IpAddress>> resolve(EventExecutor executor, String name);

  /** Returns whether refusals only count: the flow passes all the same (report-only mode). */
  boolean reportOnly();

  /** Returns the most bytes read for a name. */
  int peekLimit();

  /** Returns how long a client may take to send them. */
  Duration peekTimeout();

  /**
   * Records a refused flow.
   *
   * @param destination its original destination
   * @param port its port
   * @param sni its TLS server name
   * @param host its HTTP Host
   * @param reason why
   */
  void denied(IpAddress destination, int port, Optional<String> sni, Optional<String> host, String reason);
}
