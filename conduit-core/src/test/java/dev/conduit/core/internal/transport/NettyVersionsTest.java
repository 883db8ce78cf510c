package dev.conduit.core.internal.transport;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.ConduitResources;
import io.netty.util.Version;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The start-up check reads what Netty's own {@link Version#identify} reports: here from a class loader
 * that sees Netty 4.1's version file, as a Spring Boot 3 application's class path does.
 */
class NettyVersionsTest {

  /** Netty's version file as its jars carry it, for the given artifacts and version. */
  private static Map<String, Version> identify(Path dir, String version, String... artifacts) throws Exception {
    StringBuilder p = new StringBuilder();
    for (String a : artifacts) {
      p.append(a).append(".version=").append(version).append('\n')
          .append(a).append(".buildDate=2025-01-01 00:00:00 +0000\n")
          .append(a).append(".commitDate=2025-01-01 00:00:00 +0000\n")
          .append(a).append(".shortCommitHash=0123456\n")
          .append(a).append(".longCommitHash=0123456789abcdef\n")
          .append(a).append(".repoStatus=clean\n");
    }
    Path meta = Files.createDirectories(dir.resolve(version).resolve("META-INF"));
    Files.writeString(meta.resolve("io.netty.versions.properties"), p);
    try (URLClassLoader loader = new URLClassLoader(new URL[] {dir.resolve(version).toUri().toURL()}, null)) {
      return Version.identify(loader);
    }
  }

  @Test
  void netty41IsRefusedNamingBothVersionsAndTheFix(@TempDir Path dir) throws Exception {
    Map<String, Version> boot = identify(dir, "4.1.118.Final", "netty-common", "netty-transport",
        "netty-tcnative-boringssl-static");
    assertThat(boot).containsKeys("netty-common", "netty-transport");
    assertThat(NettyVersions.incompatibility(boot, "4.2.18.Final")).hasValue(
        "conduit needs Netty 4.2 (built with 4.2.18.Final), but the class path has netty-common 4.1.118.Final,"
            + " netty-transport 4.1.118.Final. Manage Netty's version to 4.2.18.Final: with Spring Boot set the"
            + " property netty.version=4.2.18.Final (Maven and Gradle), or import io.netty:netty-bom:4.2.18.Final"
            + " (or dev.conduit:conduit-bom) before Spring Boot's BOM.");
  }

  @Test
  void netty42PassesAndMixedVersionsAreReported(@TempDir Path dir) throws Exception {
    assertThat(NettyVersions.incompatibility(identify(dir, "4.2.18.Final", "netty-common", "netty-handler"),
        "4.2.18.Final")).isEmpty();
    assertThat(NettyVersions.incompatibility(identify(dir, "5.0.0.Alpha2", "netty-common"), "4.2.18.Final")).isEmpty();
    Map<String, Version> mixed = new java.util.TreeMap<>(identify(dir, "4.2.18.Final", "netty-common"));
    mixed.putAll(identify(dir, "4.2.9.Final", "netty-handler"));
    assertThat(NettyVersions.mismatch(mixed)).hasValueSatisfying(w -> assertThat(w)
        .contains("netty-common=4.2.18.Final", "netty-handler=4.2.9.Final"));
    assertThat(NettyVersions.mismatch(identify(dir, "4.2.1.Final", "netty-common", "netty-handler"))).isEmpty();
  }

  @Test
  void theRealClassPathPassesAndNamesTheBuildVersion() throws Exception {
    Map<String, Version> real = Version.identify(NettyVersions.class.getClassLoader());
    assertThat(real).containsKey("netty-transport");
    assertThat(NettyVersions.incompatibility(real, NettyVersions.builtWith())).isEmpty();
    assertThat(NettyVersions.builtWith()).isEqualTo(real.get("netty-common").artifactVersion());
    ConduitResources.builder().ioThreads(1).build().close(); // the check runs there and passes
  }
}
