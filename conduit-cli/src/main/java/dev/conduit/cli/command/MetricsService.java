package dev.conduit.cli.command;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitBuilder;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.admin.AdminServer;
import dev.conduit.core.observe.MicrometerObserver;
import dev.conduit.core.runtime.Service;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Prometheus metrics of a conduit as a service: the observer goes into the conduit's builder,
 * {@code /metrics} onto the admin endpoint; the meters close after the conduit stopped. Besides the
 * conduit's own meters: the JVM's ({@code jvm_*}: memory, GC, threads, classes), the process's
 * ({@code process_*}: CPU, uptime, open files) and {@code conduit_build_info{version,java}} (always 1).
 */
final class MetricsService implements Service {
  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final AtomicReference<Conduit> conduit = new AtomicReference<>();
  private final MicrometerObserver observer;
  private final JvmGcMetrics gc = new JvmGcMetrics();

  /** Meters for the conduit about to be built with {@code builder} on {@code resources}. */
  MetricsService(ConduitBuilder builder, ConduitResources resources) {
    observer = MicrometerObserver.builder(registry).resources(resources)
        .draining(() -> conduit.get() != null && conduit.get().isStopping()).build();
    builder.observer(observer);
    // names promtool's lint rejects: process_cpu_time_ns_total (process_cpu_usage stays) and a gauge ending _count
    registry.config().meterFilter(MeterFilter.deny(id -> id.getName().equals("process.cpu.time")))
        .meterFilter(new MeterFilter() {
          @Override
          public Meter.Id map(Meter.Id id) {
            return id.getName().equals("system.cpu.count") ? id.withName("system.cpu.logical.processors") : id;
          }
        });
    new JvmMemoryMetrics().bindTo(registry);
    gc.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    new FileDescriptorMetrics().bindTo(registry);
    Gauge.builder("conduit.build.info", () -> 1)
        .description("The conduit build: its version and the Java runtime it runs on")
        .tag("version", VersionCommand.version())
        .tag("java", System.getProperty("java.version"))
        .register(registry);
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
    gc.close();
    registry.close();
  }
}
