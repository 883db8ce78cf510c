package dev.conduit.core.runtime;

import static java.util.Objects.requireNonNull;

/**
 * The name and type of one role's section of the configuration, e.g. {@code SectionKey.of("cache",
 * CacheSettings.class)}. A role defines its key once, as a constant; the config loader stores the
 * parsed section under it and the role's {@link Service} reads it back, typed, on reload.
 *
 * <p>Keys are equal when name and type are.
 *
 * @param name the section's name, as in the configuration file (e.g. {@code cache})
 * @param type the section's value type: immutable, with {@code equals} (a record, typically)
 * @param <T> the section's value type
 */
public record SectionKey<T>(String name, Class<T> type) {

  /** Checks the arguments. */
  public SectionKey {
    requireNonNull(name, "name");
    requireNonNull(type, "type");
    if (name.isBlank()) {
      throw new IllegalArgumentException("name: blank (expected: the section's name, such as cache)");
    }
  }

  /** A key of this name and type. */
  public static <T> SectionKey<T> of(String name, Class<T> type) {
    return new SectionKey<>(name, type);
  }

  @Override
  public String toString() {
    return name + " (" + type.getSimpleName() + ")";
  }
}
