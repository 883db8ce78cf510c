package dev.conduit.core.runtime;

import static java.util.Objects.requireNonNull;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What each service made of one {@link ConduitRuntime#reload reload}, in start order.
 *
 * @param outcomes each service's outcome by its name
 * @param failures each failed service's error message by its name; those services keep their running
 *     section
 */
public record ReloadReport(Map<String, ReloadOutcome> outcomes, Map<String, String> failures) {

  /** Copies the maps, keeping their order. */
  public ReloadReport {
    outcomes = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(outcomes, "outcomes")));
    failures = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(failures, "failures")));
  }

  /** Whether every service took the new configuration (applied, unchanged or restart needed). */
  public boolean succeeded() {
    return failures.isEmpty();
  }

  /** What needs a restart, as the services said it. */
  public List<String> restartNeeded() {
    return outcomes.values().stream().filter(o -> o.kind() == ReloadOutcome.Kind.RESTART_NEEDED)
        .map(ReloadOutcome::detail).toList();
  }
}
