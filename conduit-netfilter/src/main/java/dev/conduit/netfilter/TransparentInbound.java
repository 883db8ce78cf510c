package dev.conduit.netfilter;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Listener;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.InboundProtocol;
import dev.conduit.core.observe.Outcome;
import dev.conduit.netfilter.internal.TransparentHandler;
import io.netty.channel.Channel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The inbound protocol of a transparent listener: connections diverted by netfilter ({@link
 * CaptureMode#REDIRECT} or {@link CaptureMode#TPROXY}, IPv4 and IPv6) are relayed to their original
 * destination, routed like any other request (rules see the destination IP and, when sniffing, the
 * host name from TLS SNI or the HTTP {@code Host} header).
 *
 * <pre>{@code
 * // --tproxy-listen 0.0.0.0:15001
 * Listener tproxy = TransparentInbound.builder().mode(CaptureMode.TPROXY).build()
 *     .listener("tproxy", new InetSocketAddress("0.0.0.0", 15001));
 * Conduit conduit = Conduit.builder().listener(tproxy)
 *     .outboundSocketCustomizer(TransparentSockets.outboundMark(plan)) // conduit's dials bypass capture
 *     .build().start();
 * try (TransparentCapture capture = TransparentCapture.install(plan, backend, runner)) { ... }
 * }</pre>
 *
 * <p>Per connection, on the event loop: the original destination is read ({@code SO_ORIGINAL_DST}
 * or the local address, one system call); a destination that is this listener itself (its port on a
 * local address: a client connecting to the listener directly, or traffic that was not diverted) is
 * refused with outcome {@link Outcome#REJECTED} and a warning logged at most once per second. With
 * {@linkplain Builder#sniff(boolean) sniffing} on (the default) the first bytes are peeked, up to
 * {@linkplain Builder#sniffLimit(int) 8 KiB} and {@linkplain Builder#sniffTimeout(Duration) 300 ms},
 * for a host name; the peeked bytes reach the upstream unchanged. Protocols whose server speaks
 * first wait out the timeout and are routed by IP. Dials always go to the original IP.
 */
public final class TransparentInbound implements InboundProtocol {
  private static final Logger log = LoggerFactory.getLogger(TransparentInbound.class);
  private static final long LOG_INTERVAL_NANOS = 1_000_000_000L;

  private final CaptureMode mode;
  private final boolean sniff;
  private final Duration sniffTimeout;
  private final int sniffLimit;
  private final AtomicLong nextWarning = new AtomicLong(System.nanoTime());
  private final AtomicInteger suppressed = new AtomicInteger();

  private TransparentInbound(Builder b) {
    this.mode = b.mode;
    this.sniff = b.sniff;
    this.sniffTimeout = b.sniffTimeout;
    this.sniffLimit = b.sniffLimit;
  }

  /** Returns a builder: REDIRECT mode, sniffing on, 300 ms, 8 KiB. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns a REDIRECT-mode protocol with the defaults. */
  public static TransparentInbound redirect() {
    return builder().build();
  }

  /** Returns a TPROXY-mode protocol with the defaults. */
  public static TransparentInbound tproxy() {
    return builder().mode(CaptureMode.TPROXY).build();
  }

  /** Returns {@code transparent}. */
  @Override
  public String name() {
    return "transparent";
  }

  /** Returns the capture mode this protocol expects. */
  public CaptureMode mode() {
    return mode;
  }

  /** Returns whether the first bytes are peeked for a host name. */
  public boolean sniff() {
    return sniff;
  }

  /** Returns how long to wait for the client's first bytes when sniffing. */
  public Duration sniffTimeout() {
    return sniffTimeout;
  }

  /** Returns the most bytes peeked when sniffing. */
  public int sniffLimit() {
    return sniffLimit;
  }

  /**
   * Returns a listener speaking this protocol, with the socket customizer the mode needs ({@link
   * TransparentSockets#listener(CaptureMode)}: epoll check, {@code IP_TRANSPARENT} for TPROXY), so
   * that {@code Conduit.start()} fails with an actionable message when the transport or privileges
   * are wrong.
   *
   * @param name the listener's name
   * @param bind the address to bind; for TPROXY usually {@code 0.0.0.0} or {@code [::]} (dual stack)
   * @return the listener
   */
  public Listener listener(String name, InetSocketAddress bind) {
    return Listener.builder(name).bind(bind).protocol(this)
        .socketCustomizer(TransparentSockets.listener(mode)).build();
  }

  /**
   * Same as {@link #listener(String, InetSocketAddress)} with {@code ip:port} or {@code [v6]:port}.
   *
   * @param name the listener's name
   * @param bind the address to bind, e.g. {@code 0.0.0.0:15001}
   * @return the listener
   */
  public Listener listener(String name, String bind) {
    return Listener.builder(name).bind(bind).protocol(this)
        .socketCustomizer(TransparentSockets.listener(mode)).build();
  }

  @Override
  public void init(Channel channel, InboundContext context) {
    InetSocketAddress destination;
    try {
      destination = SocketOptions.originalDestination(channel, mode);
    } catch (SocketOptionException | RuntimeException e) {
      warn("[{}] {}: no original destination for {}: {}", context.connection().id(), mode,
          channel.remoteAddress(), e.getMessage());
      context.outcome(Outcome.ERROR, "no original destination: " + e.getMessage());
      channel.close();
      return;
    }
    if (isListenerItself(channel, destination)) {
      warn("[{}] loop: {} connected to {}, which is this transparent listener itself (a direct"
          + " connection, or traffic the capture rules did not divert); refused",
          context.connection().id(), channel.remoteAddress(), destination);
      context.outcome(Outcome.REJECTED, "loop: original destination " + destination
          + " is the transparent listener itself");
      channel.close();
      return;
    }
    channel.pipeline().addLast(TransparentHandler.NAME,
        new TransparentHandler(context, destination, sniff, sniffTimeout, sniffLimit));
  }

  private static boolean isListenerItself(Channel channel, InetSocketAddress destination) {
    Channel server = channel.parent();
    InetSocketAddress bound = server == null ? null : (InetSocketAddress) server.localAddress();
    InetSocketAddress local = (InetSocketAddress) channel.localAddress();
    int listeningPort = bound != null ? bound.getPort() : local.getPort();
    if (destination.getPort() != listeningPort) {
      return false;
    }
    InetAddress ip = destination.getAddress();
    if (ip.isLoopbackAddress() || ip.isAnyLocalAddress()
        || (bound != null && ip.equals(bound.getAddress()))) {
      return true;
    }
    try {
      // only reached when the port is the listener's: one interface lookup, no I/O
      return NetworkInterface.getByInetAddress(ip) != null;
    } catch (SocketException e) {
      return false;
    }
  }

  private void warn(String format, Object... args) {
    long now = System.nanoTime();
    long next = nextWarning.get();
    if (now - next >= 0 && nextWarning.compareAndSet(next, now + LOG_INTERVAL_NANOS)) {
      int skipped = suppressed.getAndSet(0);
      log.warn(format + (skipped > 0 ? " (" + skipped + " similar suppressed)" : ""), args);
    } else {
      suppressed.incrementAndGet();
      log.debug(format, args);
    }
  }

  @Override
  public String toString() {
    return "TransparentInbound{mode=" + mode + ", sniff=" + sniff
        + (sniff ? ", sniffTimeout=" + sniffTimeout.toMillis() + "ms, sniffLimit=" + sniffLimit : "") + "}";
  }

  /** Builds a {@link TransparentInbound}. */
  public static final class Builder {
    private CaptureMode mode = CaptureMode.REDIRECT;
    private boolean sniff = true;
    private Duration sniffTimeout = Duration.ofMillis(300);
    private int sniffLimit = 8192;

    private Builder() {}

    /**
     * Sets how connections reach the listener (default {@link CaptureMode#REDIRECT}).
     *
     * @param mode the capture mode of the rules that divert to this listener
     * @return this builder
     */
    public Builder mode(CaptureMode mode) {
      this.mode = requireNonNull(mode, "mode");
      return this;
    }

    /**
     * Sets whether the first bytes are peeked for a TLS SNI or HTTP Host name (default on).
     *
     * @param enabled whether to sniff
     * @return this builder
     */
    public Builder sniff(boolean enabled) {
      this.sniff = enabled;
      return this;
    }

    /**
     * Sets how long to wait for the client's first bytes (default 300 ms).
     *
     * @param timeout 1 ms to 10 s
     * @return this builder
     */
    public Builder sniffTimeout(Duration timeout) {
      requireNonNull(timeout, "sniffTimeout");
      if (timeout.toMillis() < 1 || timeout.toMillis() > 10_000) {
        throw new IllegalArgumentException("sniffTimeout: " + timeout.toMillis() + " ms (expected: 1-10000)");
      }
      this.sniffTimeout = timeout;
      return this;
    }

    /**
     * Sets the most bytes peeked (default 8192).
     *
     * @param bytes 64 to 65536
     * @return this builder
     */
    public Builder sniffLimit(int bytes) {
      if (bytes < 64 || bytes > 65536) {
        throw new IllegalArgumentException("sniffLimit: " + bytes + " (expected: 64-65536)");
      }
      this.sniffLimit = bytes;
      return this;
    }

    /** Returns the protocol. */
    public TransparentInbound build() {
      return new TransparentInbound(this);
    }
  }
}
