package dev.conduit.cli.command;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.mesh.MembershipListener;
import dev.conduit.core.mesh.MeshMembership;
import dev.conduit.core.mesh.MeshTunnels;
import dev.conduit.netfilter.CaptureMode;
import dev.conduit.netfilter.CapturePlan;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.ForwardTableCapture;
import dev.conduit.netfilter.IpFamily;
import dev.conduit.netfilter.NetfilterBackend;
import dev.conduit.netfilter.NetfilterException;
import dev.conduit.netfilter.TransparentCapture;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A mesh member's capture rules, kept in step with the membership: conduit's netfilter capture (prefix
 * {@value ForwardTableCapture#PREFIX}, ipsets of the other members' addresses, IPv4 and IPv6) redirecting locally
 * made connections to any of those addresses to the tunnel client listener(s), conduit's own sockets exempt by the
 * bypass mark. A member removed from the mesh leaves the sets at the next membership; with no member to tunnel to,
 * no rule is installed. The rules are removed at {@link #close()}.
 */
final class MeshCapture implements MembershipListener, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MeshCapture.class);

  private final MeshTunnels tunnels;
  private final Supplier<List<InetSocketAddress>> listeners;
  private final NetfilterBackend backend;
  private final CommandRunner runner;
  private TransparentCapture capture;
  private boolean closed;

  /**
   * @param tunnels tells which addresses are tunnelled
   * @param listeners the client listeners' bound addresses (one per family), once the conduit runs
   */
  MeshCapture(MeshTunnels tunnels, Supplier<List<InetSocketAddress>> listeners, NetfilterBackend backend,
      CommandRunner runner) {
    this.tunnels = requireNonNull(tunnels, "tunnels");
    this.listeners = requireNonNull(listeners, "listeners");
    this.backend = requireNonNull(backend, "backend");
    this.runner = requireNonNull(runner, "runner");
  }

  @Override
  public synchronized void membershipChanged(MeshMembership membership) throws NetfilterException {
    if (closed) {
      return;
    }
    List<InetAddress> addresses = tunnels.tunnelledAddresses(membership);
    CapturePlan plan = plan(addresses, listeners.get());
    if (plan == null) {
      removeRules();
      return;
    }
    if (capture == null) {
      capture = TransparentCapture.install(plan, backend, runner);
    } else {
      capture.update(plan);
    }
  }

  /** The plan for {@code addresses}, or null when none of them can be captured to a listener. */
  static CapturePlan plan(List<InetAddress> addresses, List<InetSocketAddress> listeners) {
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
      c.close();
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
