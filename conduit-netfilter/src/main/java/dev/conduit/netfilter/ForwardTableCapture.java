package dev.conduit.netfilter;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.inbound.OriginalDestinationResolver;
import dev.conduit.core.tunnel.ForwardEntry;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Optional;

/**
 * The capture of a tunnel client's forward table: the {@link CapturePlan} that REDIRECTs locally made
 * connections to the table's destinations to the client's listener (DNAT to the listener's address
 * when it binds one), conduit's own outbound sockets exempt by the bypass mark {@value #BYPASS_MARK_TEXT};
 * and the resolver that reads the connections' original destinations back.
 */
public final class ForwardTableCapture {
  /** The chain/set prefix of the forward table's rules. */
  public static final String PREFIX = "CONDUIT";
  /** The bypass mark set on every outbound socket of the conduit that captures. */
  public static final int BYPASS_MARK = 0x5a4;
  /** {@link #BYPASS_MARK} as written in logs and rules. */
  public static final String BYPASS_MARK_TEXT = "0x5a4";

  private static final OriginalDestinationResolver RESOLVER = channel -> {
    try {
      return Optional.of(SocketOptions.originalDestination(channel));
    } catch (SocketOptionException e) {
      return Optional.empty(); // not redirected, or untracked
    }
  };

  private ForwardTableCapture() {}

  /** Reads {@code SO_ORIGINAL_DST}; connections that were not redirected have none. */
  public static OriginalDestinationResolver resolver() {
    return RESOLVER;
  }

  /**
   * The plan for a forward table and the client listener's bound address.
   *
   * @param entries the forward table's entries to capture
   * @param listener the listener's bound address (its port is known once bound)
   * @return the plan
   * @throws IllegalArgumentException when an entry cannot reach a listener bound to one family's address
   */
  public static CapturePlan plan(List<ForwardEntry> entries, InetSocketAddress listener) {
    requireNonNull(entries, "entries");
    requireNonNull(listener, "listener");
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
          throw new IllegalArgumentException(e + " cannot be captured to the listener " + listener
              + " (expected: an address of the listener's family, or listen on 0.0.0.0/[::])");
        }
        b.captureEndpoint(e.address().get(), e.port());
      } else {
        b.capturePort(e.port());
      }
    }
    return b.build();
  }
}
