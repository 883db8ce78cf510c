package dev.conduit.cli.command;

import dev.conduit.cli.CliException;
import dev.conduit.core.inbound.OriginalDestinationResolver;
import dev.conduit.core.outbound.SocketCustomizer;
import dev.conduit.core.tunnel.ForwardEntry;
import dev.conduit.core.tunnel.MeshPlan;
import dev.conduit.netfilter.CaptureMode;
import dev.conduit.netfilter.CapturePlan;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.IpFamily;
import dev.conduit.netfilter.NetfilterBackend;
import dev.conduit.netfilter.NetfilterException;
import dev.conduit.netfilter.Prerequisites;
import dev.conduit.netfilter.SocketOptionException;
import dev.conduit.netfilter.SocketOptions;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The netfilter rules that send connections matching seed 000's forward table to the tunnel client's
 * listener, as seed 000 installs them: REDIRECT (DNAT to the listener's loopback address when it binds
 * one) of locally made connections (OUTPUT), conduit's own outbound sockets exempt by the bypass mark
 * {@value #BYPASS_MARK_TEXT}. Installed after the conduit binds, removed when it stops; leftovers of a
 * crashed run are replaced (the backend's apply is idempotent).
 */
final class CaptureRules {
  private static final Logger log = LoggerFactory.getLogger("conduit");

  /** The chain/set prefix of the tunnel client's rules. */
  static final String PREFIX = "CONDUIT";
  /** Seed 000's bypass mark, set on every outbound socket. */
  static final int BYPASS_MARK = 0x5a4;
  static final String BYPASS_MARK_TEXT = "0x5a4";

  /** Reads SO_ORIGINAL_DST; connections that were not redirected (or untracked) have none. */
  static final OriginalDestinationResolver RESOLVER = channel -> {
    try {
      return Optional.of(SocketOptions.originalDestination(channel));
    } catch (SocketOptionException e) {
      return Optional.empty();
    }
  };

  private final NetfilterBackend backend;

  private CaptureRules(NetfilterBackend backend) {
    this.backend = backend;
  }

  /** Sets the bypass mark on outbound sockets, so the capture rules skip conduit's own connections. */
  static SocketCustomizer markSockets(int mark) {
    return channel -> SocketOptions.setMark(channel, mark);
  }

  /** The capture plan for a forward table and the client listener's bound address. */
  static CapturePlan plan(List<ForwardEntry> entries, InetSocketAddress listener) {
    CapturePlan.Builder b = CapturePlan.builder().prefix(PREFIX).mode(CaptureMode.REDIRECT)
        .targetPort(listener.getPort()).bypassMark(BYPASS_MARK).localCapture(true).gatewayCapture(false)
        // seed 000: a port entry ({dst: ":80"}) captures every address, the host's own (127.0.0.1) too
        .captureLocalDestinations(true);
    if (!listener.getAddress().isAnyLocalAddress()) {
      // a listener on 127.0.0.1 is reached only by DNAT to that address, and only in its family
      b.families(listener.getAddress() instanceof Inet4Address ? IpFamily.IPV4 : IpFamily.IPV6);
      b.dnatAddress(listener.getAddress());
    }
    for (ForwardEntry e : entries) {
      if (e.address().isPresent()) {
        boolean v4 = e.address().get() instanceof Inet4Address;
        if (!listener.getAddress().isAnyLocalAddress() && v4 != (listener.getAddress() instanceof Inet4Address)) {
          throw CliException.usage("client.forward_table: " + e + " cannot be captured to client.listen "
              + listener + " (expected: an address of the listener's family, or listen on 0.0.0.0/[::])");
        }
        b.captureEndpoint(e.address().get(), e.port());
      } else {
        b.capturePort(e.port());
      }
    }
    return b.build();
  }

  /**
   * Checks the prerequisites and installs the rules with the iptables backend.
   *
   * @throws CliException (failure) naming the first problem and its fix
   */
  static CaptureRules install(MeshPlan plan, InetSocketAddress listener, CommandRunner runner) {
    CapturePlan capture;
    try {
      capture = plan(plan.captureEntries(), listener);
    } catch (IllegalArgumentException e) {
      throw CliException.usage("client.forward_table: " + e.getMessage());
    }
    NetfilterBackend backend = NetfilterBackend.iptables(runner);
    try {
      List<Prerequisites.Problem> problems = Prerequisites.check(capture, backend.name(), runner);
      if (!problems.isEmpty()) {
        throw CliException.failure("cannot install the forward table's capture rules: " + problems.stream()
            .map(Prerequisites.Problem::toString).collect(Collectors.joining("; "))
            + " (or set client.capture: false)");
      }
      backend.apply(capture);
    } catch (NetfilterException e) {
      throw CliException.failure("cannot install the forward table's capture rules: " + e.getMessage()
          + " (or set client.capture: false)", e);
    }
    log.info("capture: {} forward_table entr{} redirected to {} ({} rules, prefix {}, bypass mark {})",
        plan.captureEntries().size(), plan.captureEntries().size() == 1 ? "y" : "ies", listener, backend.name(),
        PREFIX, BYPASS_MARK_TEXT);
    return new CaptureRules(backend);
  }

  /** Removes the rules; a failure is logged. */
  void clear() {
    try {
      backend.clear(PREFIX);
      log.info("capture rules removed");
    } catch (NetfilterException e) {
      log.warn("could not remove the capture rules (run 'conduit netfilter clear'): {}", e.getMessage());
    }
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
