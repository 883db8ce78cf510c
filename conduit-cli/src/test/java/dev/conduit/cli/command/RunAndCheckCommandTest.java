package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.Cli;
import dev.conduit.cli.ExitCode;
import dev.conduit.core.Conduit;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunAndCheckCommandTest {
  static TestOrigin origin;

  @BeforeAll
  static void origin() throws Exception {
    origin = TestOrigin.start();
  }

  @AfterAll
  static void close() {
    origin.close();
  }

  static final String CONFIG = """
      version: 1
      listeners:
        - {name: web, type: http, listen: "127.0.0.1:0"}
        - {name: socks, type: socks, listen: "127.0.0.1:0"}
        - name: mixed
          type: mixed
          listen: 127.0.0.1:0
          auth:
            users: [{username: alice, password: s3cret}]
          allow_sources: [127.0.0.0/8]
      rules:
        - name: no-admin
          match: {ports: [1-1023]}
          action: reject
        - name: origin
          match: {listeners: [socks, mixed], cidrs: [127.0.0.0/8]}
          action: direct
      default: reject
      timeouts: {dial: 5s, drain: 1s}
      log: {level: info}
      """;

  @Test
  void runStartsTheConfiguredConduitAndCurlGoesThrough(@TempDir Path dir) throws Exception {
    Processes.requireTool("curl");
    Path yaml = dir.resolve("conduit.yaml");
    Files.writeString(yaml, CONFIG);
    try (Cli.Running running = Cli.start("run", "-c", yaml.toString())) {
      Conduit conduit = running.conduit();
      assertThat(conduit.listeners()).extracting(l -> l.name() + "/" + l.protocol().name())
          .containsExactly("web/http", "socks/socks", "mixed/mixed");
      int socks = conduit.address("socks").getPort();
      int mixed = conduit.address("mixed").getPort();
      Processes.Result viaSocks = Processes.run("curl", "-sS", "--max-time", "10", "--socks5", "127.0.0.1:" + socks,
          origin.uri("/hello").toString());
      assertThat(viaSocks.exitCode()).as(viaSocks.stderr()).isZero();
      assertThat(viaSocks.out()).isEqualTo("hello");
      Processes.Result viaMixed = Processes.run("curl", "-sS", "--max-time", "10", "--socks5", "127.0.0.1:" + mixed,
          "--proxy-user", "alice:s3cret", origin.uri("/hello").toString());
      assertThat(viaMixed.exitCode()).as(viaMixed.stderr()).isZero();
      assertThat(viaMixed.out()).isEqualTo("hello");
      // the default rejects what no rule allows: a name that is not in 127.0.0.0/8
      Processes.Result rejected = Processes.run("curl", "-sS", "--max-time", "10", "--socks5-hostname",
          "127.0.0.1:" + socks, "http://localhost:" + origin.port() + "/hello");
      assertThat(rejected.exitCode()).isNotZero();
      assertThat(running.stop().exitCode()).isZero();
    }
  }

  @Test
  void checkPrintsTheEffectiveConfigWithSecretsMasked(@TempDir Path dir) throws Exception {
    Path yaml = dir.resolve("conduit.yaml");
    Files.writeString(yaml, CONFIG);
    Cli.Result r = Cli.run("check", "-c", yaml.toString());
    assertThat(r.exitCode()).as(r.toString()).isZero();
    assertThat(r.out()).contains(": OK", "name: mixed", "password: '****'", "dial: 5s", "default: reject",
        "allow_sources: [127.0.0.0/8]").doesNotContain("s3cret");
    assertThat(Cli.run("check", "-q", "-c", yaml.toString()).out()).isEmpty();
  }

  @Test
  void checkReportsTheFirstErrorWithItsLine(@TempDir Path dir) throws Exception {
    Path yaml = dir.resolve("conduit.yaml");
    Files.writeString(yaml, CONFIG.replace("action: direct", "action: {via: corp}"));
    Cli.Result r = Cli.run("check", "-c", yaml.toString());
    assertThat(r.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(r.errLines()).containsExactly("conduit check: " + yaml + ":17: rules[1].action: no outbound named 'corp'");
  }
}
