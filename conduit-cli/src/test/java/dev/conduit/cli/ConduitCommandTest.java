package dev.conduit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Conduit;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConduitCommandTest {
  static TestOrigin origin;

  @BeforeAll
  static void origin() throws Exception {
    origin = TestOrigin.start();
  }

  @AfterAll
  static void close() {
    origin.close();
  }

  @Test
  void versionPrintsTheBuildVersion() {
    Cli.Result r = Cli.run("version");
    assertThat(r.exitCode()).as(r.toString()).isZero();
    assertThat(r.out()).startsWith("conduit 0.").contains("java " + Runtime.version().feature() + ".");
    assertThat(Cli.run("--version").out()).startsWith("conduit 0.");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "proxy --nope|Unknown option: '--nope'",
      "proxy --socks5-listen 127.0.0.1:0 --dial-timeout 10x|duration: '10x'",
      "proxy --socks5-listen 127.0.0.1:0 --dial-timeout 10|duration: '10'",
      "proxy --socks5-listen 127.0.0.1:0 --tcp-keepalive 1:2|tcp keepalive: 1:2",
      "proxy|no listener (expected at least one of --http-listen, --socks5-listen, --mixed-listen, --tproxy-listen, --redirect-listen)",
      "proxy --http-listen 127.0.0.1|--http-listen: address: 127.0.0.1 (expected: host:port)",
      "proxy --socks5-listen 127.0.0.1:0 --upstream-mode http|--upstream-mode http needs --upstream-addr IP:PORT",
      "proxy --socks5-listen 127.0.0.1:0 --upstream-mode ftp --upstream-addr 1.2.3.4:21|--upstream-mode: 'ftp'",
      "proxy --socks5-listen 127.0.0.1:0 --upstream-addr 10.0.0.2:3128|--upstream-addr needs --upstream-mode",
      "proxy --socks5-listen 127.0.0.1:0 --upstream http://a:1 --upstream-mode http|cannot be combined",
      "proxy --socks5-listen 127.0.0.1:0 --upstream ftp://a:1|expected scheme: http, https, socks5",
      "proxy --socks5-listen 127.0.0.1:0 --proxy-user alice|--proxy-user: 'alice' (expected: user:password)",
      "proxy --http-listen 127.0.0.1:0 --socks5-udp|--socks5-udp needs --socks5-listen or --mixed-listen",
      "proxy --socks5-listen 127.0.0.1:0 --socks5-udp --upstream http://a:1|--socks5-udp cannot be combined with an upstream proxy (datagrams go direct only)",
      "proxy --http-listen 127.0.0.1:0 --tproxy-udp|--tproxy-udp needs --tproxy-listen",
      "proxy --tproxy-listen 127.0.0.1:0 --tproxy-udp --upstream http://a:1|--tproxy-udp with --upstream needs one socks5:// upstream (datagrams go direct or through SOCKS5 UDP ASSOCIATE)",
      "proxy --tproxy-listen 127.0.0.1:0 --tproxy-udp --upstream socks5://a:1 --upstream socks5://b:1|--tproxy-udp with --upstream needs one socks5:// upstream (datagrams go direct or through SOCKS5 UDP ASSOCIATE)",
      "proxy --tproxy-listen 127.0.0.1:0 --socks5-udp|--socks5-udp needs --socks5-listen or --mixed-listen",
      "proxy --socks5-listen 127.0.0.1:0 --log-level loud|log level: 'loud'",
      "--http-listen 127.0.0.1:0 --log-format xml|log format: 'xml'",
      "--drain-timeout x|duration: 'x'",
      "run|Missing required option: '--config=FILE'",
      "-c /nonexistent/conduit.yaml|/nonexistent/conduit.yaml: no such file",
      "cert issue --ca-dir /tmp --name x --out-cert a --client --server|mutually exclusive",
      "bogus|Unmatched argument at index 0: 'bogus'",
      "(none)|missing command"})
  void badInputGivesOneLineAndExitCode2(String args, String expected) {
    Cli.Result r = Cli.run(args.equals("(none)") ? new String[0] : args.split(" "));
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(ExitCode.USAGE);
    assertThat(r.errLines()).as(r.toString()).hasSize(1);
    assertThat(r.err()).contains(expected).doesNotContain("Exception").doesNotContain("\tat ");
    assertThat(r.out()).isEmpty();
  }

  @Test
  void verboseAddsTheStackTrace() {
    Cli.Result r = Cli.run("--verbose", "-c", "/nonexistent/conduit.yaml");
    assertThat(r.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(r.errLines().get(0)).contains("no such file");
    assertThat(r.err()).contains("\tat ");
  }

  @Test
  void bindFailureIsExitCode1WithOneLine() throws Exception {
    try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      Cli.Result r = Cli.run("proxy", "--socks5-listen", "127.0.0.1:" + taken.getLocalPort());
      assertThat(r.exitCode()).as(r.toString()).isEqualTo(ExitCode.FAILURE);
      assertThat(r.errLines()).hasSize(1);
      assertThat(r.err()).contains("listener socks5: cannot bind /127.0.0.1:" + taken.getLocalPort(), "Address already in use");
    }
  }

  @Test
  void seed001FormWithoutSubcommandRunsTheProxy() throws Exception {
    Processes.requireTool("curl");
    try (Cli.Running running = Cli.start("--socks5-listen", "127.0.0.1:0", "--upstream-mode", "direct",
        "--dial-timeout", "5s", "--drain-timeout", "1s")) {
      Conduit conduit = running.conduit();
      assertThat(conduit.listeners()).extracting(l -> l.name()).containsExactly("socks5");
      int port = conduit.address("socks5").getPort();
      Processes.Result curl = Processes.run("curl", "-sS", "--max-time", "10", "--socks5", "127.0.0.1:" + port,
          origin.uri("/hello").toString());
      assertThat(curl.exitCode()).as(curl.stderr()).isZero();
      assertThat(curl.out()).isEqualTo("hello");
      Cli.Result r = running.stop();
      assertThat(r.exitCode()).as(r.toString()).isZero();
    }
  }

  @Test
  void seed001EqualsFormAndMixedListenerWithAuth() throws Exception {
    Processes.requireTool("curl");
    try (Cli.Running running = Cli.start("--mixed-listen=127.0.0.1:0", "--proxy-user", "alice:s3cret",
        "--drain-timeout=0")) {
      int port = running.conduit().address("mixed").getPort();
      Processes.Result ok = Processes.run("curl", "-sS", "--max-time", "10", "--socks5-hostname", "127.0.0.1:" + port,
          "--proxy-user", "alice:s3cret", "http://localhost:" + origin.port() + "/hello");
      assertThat(ok.exitCode()).as(ok.stderr()).isZero();
      assertThat(ok.out()).isEqualTo("hello");
      Processes.Result bad = Processes.run("curl", "-sS", "--max-time", "10", "--socks5", "127.0.0.1:" + port,
          origin.uri("/hello").toString());
      assertThat(bad.exitCode()).isNotZero();
      assertThat(running.stop().exitCode()).isZero();
    }
  }

  @Test
  void configShorthandRunsRun(@TempDir Path dir) throws Exception {
    Path yaml = dir.resolve("conduit.yaml");
    Files.writeString(yaml, "version: 1\nlisteners:\n  - {name: s, type: socks, listen: 127.0.0.1:0}\n");
    try (Cli.Running running = Cli.start("-c", yaml.toString())) {
      assertThat(running.conduit().address("s").getPort()).isPositive();
      assertThat(running.stop().exitCode()).isZero();
    }
  }

  @Test
  void helpListsTheCommands() {
    Cli.Result r = Cli.run("--help");
    assertThat(r.exitCode()).isZero();
    assertThat(r.out()).contains("proxy", "run", "check", "ca", "cert", "netfilter", "cache", "version");
    Cli.Result proxy = Cli.run("proxy", "--help");
    assertThat(proxy.out()).contains("--http-listen", "--socks5-listen", "--upstream-mode", "--upstream-addr",
        "--dial-timeout", "--negotiation-timeout", "--http-idle-timeout", "--tcp-keepalive", "--upstream=URL",
        "--mixed-listen", "--proxy-user", "--drain-timeout", "--relay-idle-timeout", "--log-level", "--log-format");
  }
}
