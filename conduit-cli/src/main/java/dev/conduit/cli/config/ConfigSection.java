package dev.conduit.cli.config;

import dev.conduit.core.runtime.SectionKey;

/**
 * One top-level section of the YAML configuration ({@code listeners}, {@code rules}, ...). Sections
 * are read in the order the {@link ConfigLoader} lists them, whatever their order in the file, so a
 * section may check names defined by an earlier one (rules check outbounds and listeners).
 *
 * <p>A role registers its section with {@link ConfigLoader#withSection}, typically as
 * {@link #typed typed(KEY, reader)}: the reader turns the node into the role's immutable section value,
 * stored under the role's {@link SectionKey} ({@link ConduitConfig#section}), which the role's runtime
 * service reads back, typed, at start and on reload. Roles are not fields of {@link ConduitConfig}.
 */
public interface ConfigSection {

  /** The top-level key. */
  String name();

  /**
   * Reads the section's node into the configuration being built.
   *
   * @param node the value under the key (may be {@linkplain ConfigNode#isNull() null})
   * @param config what the earlier sections built; this section adds to it
   * @throws ConfigException naming the line and what is wrong
   */
  void read(ConfigNode node, ConduitConfig.Builder config);

  /**
   * A role's section: {@code reader} makes its value from the node, stored under {@code key} (whose name
   * is the top-level key).
   *
   * @param key the role's section key
   * @param reader reads the node (the builder shows what earlier sections built)
   * @param <T> the section's type: immutable, with {@code equals}; implement {@link YamlSection} to
   *     appear in {@link ConduitConfig#describe()}
   * @return the section reader to register
   */
  static <T> ConfigSection typed(SectionKey<T> key,
      java.util.function.BiFunction<ConfigNode, ConduitConfig.Builder, T> reader) {
    java.util.Objects.requireNonNull(key, "key");
    java.util.Objects.requireNonNull(reader, "reader");
    return new ConfigSection() {
      @Override
      public String name() {
        return key.name();
      }

      @Override
      public void read(ConfigNode node, ConduitConfig.Builder config) {
        config.section(key, reader.apply(node, config));
      }
    };
  }

  /** Whether this build runs the section; unsupported sections are reported before anything else. */
  default boolean supported() {
    return true;
  }

  /**
   * A section that this build recognises but cannot run yet (e.g. seed 000's {@code manager}):
   * reading it fails with a clear message instead of "unknown key".
   *
   * @param name the top-level key
   * @param what what the section is for, e.g. {@code "the mTLS tunnel client"}
   */
  static ConfigSection unsupported(String name, String what) {
    return new ConfigSection() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public boolean supported() {
        return false;
      }

      @Override
      public void read(ConfigNode node, ConduitConfig.Builder config) {
        throw new ConfigException(node.file(), node.line(), "section '" + name + "' (" + what
            + ") is not supported yet by this build of conduit");
      }
    };
  }
}
