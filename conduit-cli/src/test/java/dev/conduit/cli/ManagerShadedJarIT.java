package dev.conduit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.command.ManagerCommandTest;
import dev.conduit.core.testing.FileWatch;
import dev.conduit.core.testing.MariaDbServer;
import dev.conduit.core.testing.PostgresServer;
import dev.conduit.core.testing.Processes;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code conduit manager} from the shaded jar as a child process: Flyway finds its SQLite, PostgreSQL and MariaDB support
 * (their META-INF/services entries merged), the JDBC drivers load, and the operator's commands reach it.
 */
class ManagerShadedJarIT {

  @TempDir
  Path dir;

  private static Path jar() {
    Path jar = Path.of(System.getProperty("conduit.jar", "target/conduit.jar"));
    assertThat(jar).as("built by package").exists();
    return jar;
  }

  private static List<String> conduit(String... args) {
    List<String> cmd = new ArrayList<>(Processes.java());
    cmd.add("-jar");
    cmd.add(jar().toString());
    cmd.addAll(List.of(args));
    return cmd;
  }

  private void runsAndAnswers(String yaml) throws Exception {
    Path file = dir.resolve("manager.yaml");
    Files.writeString(file, yaml);
    Path log = dir.resolve("stdout.log");
    Process p = new ProcessBuilder(conduit("manager", "-c", file.toString())).redirectErrorStream(true)
        .redirectOutput(log.toFile()).start();
    try {
      FileWatch.awaitText(log, "CA pin: sha256:", Duration.ofSeconds(90), p);
      Processes.Result token = Processes.run(60, conduit("manager", "token", "create", "--ttl", "10m", "-c",
          file.toString()));
      assertThat(token.exitCode()).as(token.stderr()).isZero();
      assertThat(token.out().strip()).matches("[a-z0-9]{6}\\.[a-z0-9]{16}");
      Processes.Result status = Processes.run(60, conduit("manager", "status", "-c", file.toString()));
      assertThat(status.out()).contains("0 approved, 0 pending, 0 revoked");
    } finally {
      p.destroy(); // SIGTERM: the manager stops gracefully
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    }
    assertThat(p.exitValue()).as(Files.readString(log)).isZero();
  }

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Test
  void managerOnSqliteFromTheJar() throws Exception {
    runsAndAnswers(ManagerCommandTest.SEED_MANAGER_YAML.replace("0.0.0.0:5051", "127.0.0.1:" + freePort())
        .replace("conduit_manager:\n", "conduit_manager:\n  push_listen: \"127.0.0.1:0\"\n")
        .replace("/opt/conduit/data/", dir.resolve("data") + "/")
        .replace("/opt/conduit/log/manager.log", dir.resolve("manager.log").toString()));
  }

  @Test
  void managerOnPostgresFromTheJar() throws Exception {
    try (PostgresServer server = PostgresServer.start()) {
      String url = server.createDatabase("jar");
      Path password = dir.resolve("db.password");
      Files.writeString(password, PostgresServer.PASSWORD + "\n");
      runsAndAnswers("""
          conduit_manager:
            listen: {network: tcp, addr: "127.0.0.1:%d"}
            push_listen: "127.0.0.1:0"
            data_dir: %s
          db:
            driver: postgres
            url: %s
            user: %s
            password_file: %s
          """.formatted(freePort(), dir.resolve("data"), url, PostgresServer.USER, password));
    }
  }

  @Test
  void managerOnMariaDbFromTheJarWithTheSeedsKeys() throws Exception {
    try (MariaDbServer server = MariaDbServer.start()) {
      server.createDatabase("manager");
      // seed 000's MySQL keys: address host:port, db, username, password
      runsAndAnswers("""
          conduit_manager:
            listen: {network: tcp, addr: "127.0.0.1:%d"}
            push_listen: "127.0.0.1:0"
            data_dir: %s
          db:
            driver: mysql
            address: 127.0.0.1:%d
            db: manager
            username: %s
            password: %s
            options: parseTime=true
            max_open_conn: 8
          """.formatted(freePort(), dir.resolve("data"), server.port(), MariaDbServer.USER, MariaDbServer.PASSWORD));
    }
  }
}
