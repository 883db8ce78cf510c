package dev.conduit.examples.boot;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Without conduit-bom, Spring Boot 3's BOM gives the application Netty 4.1. The application started on that
 * class path (this one with each Netty jar Boot manages replaced by Boot's version, as Maven would resolve
 * it) stops at conduit's start-up check with one message that names both versions and the fix, instead of a
 * bare {@code NoClassDefFoundError}.
 */
class BootManagedNettyTest {

  @Test
  void nettyFromSpringBootsBomIsRefusedByName() throws Exception {
    Path bootNetty = Path.of(System.getProperty("boot.managed.netty"));
    List<Path> replacements;
    try (Stream<Path> jars = Files.list(bootNetty)) {
      replacements = jars.filter(p -> p.toString().endsWith(".jar")).sorted().toList();
    }
    assertThat(replacements).isNotEmpty();
    Set<String> replaced = replacements.stream().map(p -> artifact(p.getFileName().toString()))
        .collect(Collectors.toSet());
    List<String> classPath = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      String name = Path.of(entry).getFileName().toString();
      if (!(name.startsWith("netty-") && replaced.contains(artifact(name)))) {
        classPath.add(entry);
      }
    }
    replacements.forEach(p -> classPath.add(p.toString()));
    String bootVersion = replacements.get(0).getFileName().toString().replaceAll("^.*-(4\\.1\\.[^-]*)\\.jar$", "$1");
    assertThat(bootVersion).startsWith("4.1.");

    Path log = Files.createTempFile("boot-netty", ".log");
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", String.join(File.pathSeparator, classPath), ProxyApplication.class.getName(),
        "--conduit.listen=127.0.0.1:0")
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("the application exits").isTrue();
      String output = Files.readString(log, StandardCharsets.UTF_8);
      assertThat(p.exitValue()).as(output).isNotZero();
      assertThat(output).contains("conduit needs Netty 4.2 (built with 4.2.18.Final), but the class path has"
          + " netty-buffer " + bootVersion + ", netty-codec " + bootVersion)
          .contains("with Spring Boot set the property netty.version=4.2.18.Final")
          .doesNotContain("NoClassDefFoundError");
    } finally {
      p.destroyForcibly();
      Files.deleteIfExists(log);
    }
  }

  /** {@code netty-codec-http-4.1.128.Final.jar} to {@code netty-codec-http}. */
  private static String artifact(String jar) {
    return jar.replaceAll("-\\d+\\.\\d+\\.\\d+\\.[A-Za-z0-9]+(-[a-z_0-9-]+)?\\.jar$", "");
  }
}
