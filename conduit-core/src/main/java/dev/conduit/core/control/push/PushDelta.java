package dev.conduit.core.control.push;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;
import java.util.Set;

/**
 * The changes from one {@link PushState} version to a later one: the resources added or changed, and the keys
 * removed. A delta is never add-only: whatever the earlier state had and the later one has not is in
 * {@link #removals()}.
 *
 * @param fromVersion the version the delta applies to
 * @param toVersion the version it leads to, more than {@code fromVersion}
 * @param upserts the new or changed resources by key
 * @param removals the keys removed
 */
public record PushDelta(long fromVersion, long toVersion, Map<String, JsonNode> upserts, Set<String> removals) {

  /**
   * Checks and copies the components.
   *
   * @throws IllegalArgumentException if the versions do not grow, or a key is both upserted and removed
   */
  public PushDelta {
    requireNonNull(upserts, "upserts");
    requireNonNull(removals, "removals");
    if (fromVersion < 0 || toVersion <= fromVersion) {
      throw new IllegalArgumentException("versions: " + fromVersion + " -> " + toVersion
          + " (expected: 0 <= from < to)");
    }
    upserts = Map.copyOf(upserts);
    removals = Set.copyOf(removals);
    for (String key : removals) {
      if (upserts.containsKey(key)) {
        throw new IllegalArgumentException("key " + key + ": both upserted and removed");
      }
    }
  }

  /** Returns whether the delta changes nothing. */
  public boolean isEmpty() {
    return upserts.isEmpty() && removals.isEmpty();
  }

  /** Describes the delta by versions and counts. */
  @Override
  public String toString() {
    return "PushDelta{" + fromVersion + " -> " + toVersion + ", upserts=" + upserts.size()
        + ", removals=" + removals.size() + "}";
  }
}
