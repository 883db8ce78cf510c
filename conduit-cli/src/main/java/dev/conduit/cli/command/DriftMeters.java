package dev.conduit.cli.command;

import dev.conduit.netfilter.DriftRepair;
import dev.conduit.netfilter.TransparentCapture;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Drift repair of installed capture rules, counted on {@code /metrics} when there is an admin endpoint:
 * {@code conduit_capture_drift_checks_total} and {@code conduit_capture_drift_failures_total} per prefix, and
 * {@code conduit_capture_drift_repairs_total{prefix, table, chain, change="missing|altered"}}, a series per table
 * and chain found drifted (registered at its first repair).
 */
final class DriftMeters {
  private DriftMeters() {}

  /** Starts repairing {@code capture} every {@code interval}; meters go to {@code registry} when not null. */
  static DriftRepair start(TransparentCapture capture, Duration interval, MeterRegistry registry) {
    String prefix = capture.plan().prefix();
    AtomicReference<DriftRepair> started = new AtomicReference<>();
    DriftRepair repair = capture.startDriftRepair(interval, what -> {
      DriftRepair r = started.get();
      if (registry != null && r != null) {
        register(registry, prefix, r);
      }
    });
    started.set(repair);
    if (registry != null) {
      FunctionCounter.builder("conduit.capture.drift.checks", repair, DriftRepair::checks)
          .description("Checks of the installed capture rules").tag("prefix", prefix).register(registry);
      FunctionCounter.builder("conduit.capture.drift.failures", repair, DriftRepair::failures)
          .description("Checks or repairs of the capture rules that a tool refused").tag("prefix", prefix)
          .register(registry);
      register(registry, prefix, repair); // repairs made before the first callback
    }
    return repair;
  }

  /** A counter per table and chain repaired so far; registering one again returns the existing one. */
  private static void register(MeterRegistry registry, String prefix, DriftRepair repair) {
    for (DriftRepair.Repair key : repair.repairsByChain().keySet()) {
      FunctionCounter.builder("conduit.capture.drift.repairs", repair,
              r -> r.repairsByChain().getOrDefault(key, 0L))
          .description("Capture rules found missing or altered under conduit and applied again, by table and chain")
          .tags("prefix", prefix, "table", key.table(), "chain", key.chain(), "change", key.change())
          .register(registry);
    }
  }
}
