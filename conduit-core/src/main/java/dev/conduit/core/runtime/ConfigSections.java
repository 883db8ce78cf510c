package dev.conduit.core.runtime;

import static java.util.Objects.requireNonNull;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * One configuration as typed sections, one per role, keyed by {@link SectionKey}: what a
 * {@link ConduitRuntime} hands every {@link Service} on reload. Immutable.
 *
 * <pre>{@code
 * ConfigSections sections = ConfigSections.builder().section(CACHE, cacheSettings).section(MESH, meshSettings).build();
 * sections.get(CACHE).ifPresent(...);
 * }</pre>
 */
public final class ConfigSections {
  private static final ConfigSections EMPTY = new ConfigSections(Map.of());

  private final Map<SectionKey<?>, Object> values;

  private ConfigSections(Map<SectionKey<?>, Object> values) {
    this.values = values;
  }

  /** No sections. */
  public static ConfigSections empty() {
    return EMPTY;
  }

  /** A builder. */
  public static Builder builder() {
    return new Builder();
  }

  /** The section under {@code key}, if the configuration has one. */
  public <T> Optional<T> get(SectionKey<T> key) {
    requireNonNull(key, "key");
    return Optional.ofNullable(key.type().cast(values.get(key)));
  }

  /** The keys present, in the order they were put. */
  public Set<SectionKey<?>> keys() {
    return Collections.unmodifiableSet(values.keySet());
  }

  /** A builder holding these sections, to change some. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.values.putAll(values);
    return b;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ConfigSections s && s.values.equals(values);
  }

  @Override
  public int hashCode() {
    return values.hashCode();
  }

  /** The section names (the values may hold secrets and are left out). */
  @Override
  public String toString() {
    return "ConfigSections" + values.keySet().stream().map(SectionKey::name).toList();
  }

  /** Builds {@link ConfigSections}. */
  public static final class Builder {
    private final Map<SectionKey<?>, Object> values = new LinkedHashMap<>();

    private Builder() {}

    /**
     * Adds a section, replacing one under the same key.
     *
     * @param key the section's key
     * @param value the section
     * @param <T> the section's type
     * @return this
     */
    public <T> Builder section(SectionKey<T> key, T value) {
      requireNonNull(key, "key");
      values.put(key, key.type().cast(requireNonNull(value, "value")));
      return this;
    }

    /** Removes the section under {@code key}, if any. */
    public Builder remove(SectionKey<?> key) {
      values.remove(requireNonNull(key, "key"));
      return this;
    }

    /** The immutable sections. */
    public ConfigSections build() {
      return values.isEmpty() ? EMPTY : new ConfigSections(Collections.unmodifiableMap(new LinkedHashMap<>(values)));
    }
  }
}
