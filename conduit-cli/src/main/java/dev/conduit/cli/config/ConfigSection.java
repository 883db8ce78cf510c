package dev.conduit.cli.config;

/**
 * One top-level section of the YAML configuration ({@code listeners}, {@code rules}, ...). Sections
 * are read in the order the {@link ConfigLoader} lists them, whatever their order in the file, so a
 * section may check names defined by an earlier one (rules check outbounds and listeners).
 *
 * <p>To add a section: implement this interface and register it with {@link ConfigLoader#withSection}.
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
