package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.Cli;
import dev.conduit.core.control.enrol.NodeEnrolment;
import dev.conduit.core.control.store.NodeRole;
import dev.conduit.core.testing.Poll;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * SIGHUP in mesh mode: a member run from seed 000's mesh {@code conduit.yaml} (a client on loopback, capture off)
 * re-reads its file through the reload action the signal handler runs. {@code client.check_time},
 * {@code client.multiplex} and {@code log.level} apply at once (seen on {@code /mesh/node} and in the log level;
 * {@code MeshTunnelsLiveTest} shows what the tunnels make of them); a changed manager address is refused in one log
 * line and the member keeps serving as before.
 */
class MeshReloadTest {

  @TempDir
  Path dir;

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private int clientPort;

  private String member(int managerPort, int pushPort, int checkTime, String extraClient, String level) {
    return """
        manager:
          enable: true
          dial:
            network: tcp
            addresses:
              - 127.0.0.1:%d
          name: host-a
          state_dir: %s
          push: ["127.0.0.1:%d"]
          addresses: [198.18.0.70]

        client:
          enable: true
          network: tcp
          listen: 127.0.0.1:%d
          check_time: %d
          capture: false
        %s
        admin:
          listen: 127.0.0.1:0

        log:
          maxsize: 10
          level: %s
          file: %s
        """.formatted(managerPort, dir.resolve("a"), pushPort, clientPort, checkTime, extraClient, level, dir.resolve("a.log"));
  }

  @Test
  void liveSettingsApplyAndAManagerChangeIsRefusedInOneLine() throws Exception {
    int managerPort = freePort();
    int pushPort = freePort();
    clientPort = freePort();
    Path managerFile = dir.resolve("manager.yaml");
    Files.writeString(managerFile, ManagerCommandTest.SEED_MANAGER_YAML.replace("0.0.0.0:5051", "127.0.0.1:" + managerPort)
        .replace("conduit_manager:\n", "conduit_manager:\n  push_listen: \"127.0.0.1:" + pushPort + "\"\n"
            + "  auto_approve: true\n")
        .replace("/opt/conduit/data/", dir.resolve("data") + "/")
        .replace("/opt/conduit/log/manager.log", dir.resolve("manager.log").toString()));
    try (Cli.Running manager = Cli.start("manager", "-c", managerFile.toString())) {
      manager.conduit();
      try (NodeEnrolment b = NodeEnrolment.builder(List.of("127.0.0.1:" + managerPort), dir.resolve("b"))
          .name("host-b").role(NodeRole.CLIENT).addresses(List.of("198.18.0.71")).backoff(Duration.ofMillis(50), Duration.ofMillis(500)).build()) {
        b.start();
      }
      Path file = dir.resolve("a.yaml");
      Files.writeString(file, member(managerPort, pushPort, 60, "", "info"));
      try (Cli.Running a = Cli.start("run", "-c", file.toString())) {
        a.conduit();
        HttpClient http = HttpClient.newHttpClient();
        URI node = URI.create(adminAddress(dir.resolve("a.log")) + "mesh/node");
        Poll.until("host-a sees host-b", Duration.ofSeconds(60), () -> get(http, node).contains("\"host-b\""));
        assertThat(get(http, node)).contains("\"check_time_seconds\": 60, \"multiplex\": false");

        // check_time, multiplex and the log level apply at once
        Files.writeString(file, member(managerPort, pushPort, 1, "  multiplex: true\n", "debug"));
        a.reload();
        assertThat(get(http, node)).contains("\"check_time_seconds\": 1, \"multiplex\": true");
        assertThat(((ch.qos.logback.classic.Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME))
            .getLevel()).hasToString("DEBUG");
        assertThat(Files.readString(dir.resolve("a.log"))).contains("mesh-node reloaded: client.check_time 60 s -> 1 s, "
            + "client.multiplex false -> true, log.level info -> debug");
        // another manager address needs a restart: one WARN line, the member keeps serving with what it had
        Files.writeString(file, member(managerPort + 1, pushPort, 1, "  multiplex: true\n", "debug"));
        a.reload();
        String log = Files.readString(dir.resolve("a.log"));
        assertThat(log.lines().filter(l -> l.contains("restart needed")))
            .containsExactly(log.lines().filter(l -> l.contains("WARN") && l.contains(
                "reload: mesh-node: manager.dial.addresses changed: restart needed (the running settings stay)"))
                .findFirst().orElseThrow());
        assertThat(get(http, node)).contains("\"connected\": true").contains("\"host-b\"")
            .contains("\"check_time_seconds\": 1, \"multiplex\": true");
        assertThat(get(http, URI.create(adminAddress(dir.resolve("a.log")) + "runtime")))
            .contains("\"mesh-node\":\"RESTART_NEEDED (manager.dial.addresses)\"");

        // the file as it was: check_time and the level go back, nothing needs a restart
        Files.writeString(file, member(managerPort, pushPort, 60, "", "info"));
        a.reload();
        assertThat(get(http, node)).contains("\"check_time_seconds\": 60, \"multiplex\": false");
        assertThat(get(http, URI.create(adminAddress(dir.resolve("a.log")) + "runtime")))
            .contains("\"mesh-node\":\"APPLIED (client.check_time 1 s -> 60 s, client.multiplex true -> false, "
                + "log.level debug -> info)\"");
        assertThat(a.stop().exitCode()).isZero();
      }
    }
  }

  private static String adminAddress(Path log) throws Exception {
    Matcher m = Pattern.compile("admin endpoint on (http://127\\.0\\.0\\.1:[0-9]+/)").matcher(Files.readString(log));
    assertThat(m.find()).as("the admin endpoint's address in the log").isTrue();
    return m.group(1);
  }

  private static String get(HttpClient http, URI uri) {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).build(),
          HttpResponse.BodyHandlers.ofString());
      return r.statusCode() + " " + r.body();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
