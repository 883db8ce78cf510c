package dev.conduit.cli.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** {@code server.enforce} in conduit.yaml (the kernel's side is MeshEnforceSystemTest's, in conduit-netfilter). */
class MeshEnforceConfigTest {
  private static final String SERVER = "server:\n  enable: true\n  listen:\n    network: tcp\n"
      + "    addr: 198.18.0.11:5053\n";

  private static ConduitConfig load(String yaml) {
    return ConfigLoader.standard().load(yaml, "conduit.yaml");
  }

  @Test
  void portsAndAllowedSourcesAreRead() {
    ConduitConfig c = load(SERVER + "  enforce:\n    ports: [\"3306\", \"8000-8099\"]\n"
        + "    allow_sources: [10.0.0.0/8, \"fd00:9::/64\"]\n");
    MeshServerSection s = c.section(MeshServerSection.SECTION).orElseThrow();
    assertThat(s.enforcePorts()).containsExactly("3306", "8000-8099");
    assertThat(s.enforceAllowSources()).containsExactly("10.0.0.0/8", "fd00:9::/64");
    assertThat(load(SERVER).section(MeshServerSection.SECTION).orElseThrow().enforcePorts()).isEmpty();
  }

  @Test
  void badValuesNameTheLine() {
    assertThatThrownBy(() -> load(SERVER + "  enforce:\n    ports: [\"70000\"]\n"))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("conduit.yaml:7:").hasMessageContaining("70000");
    assertThatThrownBy(() -> load(SERVER + "  enforce:\n    allow_sources: [10.0.0.0/8]\n"))
        .isInstanceOf(ConfigException.class).hasMessageContaining("no ports");
    assertThatThrownBy(() -> load(SERVER + "  enforce:\n    ports: [\"3306\"]\n    allow_sources: [nowhere]\n"))
        .isInstanceOf(ConfigException.class).hasMessageContaining("nowhere");
    assertThatThrownBy(() -> load(SERVER + "  enforce:\n    port: [\"3306\"]\n"))
        .isInstanceOf(ConfigException.class).hasMessageContaining("unknown key 'port'");
  }
}
