package dev.conduit.core.control.push;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conduit.core.control.push.internal.Json;
import java.math.BigInteger;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * One version of the state a {@link PushServer} pushes to its agents: a map of resource key (e.g. a node name, an
 * allowlist entry) to a JSON value, and a version number that grows with every change.
 *
 * <p>Immutable as far as conduit is concerned: the map is copied, but the {@link JsonNode} values are not; do not
 * modify a node after handing it over. Two states with the same resources have the same {@link #hash()}, whatever
 * their version or the order of the properties of their values.
 */
public final class PushState {

  private static final PushState EMPTY = new PushState(0, Map.of());

  private final long version;
  private final Map<String, JsonNode> resources;
  private volatile BigInteger hashSum;

  private PushState(long version, Map<String, JsonNode> resources) {
    this.version = version;
    this.resources = resources;
  }

  /**
   * Returns the state {@code version} holding {@code resources}.
   *
   * @throws IllegalArgumentException if the version is negative, or a key or value is null
   */
  public static PushState of(long version, Map<String, ? extends JsonNode> resources) {
    requireNonNull(resources, "resources");
    if (version < 0) {
      throw new IllegalArgumentException("version: " + version + " (expected: 0 or more)");
    }
    Map<String, JsonNode> copy = new HashMap<>(resources.size() * 2);
    resources.forEach((key, value) -> {
      if (key == null || value == null) {
        throw new IllegalArgumentException("resources: null key or value (key " + key + ")");
      }
      copy.put(key, value);
    });
    return new PushState(version, Collections.unmodifiableMap(copy));
  }

  /** Returns version 0 with no resources: what an agent has before its first update. */
  public static PushState empty() {
    return EMPTY;
  }

  /** Returns the version. */
  public long version() {
    return version;
  }

  /** Returns the resources by key (unmodifiable). */
  public Map<String, JsonNode> resources() {
    return resources;
  }

  /**
   * Returns the hash of the resources, 64 lower-case hex digits: the sum modulo 2^256 of the SHA-256 of each key
   * with its value's canonical JSON (properties sorted). Equal for equal resources on both ends of a push channel;
   * a state made by {@link #apply} computes it from this one's in proportion to the delta. A checksum to detect
   * drift, not an authenticator.
   */
  public String hash() {
    return Json.hex(hashSum());
  }

  private BigInteger hashSum() {
    BigInteger h = hashSum;
    if (h == null) {
      h = Json.hashSum(resources);
      hashSum = h;
    }
    return h;
  }

  /**
   * Returns the changes that turn this state into {@code next}: every key whose value differs or is new, and every
   * key {@code next} no longer has.
   *
   * @throws IllegalArgumentException if {@code next} is not a later version
   */
  public PushDelta diff(PushState next) {
    requireNonNull(next, "next");
    if (next.version <= version) {
      throw new IllegalArgumentException("next: version " + next.version + " (expected: more than " + version + ")");
    }
    Map<String, JsonNode> upserts = new HashMap<>();
    next.resources.forEach((key, value) -> {
      if (!value.equals(resources.get(key))) {
        upserts.put(key, value);
      }
    });
    Set<String> removals = new HashSet<>();
    for (String key : resources.keySet()) {
      if (!next.resources.containsKey(key)) {
        removals.add(key);
      }
    }
    return new PushDelta(version, next.version, upserts, removals);
  }

  /**
   * Returns the state {@code delta} leads to from this one.
   *
   * @throws IllegalArgumentException if the delta does not start at this version
   */
  public PushState apply(PushDelta delta) {
    requireNonNull(delta, "delta");
    if (delta.fromVersion() != version) {
      throw new IllegalArgumentException("delta: from version " + delta.fromVersion()
          + " (expected: " + version + ", the version it applies to)");
    }
    Map<String, JsonNode> next = new HashMap<>(resources);
    next.keySet().removeAll(delta.removals());
    next.putAll(delta.upserts());
    PushState state = new PushState(delta.toVersion(), Collections.unmodifiableMap(next));
    BigInteger known = hashSum;
    if (known != null) {
      state.hashSum = Json.hashAfter(known, resources, delta);
    }
    return state;
  }

  /** Two states are equal when their versions and resources are. */
  @Override
  public boolean equals(Object o) {
    return o instanceof PushState && ((PushState) o).version == version && ((PushState) o).resources.equals(resources);
  }

  @Override
  public int hashCode() {
    return Long.hashCode(version) * 31 + resources.hashCode();
  }

  /** Describes the state by version, size and hash, without the resources. */
  @Override
  public String toString() {
    return "PushState{version=" + version + ", resources=" + resources.size() + ", hash=" + hash() + "}";
  }
}
