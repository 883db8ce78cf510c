package dev.conduit.cli.command;

import static java.util.Objects.requireNonNull;

import dev.conduit.cli.config.MeshNodeConfig;
import dev.conduit.core.Destination;
import dev.conduit.core.mesh.MembershipListener;
import dev.conduit.core.mesh.MeshMembership;
import dev.conduit.core.mesh.MeshTunnels;
import dev.conduit.netfilter.CaptureMode;
import dev.conduit.netfilter.CapturePlan;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.DriftRepair;
import dev.conduit.netfilter.ForwardTableCapture;
import dev.conduit.netfilter.IpFamily;
import dev.conduit.netfilter.NetfilterBackend;
import dev.conduit.netfilter.NetfilterException;
import dev.conduit.netfilter.TransparentCapture;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A mesh member's capture rules, kept in step with the membership: conduit's netfilter capture (prefix
 * {@value ForwardTableCapture#PREFIX}, ipsets of the other members' addresses, IPv4 and IPv6) redirecting locally
 * made connections to any of those addresses to the tunnel client listener(s), conduit's own sockets exempt by the
 * bypass mark. A member removed from the mesh leaves the sets at the next membership; with no member to tunnel to,
 * no rule is installed. The rules are removed at {@link #close()}.
 *
 * <p>Drift repair runs on the installed rules (rules flushed under conduit are applied again, counted on
 * {@code /metrics} as {@code conduit_capture_drift_*}); it applies the current plan, which
 * {@link TransparentCapture#update} replaces under the same lock, so a repair never brings back an old membership.
 *
 * <p>The manager's addresses ({@code dial.addresses}, {@code push}) are never captured, even when a member has one:
 * the control plane must reach the manager without a tunnel, or a node whose certificate expired or was revoked could
 * not renew or learn anything (its tunnel needs the very certificate it is renewing). Excluding them from the sets is
 * the simpler correct way: enrolment goes through the JDK's HttpClient, which offers no hook to set the bypass mark on
 * its sockets. The cost: connections to a member on the manager's address are not tunnelled (a warning says so).
 */
final class MeshCapture implements MembershipListener, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MeshCapture.class);

  private final MeshTunnels tunnels;
  private final Supplier<List<InetSocketAddress>> listeners;
  private final NetfilterBackend backend;
  private final CommandRunner runner;
  private final Supplier<List<InetAddress>> managerAddresses;
  private final MeterRegistry registry;
  private final Duration driftInterval;
  private TransparentCapture capture;
  private final Object counts = new Object(); // not this: close() waits for a repair that may be counting
  private DriftRepair repair; // guarded by counts
  private boolean closed;
  private Set<InetAddress> warnedExcluded = Set.of();
  // drift counts of captures removed since (the rules go when no member is left), so the counters never go down
  private final AtomicLong checksBefore = new AtomicLong();
  private final AtomicLong failuresBefore = new AtomicLong();
  private final Map<DriftRepair.Repair, Long> repairsBefore = new ConcurrentHashMap<>();

  /**
   * @param tunnels tells which addresses are tunnelled
   * @param listeners the client listeners' bound addresses (one per family), once the conduit runs
   * @param managerAddresses the manager's addresses, never captured (resolved at each membership)
   * @param registry where the drift meters go, or null without {@code /metrics}
   * @param driftInterval time between drift checks of the installed rules
   */
  MeshCapture(MeshTunnels tunnels, Supplier<List<InetSocketAddress>> listeners, NetfilterBackend backend,
      CommandRunner runner, Supplier<List<InetAddress>> managerAddresses, MeterRegistry registry,
      Duration driftInterval) {
    this.tunnels = requireNonNull(tunnels, "tunnels");
    this.listeners = requireNonNull(listeners, "listeners");
    this.backend = requireNonNull(backend, "backend");
    this.runner = requireNonNull(runner, "runner");
    this.managerAddresses = requireNonNull(managerAddresses, "managerAddresses");
    this.registry = registry;
    this.driftInterval = requireNonNull(driftInterval, "driftInterval");
    if (registry != null) {
      FunctionCounter.builder("conduit.capture.drift.checks", this, MeshCapture::driftChecks)
          .description("Checks of the installed capture rules").tag("prefix", ForwardTableCapture.PREFIX)
          .register(registry);
      FunctionCounter.builder("conduit.capture.drift.failures", this, MeshCapture::driftFailures)
          .description("Checks or repairs of the capture rules that a tool refused")
          .tag("prefix", ForwardTableCapture.PREFIX).register(registry);
    }
  }

  @Override
  public synchronized void membershipChanged(MeshMembership membership) throws NetfilterException {
    if (closed) {
      return;
    }
    List<InetAddress> manager = managerAddresses.get();
    List<InetAddress> addresses = tunnels.tunnelledAddresses(membership);
    Set<InetAddress> excluded = new java.util.HashSet<>(addresses);
    excluded.retainAll(manager);
    if (!excluded.isEmpty() && !excluded.equals(warnedExcluded)) {
      log.warn("mesh: {} not captured: the manager's address(es), reached without a tunnel", excluded);
    }
    warnedExcluded = excluded;
    CapturePlan plan = plan(addresses, manager, listeners.get());
    if (plan == null) {
      removeRules();
      return;
    }
    if (capture == null) {
      capture = TransparentCapture.install(plan, backend, runner);
      DriftRepair started = capture.startDriftRepair(driftInterval, what -> registerRepairs());
      synchronized (counts) {
        repair = started;
      }
    } else {
      capture.update(plan); // the running repair applies this plan from now on
    }
  }

  /**
   * The manager's addresses: the hosts of {@code dial.addresses} and {@code push}, names resolved now (a name that
   * does not resolve is skipped: nothing to exclude).
   */
  static List<InetAddress> managerAddresses(MeshNodeConfig config) {
    List<InetAddress> out = new ArrayList<>();
    List<String> endpoints = new ArrayList<>(config.dial());
    endpoints.addAll(config.push());
    for (String e : endpoints) {
      String host = Destination.parse(e, -1).host();
      try {
        for (InetAddress a : InetAddress.getAllByName(host)) {
          if (!out.contains(a)) {
            out.add(a);
          }
        }
      } catch (UnknownHostException | IllegalArgumentException ex) {
        log.debug("mesh: manager address {} does not resolve: {}", host, ex.getMessage());
      }
    }
    return out;
  }

  /** Checks of the capture rules so far, across re-installs. */
  long driftChecks() {
    synchronized (counts) {
      return checksBefore.get() + (repair == null ? 0 : repair.checks());
    }
  }

  /** Failed checks or repairs so far, across re-installs. */
  long driftFailures() {
    synchronized (counts) {
      return failuresBefore.get() + (repair == null ? 0 : repair.failures());
    }
  }

  /** Repairs so far by table and chain, across re-installs. */
  Map<DriftRepair.Repair, Long> driftRepairs() {
    synchronized (counts) {
      Map<DriftRepair.Repair, Long> out = new java.util.HashMap<>(repairsBefore);
      if (repair != null) {
        repair.repairsByChain().forEach((k, v) -> out.merge(k, v, Long::sum));
      }
      return out;
    }
  }

  /** A counter per table and chain repaired so far (registering one again returns the existing one). */
  private void registerRepairs() {
    if (registry == null) {
      return;
    }
    for (DriftRepair.Repair key : driftRepairs().keySet()) {
      FunctionCounter.builder("conduit.capture.drift.repairs", this, c -> c.driftRepairs().getOrDefault(key, 0L))
          .description("Capture rules found missing or altered under conduit and applied again, by table and chain")
          .tags("prefix", ForwardTableCapture.PREFIX, "table", key.table(), "chain", key.chain(), "change",
              key.change())
          .register(registry);
    }
  }

  /**
   * The plan for {@code addresses} but those of {@code manager}, or null when none of them can be captured to a
   * listener.
   */
  static CapturePlan plan(List<InetAddress> addresses, List<InetAddress> manager, List<InetSocketAddress> listeners) {
    if (listeners.isEmpty()) {
      return null;
    }
    CapturePlan.Builder b = CapturePlan.builder().prefix(ForwardTableCapture.PREFIX).mode(CaptureMode.REDIRECT)
        .targetPort(listeners.get(0).getPort()).bypassMark(ForwardTableCapture.BYPASS_MARK).localCapture(true)
        .gatewayCapture(false);
    EnumSet<IpFamily> families = EnumSet.noneOf(IpFamily.class);
    boolean wildcard = false;
    for (InetSocketAddress l : listeners) {
      if (l.getAddress().isAnyLocalAddress()) {
        wildcard = true;
      } else {
        families.add(l.getAddress() instanceof Inet4Address ? IpFamily.IPV4 : IpFamily.IPV6);
        b.dnatAddress(l.getAddress());
      }
    }
    if (wildcard) {
      families = EnumSet.allOf(IpFamily.class);
    }
    List<InetAddress> captured = new ArrayList<>();
    for (InetAddress a : addresses) {
      if (manager.contains(a)) {
        continue; // the control plane reaches the manager without a tunnel (see the class comment)
      }
      IpFamily f = a instanceof Inet4Address ? IpFamily.IPV4 : IpFamily.IPV6;
      if (families.contains(f)) {
        captured.add(a);
      } else {
        log.warn("mesh: {} is not captured: no client listener of its family (listen on [::1] or [::] too)", a);
      }
    }
    if (captured.isEmpty()) {
      return null;
    }
    b.families(families.toArray(IpFamily[]::new));
    captured.forEach(b::captureAddress);
    return b.build();
  }

  private void removeRules() throws NetfilterException {
    if (capture != null) {
      TransparentCapture c = capture;
      capture = null;
      try {
        c.close(); // stops the repair too
      } finally {
        synchronized (counts) { // its final counts carried over, so the counters never go down
          if (repair != null) {
            checksBefore.addAndGet(repair.checks());
            failuresBefore.addAndGet(repair.failures());
            repair.repairsByChain().forEach((k, v) -> repairsBefore.merge(k, v, Long::sum));
            repair = null;
          }
        }
      }
    }
  }

  /** Lists the installed rules and sets, for the admin endpoint and tests. */
  synchronized String show() throws NetfilterException {
    return capture == null ? "" : capture.show();
  }

  /** Removes the rules. */
  @Override
  public synchronized void close() {
    closed = true;
    try {
      removeRules();
    } catch (NetfilterException e) {
      log.warn("could not remove the mesh capture rules (run 'conduit netfilter clear'): {}", e.getMessage());
    }
  }
}
