package dev.conduit.cli.config;

/**
 * A role's section that writes itself into {@link ConduitConfig#describe()}: the effective
 * configuration as YAML, secrets masked.
 */
public interface YamlSection {

  /**
   * Appends this section as top-level YAML (its key and its values, defaults filled in, secrets masked).
   *
   * @param yaml the description being written
   */
  void describeTo(StringBuilder yaml);
}
