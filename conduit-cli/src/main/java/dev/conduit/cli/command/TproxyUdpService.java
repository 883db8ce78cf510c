package dev.conduit.cli.command;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.route.Router;
import dev.conduit.core.runtime.Service;
import dev.conduit.netfilter.ForwardTableCapture;
import dev.conduit.netfilter.TransparentUdpRelay;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;

/**
 * UDP on a TPROXY listener's address ({@code --tproxy-udp}, {@code udp: true} on a tproxy listener): a
 * {@link TransparentUdpRelay} routed by the TCP listener's router and outbounds (direct, or a SOCKS5 hop's
 * {@code UDP ASSOCIATE}), following a reload's rules for new flows ({@link #update}), started and closed with
 * the role, its flows and drops counted on {@code /metrics} when there is an admin endpoint.
 */
final class TproxyUdpService implements Service {
  private final String listenerName;
  private final String listen;
  private volatile Router router;
  private volatile List<Outbound> outbounds;
  private final MeterRegistry registry;
  private volatile TransparentUdpRelay relay;

  /**
   * @param registry the meters' registry, or null without {@code /metrics}
   */
  TproxyUdpService(String listenerName, String listen, Router router, List<Outbound> outbounds,
      MeterRegistry registry) {
    this.listenerName = requireNonNull(listenerName, "listenerName");
    this.listen = requireNonNull(listen, "listen");
    this.router = requireNonNull(router, "router");
    this.outbounds = List.copyOf(outbounds);
    this.registry = registry;
  }

  /** A reload's rules and outbounds, for new flows (open flows keep their route until they end). */
  synchronized void update(Router nextRouter, List<Outbound> nextOutbounds) {
    router = requireNonNull(nextRouter, "nextRouter");
    outbounds = List.copyOf(nextOutbounds);
    TransparentUdpRelay r = relay;
    if (r != null) {
      r.update(router, outbounds);
    }
  }

  @Override
  public String name() {
    return "tproxy-udp";
  }

  @Override
  public synchronized void start() {
    // the relay's own sockets carry the capture's bypass mark, so their replies are never diverted again
    TransparentUdpRelay.Builder b = TransparentUdpRelay.builder().bind(listen).router(router)
        .bypassMark(ForwardTableCapture.BYPASS_MARK).listenerName(listenerName);
    outbounds.forEach(b::outbound);
    TransparentUdpRelay r = b.build();
    relay = r;
    if (registry != null) {
      Gauge.builder("conduit.tproxy.udp.flows", r, TransparentUdpRelay::flows)
          .description("UDP flows open through TPROXY").tag("listener", listenerName).register(registry);
      FunctionCounter.builder("conduit.tproxy.udp.datagrams", r, x -> x.datagramsFromClients())
          .description("UDP datagrams relayed through TPROXY").tags("listener", listenerName, "direction", "from_client")
          .register(registry);
      FunctionCounter.builder("conduit.tproxy.udp.datagrams", r, x -> x.datagramsToClients())
          .description("UDP datagrams relayed through TPROXY").tags("listener", listenerName, "direction", "to_client")
          .register(registry);
      FunctionCounter.builder("conduit.tproxy.udp.associations.closed", r, x -> x.associationsClosed())
          .description("UDP flows ended because their SOCKS5 association's control connection closed")
          .tag("listener", listenerName).register(registry);
      for (String reason : List.of(TransparentUdpRelay.DROP_REJECTED, TransparentUdpRelay.DROP_NO_UDP_OUTBOUND,
          TransparentUdpRelay.DROP_TABLE_FULL, TransparentUdpRelay.DROP_QUEUE_FULL,
          TransparentUdpRelay.DROP_NO_DESTINATION, TransparentUdpRelay.DROP_SEND_FAILED,
          TransparentUdpRelay.DROP_SOCKET_FAILED, TransparentUdpRelay.DROP_ASSOCIATION_FAILED,
          TransparentUdpRelay.DROP_FRAGMENT, TransparentUdpRelay.DROP_BAD_RELAY_DATAGRAM)) {
        FunctionCounter.builder("conduit.tproxy.udp.dropped", r, x -> x.drops().getOrDefault(reason, 0L))
            .description("UDP datagrams dropped by the TPROXY relay, by reason")
            .tags("listener", listenerName, "reason", reason.replace(' ', '_')).register(registry);
      }
    }
  }

  @Override
  public void close() {
    TransparentUdpRelay r = relay;
    if (r != null) {
      relay = null;
      r.close();
    }
  }
}
