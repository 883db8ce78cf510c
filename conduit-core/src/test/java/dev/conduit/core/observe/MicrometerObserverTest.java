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
}
