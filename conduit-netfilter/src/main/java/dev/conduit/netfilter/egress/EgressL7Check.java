package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.Listener;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.InboundProtocol;
import dev.conduit.core.net.AddressClassifier;
import dev.conduit.core.net.IpAddress;
import dev.conduit.core.net.IpPrefix;
import dev.conduit.core.net.IpPrefixSet;
import dev.conduit.core.observe.Outcome;
import dev.conduit.netfilter.CaptureMode;
import dev.conduit.netfilter.SocketOptions;
import dev.conduit.netfilter.TransparentSockets;
import dev.conduit.netfilter.egress.internal.L7Denials;
import dev.conduit.netfilter.egress.internal.L7DivertNft;
import dev.conduit.netfilter.egress.internal.L7Handler;
import dev.conduit.netfilter.egress.internal.L7Policy;
import io.netty.channel.Channel;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The egress gateway's optional L7 check: a conduit transparent listener that the gateway's divert rules
 * ({@link EgressGatewayConfig.Builder#l7CheckPort}) send new TCP flows to ports 80 and 443 to. For each flow it
 * reads the TLS SNI or HTTP Host (at most {@linkplain Builder#peekLimit peekLimit} bytes, within
 * {@linkplain Builder#peekTimeout peekTimeout}), checks it with the flow's original destination against the
 * {@link NameAllowlist} in force ({@link NameAllowlist#check}), and then relays the flow to its original
 * destination with conduit's relay (zero-copy {@code splice(2)} on epoll), or refuses it: TLS and anything
 * else is closed, HTTP gets {@code 403} with the reason. Names below a {@code *.suffix} wildcard are resolved
 * by the gateway itself (the system's resolver, or {@linkplain Builder#dnsServers the DNS servers given}); only
 * public addresses (or {@linkplain Builder#allowedSpecial space explicitly allowed}) count. Refused flows are
 * kept for the gateway's reports ({@link #denied()}); in report-only mode they are counted and let through.
 *
 * <pre>{@code
 * EgressL7Check l7 = EgressL7Check.builder().bind(new InetSocketAddress(15080))
 *     .protectedNetworks(config.protectedNetworks()).build();
 * EgressGateway gw = EgressGateway.install(config (with l7CheckPort(15080)), allowlist, runner);
 * l7.update(NameAllowlist.fromPushedState(state.resources()));
 * }</pre>
 */
public final class EgressL7Check implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EgressL7Check.class);

  private final ConduitResources resources;
  private final Conduit conduit;
  private final IpPrefixSet allowedSpecial;
  private final int peekLimit;
  private final Duration peekTimeout;
  private final L7Denials denials;
  private volatile NameAllowlist names;
  private volatile boolean reportOnly;

  private EgressL7Check(Builder b) {
    this.allowedSpecial = b.allowedSpecial;
    this.peekLimit = b.peekLimit;
    this.peekTimeout = b.peekTimeout;
    this.denials = new L7Denials(b.maxDenied, b.clock);
    this.names = b.names;
    this.reportOnly = b.reportOnly;
    ConduitResources.Builder r = ConduitResources.builder().preferNativeTransport(true);
    if (!b.dnsServers.isEmpty()) {
      r.nameServers(b.dnsServers);
    }
    this.resources = r.build();
    Listener.Builder listener = Listener.builder("egress-l7").bind(b.bind).protocol(new Inbound())
        .socketCustomizer(TransparentSockets.listener(CaptureMode.REDIRECT));
    b.protectedNetworks.forEach(p -> listener.allowSource(p.toString()));
    // marked: the gateway's table counts these connections in the allowlist's per-address counters
    this.conduit = Conduit.builder().resources(resources).listener(listener.build()).splice(true)
        .outboundSocketCustomizer(TransparentSockets.outboundMark(L7DivertNft.UPSTREAM_MARK)).build();
  }

  /** Returns a builder: port 15080 on {@code [::]}, 16 KiB and 5 s to find the name, enforcing. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns the listener's address. */
  public InetSocketAddress address() {
    return conduit.address("egress-l7");
  }

  /**
   * Checks new flows against these names from now on (flows already relayed go on).
   *
   * @param next the names
   */
  public void update(NameAllowlist next) {
    this.names = requireNonNull(next, "next");
  }

  /** Returns the names in force. */
  public NameAllowlist names() {
    return names;
  }

  /**
   * Switches report-only mode: refused flows are then counted and let through.
   *
   * @param value whether to let refused flows through
   */
  public void reportOnly(boolean value) {
    this.reportOnly = value;
  }

  /** Returns whether refused flows are let through (report-only mode). */
  public boolean reportOnly() {
    return reportOnly;
  }

  /** Returns the flows refused in the last hour, per destination, port and name, most recent first. */
  public List<DeniedFlow> denied() {
    return denials.snapshot();
  }

  /** Returns how many flows were refused (or, in report-only mode, would have been) since the start. */
  public long deniedTotal() {
    return denials.total();
  }

  /** Returns the flows being relayed or checked now. */
  public int activeConnections() {
    return conduit.activeConnections();
  }

  /** Stops listening and closes the flows relayed. */
  @Override
  public void close() {
    try {
      conduit.close();
    } finally {
      resources.close();
    }
  }

  @Override
  public String toString() {
    return "EgressL7Check[" + names + (reportOnly ? ", report-only" : "") + "]";
  }

  private final class Policy implements L7Policy {
    @Override
    public NameAllowlist names() {
      return names;
    }

    @Override
    public Future<List<IpAddress>> resolve(EventExecutor executor, String name) {
      Promise<List<IpAddress>> out = executor.newPromise();
      resources.resolver().getResolver(executor).resolveAll(InetSocketAddress.createUnresolved(name, 443))
          .addListener((Future<List<InetSocketAddress>> f) -> {
            if (!f.isSuccess()) {
              out.setFailure(f.cause());
              return;
            }
            List<IpAddress> allowed = new ArrayList<>();
            for (InetSocketAddress a : f.getNow()) {
              IpAddress ip = IpAddress.of(a.getAddress());
              if ((AddressClassifier.isPublic(ip) || allowedSpecial.contains(ip)) && !allowed.contains(ip)) {
                allowed.add(ip);
              }
            }
            out.setSuccess(allowed);
          });
      return out;
    }

    @Override
    public boolean reportOnly() {
      return reportOnly;
    }

    @Override
    public int peekLimit() {
      return peekLimit;
    }

    @Override
    public Duration peekTimeout() {
      return peekTimeout;
    }

    @Override
    public void denied(IpAddress destination, int port, Optional<String> sni, Optional<String> host, String reason) {
      denials.record(destination, port, sni, host);
      log.debug("egress L7 check{}: {}:{} refused: {}", reportOnly ? " (report-only)" : "", destination, port,
          reason);
    }
  }

  /** The transparent listener's protocol: the original destination, then the check. */
  private final class Inbound implements InboundProtocol {
    private final Policy policy = new Policy();

    @Override
    public String name() {
      return "egress-l7";
    }

    @Override
    public void init(Channel channel, InboundContext context) {
      InetSocketAddress destination;
      try {
        destination = SocketOptions.originalDestination(channel, CaptureMode.REDIRECT);
      } catch (Exception e) {
        context.outcome(Outcome.ERROR, "no original destination: " + e.getMessage());
        channel.close();
        return;
      }
      if (isListenerItself(channel, destination)) {
        context.outcome(Outcome.REJECTED, "original destination " + destination
            + " is the L7 check listener itself (a direct connection, not a diverted flow)");
        channel.close();
        return;
      }
      channel.pipeline().addLast(L7Handler.NAME, new L7Handler(context, destination, policy));
    }

    private boolean isListenerItself(Channel channel, InetSocketAddress destination) {
      if (destination.getPort() != ((InetSocketAddress) channel.localAddress()).getPort()) {
        return false;
      }
      InetAddress ip = destination.getAddress();
      try {
        return ip.isLoopbackAddress() || ip.isAnyLocalAddress() || NetworkInterface.getByInetAddress(ip) != null;
      } catch (SocketException e) {
        return false;
      }
    }
  }

  /** Builds and starts an {@link EgressL7Check}. */
  public static final class Builder {
    private InetSocketAddress bind = new InetSocketAddress("::", 15080);
    private final List<IpPrefix> protectedNetworks = new ArrayList<>();
    private IpPrefixSet allowedSpecial = IpPrefixSet.empty();
    private List<InetSocketAddress> dnsServers = List.of();
    private int peekLimit = 16384;
    private Duration peekTimeout = Duration.ofSeconds(5);
    private NameAllowlist names = NameAllowlist.empty();
    private boolean reportOnly;
    private int maxDenied = 1000;
    private Clock clock = Clock.systemUTC();

    private Builder() {}

    /**
     * Where the listener binds (default {@code [::]:15080}, both families); the port is the gateway config's
     * {@link EgressGatewayConfig#l7CheckPort()}.
     *
     * @param value the address
     * @return this builder
     */
    public Builder bind(InetSocketAddress value) {
      this.bind = requireNonNull(value, "bind");
      return this;
    }

    /**
     * Accepts flows only from these networks (the gateway's protected networks; default: any source).
     *
     * @param networks the networks
     * @return this builder
     */
    public Builder protectedNetworks(List<IpPrefix> networks) {
      protectedNetworks.addAll(requireNonNull(networks, "protectedNetworks"));
      return this;
    }

    /**
     * Special-purpose space a wildcard's name may resolve to all the same (default: none; labs).
     *
     * @param value the space
     * @return this builder
     */
    public Builder allowedSpecial(IpPrefixSet value) {
      this.allowedSpecial = requireNonNull(value, "allowedSpecial");
      return this;
    }

    /**
     * The DNS servers names below wildcards are resolved with (default: the system's).
     *
     * @param servers the servers, tried in order
     * @return this builder
     */
    public Builder dnsServers(List<InetSocketAddress> servers) {
      this.dnsServers = List.copyOf(requireNonNull(servers, "dnsServers"));
      return this;
    }

    /**
     * The most bytes read to find the name (default 16384: a ClientHello record, or an HTTP header block).
     *
     * @param bytes 512 to 65536
     * @return this builder
     */
    public Builder peekLimit(int bytes) {
      if (bytes < 512 || bytes > 65536) {
        throw new IllegalArgumentException("peekLimit: " + bytes + " (expected: 512-65536)");
      }
      this.peekLimit = bytes;
      return this;
    }

    /**
     * How long a client may take to send them (default 5 s); then the flow is refused.
     *
     * @param value 1 ms to 60 s
     * @return this builder
     */
    public Builder peekTimeout(Duration value) {
      requireNonNull(value, "peekTimeout");
      if (value.toMillis() < 1 || value.toMillis() > 60_000) {
        throw new IllegalArgumentException("peekTimeout: " + value.toMillis() + " ms (expected: 1-60000)");
      }
      this.peekTimeout = value;
      return this;
    }

    /**
     * The names in force from the start (default: none).
     *
     * @param value the names
     * @return this builder
     */
    public Builder names(NameAllowlist value) {
      this.names = requireNonNull(value, "names");
      return this;
    }

    /**
     * Whether refused flows are only counted and let through (report-only mode; default off).
     *
     * @param value whether to let them through
     * @return this builder
     */
    public Builder reportOnly(boolean value) {
      this.reportOnly = value;
      return this;
    }

    /**
     * The most refused destination, port and name combinations kept for reports (default 1000).
     *
     * @param value 1 or more
     * @return this builder
     */
    public Builder maxDenied(int value) {
      if (value < 1) {
        throw new IllegalArgumentException("maxDenied: " + value + " (expected: 1 or more)");
      }
      this.maxDenied = value;
      return this;
    }

    /**
     * The clock refused flows are timed with (default UTC).
     *
     * @param value the clock
     * @return this builder
     */
    public Builder clock(Clock value) {
      this.clock = requireNonNull(value, "clock");
      return this;
    }

    /**
     * Builds the check: starts its listener (the check has no separate start; {@link EgressL7Check#close()}
     * stops it).
     *
     * @return the running check
     * @throws IOException when it cannot listen (the port is taken, the epoll transport is missing)
     */
    public EgressL7Check build() throws IOException {
      EgressL7Check check = new EgressL7Check(this);
      try {
        check.conduit.start();
      } catch (IOException | RuntimeException e) {
        check.resources.close();
        throw e;
      }
      return check;
    }
  }
}
