package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.Cli;
import dev.conduit.cli.ExitCode;
import dev.conduit.cli.config.ConfigException;
import dev.conduit.cli.config.ManagerConfig;
import dev.conduit.core.control.enrol.NodeEnrolment;
import dev.conduit.core.control.store.NodeRole;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.testing.Poll;
import dev.conduit.core.testing.Processes;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code conduit manager -c manager.yaml} with seed 000's file, and the operator's commands against it. */
public class ManagerCommandTest {

  /** Seed 000's manager.yaml as its README writes it. */
  public static final String SEED_MANAGER_YAML = """
      conduit_manager:
        listen:
         network: "tcp"
         addr: "0.0.0.0:5051"

      db:
        driver: sqlite
        address: /opt/conduit/data/
        db: manager.db
        debug: false

      cert: # cert strategy for conduits
        ca:
          not_after: 1,0,0 # 1 year 0 month 0 day
          common_name: "conduit.com"
        cert:
          not_after: 1,0,0
          common_name: "conduit.com"
          organization: "moresec.com"

      log:
        maxsize: 10
        level: info
        file: /opt/conduit/log/manager.log
      """;

  @TempDir
  Path dir;

  @Test
  void seedManagerYamlReadsAsWritten() throws Exception {
    Path file = dir.resolve("manager.yaml");
    Files.writeString(file, SEED_MANAGER_YAML);
    ManagerConfig config = ManagerConfig.load(file);
    assertThat(config.bind().getPort()).isEqualTo(5051);
    assertThat(config.bind().getAddress().isAnyLocalAddress()).isTrue();
    assertThat(config.store().driver()).isEqualTo(StoreConfig.Driver.SQLITE);
    assertThat(config.store().file()).contains(Path.of("/opt/conduit/data/manager.db"));
    assertThat(config.dataDirectory()).isEqualTo(Path.of("/opt/conduit/data/"));
    assertThat(config.caCommonName()).isEqualTo("conduit.com");
    assertThat(config.caLifetime().toString()).isEqualTo("P1Y");
    assertThat(config.nodeLifetime().toString()).isEqualTo("P1Y");
    assertThat(config.nodeOrganization()).contains("moresec.com");
    assertThat(config.log().file()).contains("/opt/conduit/log/manager.log");
    assertThat(config.autoApprove()).isFalse();
    assertThat(config.localAddress()).isEqualTo("127.0.0.1:5051");
  }

  @Test
  void seedMysqlKeysMapToTheStore() throws Exception {
    Path file = dir.resolve("manager.yaml");
    Files.writeString(file, SEED_MANAGER_YAML.replace("""
          driver: sqlite
          address: /opt/conduit/data/
        """, """
          driver: mysql
          address: db.example:3307
          db: conduit
          username: conduit
          password: "s3cret"
          options: parseTime=true
          max_open_conn: 12
        """).replace("  db: manager.db\n", "").replace("conduit_manager:\n",
        "conduit_manager:\n  data_dir: /var/lib/conduit\n"));
    StoreConfig store = ManagerConfig.load(file).store();
    assertThat(store.driver()).isEqualTo(StoreConfig.Driver.MYSQL);
    assertThat(store.url()).isEqualTo("jdbc:mariadb://db.example:3307/conduit");
    assertThat(store.user()).contains("conduit");
    assertThat(store.password()).contains("s3cret");
    assertThat(store.poolSize()).isEqualTo(12);
    assertThat(store.toString()).doesNotContain("s3cret");
  }

