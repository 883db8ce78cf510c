package dev.conduit.cli.command;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.route.Router;
import dev.conduit.core.runtime.Service;
import dev.conduit.netfilter.ForwardTableCapture;
import dev.conduit.netfilter.TransparentUdpRelay;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * UDP on a TPROXY listener's address ({@code --tproxy-udp}, {@code udp: true} on a tproxy listener): a
 * {@link TransparentUdpRelay} routed by the TCP listener's router, started and closed with the role, its
 * flows and drops counted on {@code /metrics} when there is an admin endpoint.
 */
final class TproxyUdpService implements Service {
  private final String listenerName;
  private final String listen;
  private final Router router;
  private final MeterRegistry registry;
  private volatile TransparentUdpRelay relay;

  /**
   * @param registry the meters' registry, or null without {@code /metrics}
   */
  TproxyUdpService(String listenerName, String listen, Router router, MeterRegistry registry) {
    this.listenerName = requireNonNull(listenerName, "listenerName");
    this.listen = requireNonNull(listen, "listen");
    this.router = requireNonNull(router, "router");
    this.registry = registry;
  }

  @Override
  public String name() {
    return "tproxy-udp";
  }

  @Override
  public void start() {
    // the relay's own sockets carry the capture's bypass mark, so their replies are never diverted again
    TransparentUdpRelay r = TransparentUdpRelay.builder().bind(listen).router(router)
        .bypassMark(ForwardTableCapture.BYPASS_MARK).listenerName(listenerName).start();
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
      for (String reason : java.util.List.of(TransparentUdpRelay.DROP_REJECTED, TransparentUdpRelay.DROP_NO_UDP_OUTBOUND,
          TransparentUdpRelay.DROP_TABLE_FULL, TransparentUdpRelay.DROP_QUEUE_FULL,
          TransparentUdpRelay.DROP_NO_DESTINATION, TransparentUdpRelay.DROP_SEND_FAILED,
          TransparentUdpRelay.DROP_SOCKET_FAILED)) {
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
