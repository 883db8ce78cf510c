package dev.conduit.core.observe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.Listener;
import dev.conduit.core.inbound.InboundProtocols;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.Test;

/** What {@link MicrometerObserver#of} records without further configuration. */
class MicrometerObserverTest {

  @Test
  void theSimpleFormGaugesEventLoopsAndDrainingOfTheConduitItWatches() throws Exception {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    try (ConduitResources resources = ConduitResources.builder().ioThreads(2).build()) {
      Conduit conduit = Conduit.builder().resources(resources)
          .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
          .observer(MicrometerObserver.of(registry))
          .build();
      assertThat(registry.find(MeterNames.DRAINING).gauge()).isNull();
      conduit.start();
      try {
        assertThat(registry.find(MeterNames.EVENT_LOOP_PENDING_TASKS).gauges()).hasSize(2);
        Gauge draining = registry.find(MeterNames.DRAINING).gauge();
        assertThat(draining).isNotNull();
        assertThat(draining.value()).isZero();
        assertThat(registry.scrape()).contains("conduit_eventloop_pending_tasks{loop=\"1\"}", "conduit_draining 0.0");
      } finally {
        conduit.close();
      }
      assertThat(registry.find(MeterNames.DRAINING).gauge().value()).isEqualTo(1.0);
    }
  }

  /** Each closed connection of a mixed listener counts under the protocol its first byte chose. */
  @Test
  void aMixedListenersClosedConnectionsCarryTheDetectedProtocol() throws Exception {
    dev.conduit.core.testing.Processes.requireTool("curl");
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    java.util.List<ConnectionSummary> closed = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.concurrent.CountDownLatch three = new java.util.concurrent.CountDownLatch(3);
    try (dev.conduit.core.testing.TestOrigin origin = dev.conduit.core.testing.TestOrigin.start();
        Conduit conduit = Conduit.builder()
            .listener(Listener.builder("both").bind("127.0.0.1:0").protocol(InboundProtocols.mixed()).build())
            .observer(MicrometerObserver.of(registry))
            .observer(new ConnectionObserver() {
              @Override
              public void closed(ConnectionSummary summary) {
                closed.add(summary);
                three.countDown();
              }
            })
            .build().start()) {
      String proxy = "127.0.0.1:" + conduit.address("both").getPort();
      for (String[] how : new String[][] {{"--socks5", proxy}, {"-x", "http://" + proxy}}) {
        dev.conduit.core.testing.Processes.Result r = dev.conduit.core.testing.Processes.run("curl", "-sS",
            "--max-time", "10", how[0], how[1], origin.uri("/hello").toString());
        assertThat(r.exitCode()).as(r.stderr()).isZero();
      }
      // a client that connects and sends nothing: no protocol was detected
      try (java.net.Socket idle = new java.net.Socket("127.0.0.1", conduit.address("both").getPort())) {
        assertThat(idle.isConnected()).isTrue();
      }
      // the summaries arrive as conduit closes its side
      assertThat(three.await(30, java.util.concurrent.TimeUnit.SECONDS)).as("closed: %s", closed).isTrue();
      assertThat(closed).extracting(c -> c.connection().protocol()).containsExactlyInAnyOrder("socks", "http", "mixed");
      assertThat(registry.get(MeterNames.CONNECTIONS_CLOSED).tags("listener", "both", "protocol", "socks", "outcome", "ok")
          .counter().count()).isEqualTo(1.0);
      assertThat(registry.get(MeterNames.CONNECTIONS_CLOSED).tags("listener", "both", "protocol", "http", "outcome", "ok")
          .counter().count()).isEqualTo(1.0);
      assertThat(registry.get(MeterNames.CONNECTIONS_ACCEPTED).tags("listener", "both", "protocol", "mixed")
          .counter().count()).isEqualTo(3.0);
      assertThat(registry.get(MeterNames.CONNECTIONS_ACTIVE).tags("listener", "both").gauge().value()).isZero();
    }
  }
}
