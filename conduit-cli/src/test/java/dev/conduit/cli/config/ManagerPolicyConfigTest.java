package dev.conduit.cli.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.mesh.MeshPolicy;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code conduit_manager.policy} in manager.yaml: groups and grants, and clear errors at the line. */
class ManagerPolicyConfigTest {
  private static final String BASE = """
      conduit_manager:
        listen:
          network: tcp
          addr: 127.0.0.1:5051
      %s
      db:
        driver: sqlite
        address: ./data
        db: manager.db
      """;

  @TempDir
  Path dir;

  private ManagerConfig load(String policy) throws Exception {
    Path file = dir.resolve("manager.yaml");
    Files.writeString(file, BASE.formatted(policy));
    return ManagerConfig.load(file);
  }

  @Test
  void groupsAndGrantsAreRead() throws Exception {
    ManagerConfig config = load("""
          policy:
            groups:
              apps: [web-1, web-2]
              db: [mysql-1]
            allow:
              - {name: apps-to-mysql, from: apps, to: db, ports: ["3306", "33060-33062"]}
        """);
    MeshPolicy p = config.policy();
    assertThat(p.groups()).containsOnlyKeys("apps", "db");
    assertThat(p.groups().get("apps")).containsExactlyInAnyOrder("web-1", "web-2");
    assertThat(p.allows()).hasSize(1);
    assertThat(p.allows().get(0).ports()).extracting(Object::toString).containsExactly("3306", "33060-33062");
    assertThat(load("").policy().isEmpty()).isTrue();
  }

  @Test
  void badPoliciesNameTheLine() {
    assertThatThrownBy(() -> load("""
          policy:
            groups:
              apps: [web-1]
            allow:
              - {name: x, from: apps, to: nobody}
        """)).isInstanceOf(ConfigException.class).hasMessageContaining("group nobody is not defined");
    assertThatThrownBy(() -> load("""
          policy:
            groups:
              apps: [web-1]
            allow:
              - {name: x, from: apps, to: apps, ports: ["70000"]}
        """)).isInstanceOf(ConfigException.class).hasMessageContaining("70000");
    assertThatThrownBy(() -> load("""
          policy:
            groups:
              Apps: [web-1]
        """)).isInstanceOf(ConfigException.class).hasMessageContaining("name: 'Apps'");
    assertThatThrownBy(() -> load("""
          policy:
            allow:
              - {from: apps, to: apps}
        """)).isInstanceOf(ConfigException.class).hasMessageContaining("missing 'name'");
  }
}
