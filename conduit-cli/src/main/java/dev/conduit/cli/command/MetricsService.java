package dev.conduit.cli.command;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitBuilder;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.admin.AdminServer;
import dev.conduit.core.observe.MicrometerObserver;
import dev.conduit.core.runtime.Service;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Prometheus metrics of a conduit as a service: the observer goes into the conduit's builder,
 * {@code /metrics} onto the admin endpoint; the meters close after the conduit stopped.
 */
final class MetricsService implements Service {
  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final AtomicReference<Conduit> conduit = new AtomicReference<>();
  private final MicrometerObserver observer;

  /** Meters for the conduit about to be built with {@code builder} on {@code resources}. */
  MetricsService(ConduitBuilder builder, ConduitResources resources) {
    observer = MicrometerObserver.builder(registry).resources(resources)
        .draining(() -> conduit.get() != null && conduit.get().isStopping()).build();
    builder.observer(observer);
  }

  /** The registry behind {@code /metrics}, for a role's own meters (the cache's). */
  io.micrometer.core.instrument.MeterRegistry registry() {
    return registry;
  }

  /** The conduit built, for the draining gauge. */
  MetricsService of(Conduit built) {
    conduit.set(built);
    return this;
  }

  @Override
  public String name() {
    return "metrics";
  }

  @Override
  public void start() {}

  @Override
  public void mount(AdminServer.Builder admin) {
    admin.metrics(registry::scrape);
  }

  @Override
  public void close() {
    observer.close();
    registry.close();
  }
}
