package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.Main;
import dev.conduit.core.testing.FileWatch;
import dev.conduit.core.testing.Poll;
import dev.conduit.core.testing.Processes;
import dev.conduit.netfilter.testing.NetNs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code conduit run -c FILE} as seed 000's client with {@code capture: true} in a namespace of its own: another
 * tool flushes the nat table, conduit applies its rules again, and {@code /metrics} counts the repair by table
 * and chain ({@code OUTPUT}'s jump missing, conduit's own chains altered). Needs root, ip, iptables and curl
 * (skips elsewhere; under CI=true it fails instead).
 */
class DriftMetricsSystemTest {
  private final List<AutoCloseable> cleanup = new ArrayList<>();

  @BeforeAll
  static void requireRoot() {
    NetNs.requireRootAnd("ip", "iptables-save", "ipset", "curl");
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (int i = cleanup.size() - 1; i >= 0; i--) {
      cleanup.get(i).close();
    }
  }

  @Test
  void repairsAreCountedByTableAndChainOnMetrics() throws Exception {
    NetNs ns = NetNs.bare();
    cleanup.add(ns);
    Path yaml = Files.createTempFile("drift", ".yaml");
    cleanup.add(() -> Files.deleteIfExists(yaml));
    Files.writeString(yaml, """
        client:
          enable: true
          network: tcp
          listen: 127.0.0.1:15080
          check_time: 0
          capture: true
          forward_table:
            - dst: 198.18.5.5:80
              dst_as: 127.0.0.1:80
              peer_index: 1
          peers:
            - index: 1
              network: tcp
              addresses:
                - 127.0.0.1:15081
        admin:
          listen: 127.0.0.1:9901
        """, StandardCharsets.UTF_8);
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns.name));
    cmd.addAll(Processes.java());
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "run", "-c",
        yaml.toString()));
    Path log = Files.createTempFile("drift", ".log");
    cleanup.add(() -> Files.deleteIfExists(log));
    Process conduit = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    cleanup.add(() -> {
      conduit.destroy();
      if (!conduit.waitFor(20, TimeUnit.SECONDS)) {
        conduit.destroyForcibly();
        conduit.waitFor(10, TimeUnit.SECONDS);
      }
    });
    String before = awaitMetrics(ns, conduit, log, "conduit_capture_drift_checks_total\\{[^}]*} [1-9]");
    assertThat(before).doesNotContain("conduit_capture_drift_repairs_total");

    ns.run("iptables", "-t", "nat", "-F"); // another tool flushes the table under conduit
    // the repair is logged (an event), then its series registered: /metrics is read after the line
    FileWatch.awaitText(log, "applied again (repair 1)", Duration.ofSeconds(60), conduit);
    String after = awaitMetrics(ns, conduit, log,
        "conduit_capture_drift_repairs_total\\{chain=\"OUTPUT\",change=\"missing\",prefix=\"CONDUIT\","
            + "table=\"ip/nat\"} 1\\.0");
    assertThat(after).containsPattern("conduit_capture_drift_repairs_total\\{chain=\"CONDUIT_[A-Z_]+\","
        + "change=\"altered\",prefix=\"CONDUIT\",table=\"ip/nat\"} 1\\.0");
    assertThat(after).contains("conduit_capture_drift_failures_total");
    // the rules are back
    assertThat(ns.run("iptables-save", "-t", "nat")).contains("-A OUTPUT");
    assertThat(Files.readString(log)).contains("applied again (repair 1)");
  }

  /**
   * {@code /metrics} once a line matches {@code pattern}: polled, as a check (every 2 s) announces itself nowhere
   * but there.
   */
  private static String awaitMetrics(NetNs ns, Process conduit, Path log, String pattern) throws Exception {
    Pattern p = Pattern.compile(pattern);
    AtomicReference<String> last = new AtomicReference<>("");
    try {
      Poll.until("a line " + pattern + " on /metrics", Duration.ofSeconds(60), () -> {
        try {
          assertThat(conduit.isAlive()).as("conduit exited: %s", Files.readString(log)).isTrue();
          last.set(ns.runner.run(List.of("curl", "-s", "http://127.0.0.1:9901/metrics"), "").stdout());
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
        return p.matcher(last.get()).find();
      });
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + ": " + last.get() + "\nlog: " + Files.readString(log), e);
    }
    return last.get();
  }
}