  @Test
  void badManagerConfigurationsAreRefusedWithTheirLine() throws Exception {
    Path file = dir.resolve("manager.yaml");
    Files.writeString(file, SEED_MANAGER_YAML.replace("driver: sqlite", "driver: oracle"));
    Cli.Result oracle = Cli.run("manager", "-c", file.toString());
    assertThat(oracle.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(oracle.err()).contains("manager.yaml:7:").contains("expected: sqlite, postgres or mysql");
    Files.writeString(file, SEED_MANAGER_YAML.replace("driver: sqlite", "driver: mysql")
        .replace("address: /opt/conduit/data/", "address: db.example:3306?x"));
    assertThat(Cli.run("manager", "-c", file.toString()).err()).contains("manager.yaml:8:")
        .contains("expected: jdbc:mysql://HOST:PORT/DATABASE");
    Files.writeString(file, SEED_MANAGER_YAML.replace("driver: sqlite", "driver: mysql")
        .replace("address: /opt/conduit/data/", "address: db.example:3306"));
    assertThat(Cli.run("manager", "-c", file.toString()).err()).contains("missing 'data_dir'")
        .contains("with mysql every manager needs a copy of it");
    Files.writeString(file, SEED_MANAGER_YAML.replace("not_after: 1,0,0 # 1 year", "not_after: 1,0 # 1 year"));
    Cli.Result lifetime = Cli.run("manager", "-c", file.toString());
    assertThat(lifetime.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(lifetime.err()).contains("expected: years,months,days");
    Files.writeString(file, SEED_MANAGER_YAML.replace("  debug: false", "  debgu: false"));
    assertThat(Cli.run("manager", "-c", file.toString()).err()).contains("unknown key 'debgu'");
    assertThat(Cli.run("manager").err()).contains("missing -c manager.yaml");
    try {
      ManagerConfig.load(dir.resolve("none.yaml"));
    } catch (ConfigException e) {
      assertThat(e.getMessage()).contains("no such file");
    }
  }

  @Test
  void theManagerRunsFromTheSeedFileAndOperatorsDriveIt() throws Exception {
    Processes.requireTool("curl");
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path data = dir.resolve("data");
    Path file = dir.resolve("manager.yaml");
    Files.writeString(file, SEED_MANAGER_YAML.replace("0.0.0.0:5051", "127.0.0.1:" + port)
        .replace("conduit_manager:\n", "conduit_manager:\n  push_listen: \"127.0.0.1:0\"\n")
        .replace("/opt/conduit/data/", data + "/").replace("/opt/conduit/log/manager.log", dir + "/manager.log"));
    String c = file.toString();
    try (Cli.Running manager = Cli.start("manager", "-c", c)) {
      manager.conduit(); // started
      String pin = Files.readString(data.resolve("ca.crt")).isEmpty() ? "" : null;
      assertThat(pin).isNull();

      // a token for one node, which enrols with it
      Cli.Result token = Cli.run("manager", "token", "create", "--ttl", "1h", "-c", c);
      assertThat(token.exitCode()).as(token.toString()).isZero();
      String tokenValue = token.out().strip();
      assertThat(token.err()).contains("single use");
      Cli.Result status0 = Cli.run("manager", "status", "--json", "-c", c);
      String caPin = status0.out().replaceAll("(?s).*\"ca_pin\" : \"(sha256:[0-9a-f]+)\".*", "$1");
      try (NodeEnrolment a = node(port, dir.resolve("a"), "host-a", "198.18.0.60").token(tokenValue).caPin(caPin)
          .build()) {
        a.start();
      }
      // another without a token waits until approved with the command the manager logged
      NodeEnrolment b = node(port, dir.resolve("b"), "host-b", "198.18.0.61").caPin(caPin).build();
      CompletableFuture<Void> enrolled = CompletableFuture.runAsync(() -> {
        try {
          b.start();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      Poll.until("host-b pending", Duration.ofSeconds(30),
          () -> Cli.run("manager", "nodes", "ls", "-c", c).out().contains("pending"));
      Cli.Result ls = Cli.run("manager", "nodes", "ls", "-c", c);
      assertThat(ls.out()).contains("NAME").containsPattern("host-a\\s+approved\\s+both")
          .containsPattern("host-b\\s+pending");
      assertThat(Files.readString(dir.resolve("manager.log")))
          .contains("to admit it run: conduit manager nodes approve host-b -c " + file.toAbsolutePath());
      Cli.Result approve = Cli.run("manager", "nodes", "approve", "host-b", "-c", c);
      assertThat(approve.out()).contains("node host-b: approved");
      enrolled.get(30, TimeUnit.SECONDS);
      b.close();

      Cli.Result status = Cli.run("manager", "status", "-c", c);
      assertThat(status.out()).contains("CA pin " + caPin).contains("2 approved, 0 pending, 0 revoked");
      assertThat(Cli.run("manager", "nodes", "show", "host-a", "-c", c).out())
          .contains("\"identity\" : \"spiffe://conduit.mesh/node/host-a\"");

      // curl as the operator's client, with the manager's CA and the admin token
      Processes.Result curl = Processes.run("curl", "-sS", "--cacert", data.resolve("ca.crt").toString(),
          "-H", "Authorization: Bearer " + Files.readString(data.resolve("admin.token")).strip(),
          "https://127.0.0.1:" + port + "/v1/nodes/host-b");
      assertThat(curl.out()).contains("\"state\":\"approved\"").contains("\"role\":\"client\"");

      assertThat(Cli.run("manager", "nodes", "revoke", "host-a", "-c", c).out()).contains("node host-a: revoked");
      assertThat(Cli.run("manager", "nodes", "rm", "host-a", "-c", c).out()).contains("node host-a: removed");
      Cli.Result missing = Cli.run("manager", "nodes", "show", "host-a", "-c", c);
      assertThat(missing.exitCode()).isEqualTo(ExitCode.FAILURE);
      assertThat(missing.err()).contains("no such node").contains("HTTP 404");
      Cli.Result badTtl = Cli.run("manager", "token", "create", "--ttl", "90d", "-c", c);
      assertThat(badTtl.exitCode()).isEqualTo(ExitCode.FAILURE);
      assertThat(badTtl.err()).contains("expected: 1 minute to 30 days");

      Cli.Result stopped = manager.stop();
      assertThat(stopped.exitCode()).isZero();
      assertThat(stopped.out()).contains("CA pin: " + caPin);
    }
    // a restart keeps the CA and the nodes, and runs the membership push channel again
    try (Cli.Running again = Cli.start("manager", "-c", c)) {
      again.conduit();
      assertThat(Cli.run("manager", "status", "-c", c).out()).contains("1 approved");
      Cli.Result stopped = again.stop();
      assertThat(stopped.out()).containsPattern("membership push channel on wss://127\\.0\\.0\\.1:[1-9][0-9]*/v1/push");
    }
    Cli.Result down = Cli.run("manager", "status", "-c", c);
    assertThat(down.exitCode()).isEqualTo(ExitCode.FAILURE);
    assertThat(down.err()).contains("manager 127.0.0.1:" + port);
  }

  private static NodeEnrolment.Builder node(int port, Path state, String name, String ip) {
    return NodeEnrolment.builder(List.of("127.0.0.1:" + port), state).name(name)
        .role(name.equals("host-b") ? NodeRole.CLIENT : NodeRole.BOTH).addresses(List.of(ip))
        .serverAddress(ip + ":5053").backoff(Duration.ofMillis(50), Duration.ofMillis(500));
  }
}
