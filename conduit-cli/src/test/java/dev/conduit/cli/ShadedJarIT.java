package dev.conduit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.testing.FileWatch;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import dev.conduit.core.testing.UdpEcho;
import java.io.DataInputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The shaded {@code conduit.jar} as a child process: what users run. */
class ShadedJarIT {

  private static final Pattern BOUND = Pattern.compile("listener socks5 \\(socks\\) on /127\\.0\\.0\\.1:(\\d+)");

  private static Path jar() {
    Path jar = Path.of(System.getProperty("conduit.jar", "target/conduit.jar"));
    assertThat(jar).as("built by package").exists();
    return jar;
  }

  private static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /** Runs a prepared process (its environment set) to its end; output and errors read from files. */
  private static Processes.Result run(ProcessBuilder pb) throws Exception {
    Path out = Files.createTempFile("conduit-out", ".txt");
    Path err = Files.createTempFile("conduit-err", ".txt");
    Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    try {
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("exits within 60 s").isTrue();
      return new Processes.Result(p.exitValue(), Files.readAllBytes(out), Files.readString(err));
    } finally {
      p.destroyForcibly();
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  /**
   * Operators' configuration in a real process: environment variables override keys, a password comes from a
   * file, {@code check -c} prints the effective configuration without the secret, and that output, checked in
   * turn, prints the same; a bad variable is a usage error that names it.
   */
  @Test
  void environmentOverridesSecretFilesAndTheCheckRoundTrip() throws Exception {
    Path dir = Files.createTempDirectory("conduit-env");
    Path secret = Files.writeString(dir.resolve("alice"), "s3cret-from-file\n");
    Path yaml = Files.writeString(dir.resolve("conduit.yaml"), "version: 1\nlisteners:\n"
        + "  - {name: mixed, type: mixed, listen: 127.0.0.1:1080,\n"
        + "     auth: {users: [{username: alice, password: \"${file:" + secret + "}\"}]}}\nlog: {level: info}\n");
    ProcessBuilder check = new ProcessBuilder(java(), "-jar", jar().toString(), "check", "-c", yaml.toString());
    check.environment().put("CONDUIT_LOG__LEVEL", "debug");
    check.environment().put("CONDUIT_LISTENERS__0__LISTEN", "127.0.0.1:0");
    Processes.Result first = run(check);
    assertThat(first.exitCode()).as(first.stderr()).isZero();
    assertThat(first.out()).contains("level: debug", "listen: 127.0.0.1:0", "username: alice", "password: '****'")
        .doesNotContain("s3cret");
    Path printed = Files.writeString(dir.resolve("printed.yaml"), first.out());
    Processes.Result second = Processes.run(60, List.of(java(), "-jar", jar().toString(), "check", "-c",
        printed.toString()));
    assertThat(second.exitCode()).as(second.stderr()).isZero();
    assertThat(second.out().lines().skip(1).toList()).isEqualTo(first.out().lines().skip(1).toList());

    check.environment().put("CONDUIT_LOG__LEVEL", "loud");
    Processes.Result bad = run(check);
    assertThat(bad.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(bad.stderr()).contains("$CONDUIT_LOG__LEVEL: log.level: ");
  }

  /**
   * The jar serves curl, and SIGTERM or SIGINT stops it gracefully: the listener closes at once (a new client is
   * refused), a tunnel opened before the signal still carries a request, and the process exits 0.
   */
  @ParameterizedTest
  @ValueSource(strings = {"TERM", "INT"})
  void proxyServesCurlAndStopsGracefullyOnSignal(String signal) throws Exception {
    Processes.requireTool("curl");
    try (TestOrigin origin = TestOrigin.start()) {
      // a file, not a pipe: Process.destroy() closes the pipes, and the lines after the signal are the point
      Path log = Files.createTempFile("conduit-it", ".log");
      Process p = new ProcessBuilder(java(), "-jar", jar().toString(), "proxy", "--socks5-listen", "127.0.0.1:0",
          "--drain-timeout", "20s").redirectErrorStream(true).redirectOutput(log.toFile()).start();
      try {
        int port = FileWatch.awaitNumber(log, BOUND, Duration.ofSeconds(30), p);
        Processes.Result curl = Processes.run("curl", "-sS", "--max-time", "10", "--socks5-hostname",
            "127.0.0.1:" + port, "http://localhost:" + origin.port() + "/hello");
        assertThat(curl.exitCode()).as(curl.stderr()).isZero();
        assertThat(curl.out()).isEqualTo("hello");
        // the access line is written when conduit sees the close
        FileWatch.awaitText(log, "access - time=", Duration.ofSeconds(30), p);
        try (Socket tunnel = socks5Tunnel(port, origin.port())) {
          Processes.Result kill = Processes.run(10, List.of("kill", "-" + signal, Long.toString(p.pid())));
          assertThat(kill.exitCode()).as(kill.stderr()).isZero();
          FileWatch.awaitText(log, "SIG" + signal + " received", Duration.ofSeconds(30), p);
          assertThat(Files.readString(log)).contains("SIG" + signal + " received: stopping");
          // stops accepting at once...
          Processes.Result refused = Processes.run("curl", "-sS", "--max-time", "10", "--socks5-hostname",
              "127.0.0.1:" + port, "http://localhost:" + origin.port() + "/hello");
          assertThat(refused.exitCode()).as("curl's 'could not connect' " + refused.stderr()).isEqualTo(7);
          assertThat(p.isAlive()).as("draining while a tunnel is open").isTrue();
          // ...while the open tunnel still carries a request, after which it ends and the process exits
          tunnel.getOutputStream().write(("GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
          String response = new String(tunnel.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
          assertThat(response).startsWith("HTTP/1.1 200").endsWith("hello");
        }
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("exited after SIG" + signal).isTrue();
        List<String> all = Files.readAllLines(log);
        assertThat(p.exitValue()).as(String.join("\n", all)).isZero();
        assertThat(all).anyMatch(l -> l.endsWith("INFO  conduit - stopped"));
        assertThat(all).anyMatch(l -> l.contains("access - time=") && l.contains("destination=localhost:" + origin.port()));
      } finally {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
        Files.deleteIfExists(log);
      }
    }
  }

  /** A SOCKS5 tunnel (no auth, IPv4 CONNECT) through the proxy on {@code proxyPort} to 127.0.0.1:{@code port}. */
  private static Socket socks5Tunnel(int proxyPort, int port) throws Exception {
    Socket s = new Socket("127.0.0.1", proxyPort);
    s.setSoTimeout(10_000);
    DataInputStream in = new DataInputStream(s.getInputStream());
    s.getOutputStream().write(new byte[] {5, 1, 0});
    byte[] method = new byte[2];
    in.readFully(method);
    assertThat(method).containsExactly(5, 0);
    s.getOutputStream().write(new byte[] {5, 1, 0, 1, 127, 0, 0, 1, (byte) (port >> 8), (byte) port});
    byte[] reply = new byte[10];
    in.readFully(reply);
    assertThat(reply[1]).as("SOCKS5 reply").isZero();
    return s;
  }

  @Test
  void sighupReloadsRulesWithoutDroppingOpenTunnels(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    try (EchoServer echo = new EchoServer()) {
      Path yaml = dir.resolve("conduit.yaml");
      String config = """
          version: 1
          listeners:
            - {name: socks5, type: socks, listen: "127.0.0.1:0"}
          timeouts: {drain: 1s}
          """;
      Files.writeString(yaml, config);
      Path log = dir.resolve("conduit.log");
      Process p = new ProcessBuilder(java(), "-jar", jar().toString(), "run", "-c", yaml.toString())
          .redirectErrorStream(true).redirectOutput(log.toFile()).start();
      try {
        int port = waitFor(p, log, BOUND);
        java.net.Proxy socks = new java.net.Proxy(java.net.Proxy.Type.SOCKS,
            new java.net.InetSocketAddress("127.0.0.1", port));
        try (java.net.Socket open = new java.net.Socket(socks)) {
          open.setSoTimeout(10_000);
          open.connect(new java.net.InetSocketAddress("127.0.0.1", echo.port()), 10_000);
          assertThat(roundTrip(open, "before")).isEqualTo("before");

          Files.writeString(yaml, config + """
              rules:
                - name: no-echo
                  match: {cidrs: [127.0.0.1/32], ports: ["%d"]}
                  action: reject
              """.formatted(echo.port()));
          Processes.run(10, List.of("kill", "-HUP", Long.toString(p.pid())));
          waitFor(p, log, Pattern.compile("reloaded: (\\d+) rule"));

          assertThat(roundTrip(open, "after")).isEqualTo("after");
          try (java.net.Socket fresh = new java.net.Socket(socks)) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() ->
                fresh.connect(new java.net.InetSocketAddress("127.0.0.1", echo.port()), 10_000))
                .isInstanceOf(java.io.IOException.class);
          }
        }
        p.destroy();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(Files.readString(log)).isZero();
        assertThat(Files.readString(log)).contains("SIGHUP received").contains("rule=no-echo");
      } finally {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /** {@code --socks5-udp}: PySocks, a real SOCKS5 UDP client, relays datagrams through the jar. */
  @Test
  void socks5UdpFlagRelaysDatagrams(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    try (UdpEcho echo = new UdpEcho()) {
      Path log = dir.resolve("conduit.log");
      Process p = new ProcessBuilder(java(), "-jar", jar().toString(), "proxy", "--socks5-listen", "127.0.0.1:0",
          "--socks5-udp", "--drain-timeout", "0s").redirectErrorStream(true).redirectOutput(log.toFile()).start();
      try {
        int port = waitFor(p, log, BOUND);
        Processes.Result r = UdpEcho.throughPySocks(dir, port, echo.port());
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(r.out()).isEqualTo("echo:one True\necho:two True\n");
        assertThat(echo.received.get()).isEqualTo(2);
      } finally {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * In a network namespace the test makes (only {@code lo}, and an {@code unreachable} route to 198.18.0.2), a
   * destination without any route is "network unreachable" (SOCKS5 0x03, Proxy-Status
   * {@code destination_ip_unroutable}) and one whose route is unreachable is "host unreachable" (0x04,
   * {@code destination_unavailable}), although Netty's epoll transport reports both as the same exception.
   * Nothing leaves the namespace: both connects fail in the kernel's route lookup.
   */
  @Test
  void unreachableNetworkAndHostAreToldApartInANamespace(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    requireRootTools(List.of("ip", "curl"));
    String ns = "cdu-" + Integer.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextInt(1 << 24));
    assertThat(Processes.run(10, List.of("ip", "netns", "add", ns)).exitCode()).isZero();
    Process p = null;
    try {
      assertThat(Processes.run(10, List.of("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")).exitCode())
          .isZero();
      assertThat(Processes.run(10, List.of("ip", "netns", "exec", ns, "ip", "route", "add", "unreachable",
          "198.18.0.2/32")).exitCode()).isZero();
      Path log = dir.resolve("conduit.log");
      p = new ProcessBuilder("ip", "netns", "exec", ns, java(), "-jar", jar().toAbsolutePath().toString(), "proxy",
          "--socks5-listen", "127.0.0.1:1080", "--http-listen", "127.0.0.1:8080").redirectErrorStream(true)
          .redirectOutput(log.toFile()).start();
      waitFor(p, log, BOUND);
      String[][] cases = {{"198.18.0.1", "3", "destination_ip_unroutable", "network is unreachable"},
          {"198.18.0.2", "4", "destination_unavailable", "no route to host"}};
      for (String[] c : cases) {
        Processes.Result socks = Processes.run(20, List.of("ip", "netns", "exec", ns, "curl", "-sS", "--max-time", "5",
            "--socks5", "127.0.0.1:1080", "http://" + c[0] + "/"));
        assertThat(socks.stderr()).as(c[0]).contains("Can't complete SOCKS5 connection to " + c[0] + ". (" + c[1] + ")");
        Processes.Result http = Processes.run(20, List.of("ip", "netns", "exec", ns, "curl", "-sS", "-i", "--max-time",
            "5", "-x", "http://127.0.0.1:8080", "http://" + c[0] + "/"));
        assertThat(http.out()).as(c[0]).startsWith("HTTP/1.1 502 Bad Gateway")
            .contains("Proxy-Status: conduit; error=" + c[2] + ";")
            .endsWith("connect " + c[0] + ":80 (" + c[0] + ":80): " + c[3] + "\n");
      }
    } finally {
      if (p != null) {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
      }
      Processes.run(10, List.of("ip", "netns", "del", ns));
    }
  }

  /** Skips without root or {@code tools}, except under CI, where the test must run. */
  private static void requireRootTools(List<String> tools) throws Exception {
    if (!Processes.run(10, List.of("id", "-u")).out().strip().equals("0")) {
      String reason = "needs root (network namespaces)";
      org.junit.jupiter.api.Assertions.assertNotEquals("true", System.getenv("CI"), reason + " (CI=true: must run)");
      org.junit.jupiter.api.Assumptions.assumeTrue(false, reason);
    }
    tools.forEach(Processes::requireTool);
  }

  /**
   * Seed 000's client and server in one conduit, run as root in a network namespace the test makes: the
   * capture rules redirect a plain {@code curl 127.0.0.1:80} (nothing listens there) through the tunnel
   * to the service the forward table names, and are gone after SIGTERM.
   */
  @Test
  void rootClientCapturesTheForwardTableInANamespace(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    requireRootTools(List.of("ip", "iptables", "ipset", "curl", "python3"));
    String ns = "cdc-" + Integer.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextInt(1 << 24));
    assertThat(Processes.run(10, List.of("ip", "netns", "add", ns)).exitCode()).isZero();
    Process origin = null;
    Process p = null;
    try {
      Processes.run(10, List.of("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"));
      Files.writeString(dir.resolve("index.html"), "behind the tunnel\n");
      origin = new ProcessBuilder("ip", "netns", "exec", ns, "python3", "-u", "-m", "http.server", "18080", "--bind",
          "127.0.0.1", "--directory", dir.toString()).redirectErrorStream(true)
          .redirectOutput(dir.resolve("origin.log").toFile()).start();
      Path yaml = dir.resolve("conduit.yaml");
      Files.writeString(yaml, """
          server:
            enable: true
            listen: {network: tcp, addr: "127.0.0.1:15053"}
          client:
            enable: true
            network: tcp
            listen: 127.0.0.1:15052
            check_time: 60
            forward_table:
              - {dst: ":80", dst_as: "127.0.0.1:18080", peer_index: 1}
            peers:
              - {index: 1, network: tcp, addresses: ["127.0.0.1:15053"]}
          log: {level: info}
          """);
      Path log = dir.resolve("conduit.log");
      p = new ProcessBuilder("ip", "netns", "exec", ns, java(), "-jar", jar().toAbsolutePath().toString(), "-c",
          yaml.toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
      waitFor(p, log, Pattern.compile("capture: (\\d+) forward_table entry"));
      // python's http.server says so once it listens (-u: unbuffered, as the output is a file)
      FileWatch.awaitText(dir.resolve("origin.log"), "Serving HTTP on", Duration.ofSeconds(30), origin);
      Processes.Result curl = Processes.run(40, List.of("ip", "netns", "exec", ns, "curl", "-sS", "--max-time", "30",
          "http://127.0.0.1:80/index.html"));
      assertThat(curl.exitCode()).as(curl.stderr() + Files.readString(log)).isZero();
      assertThat(curl.out()).isEqualTo("behind the tunnel\n");
      assertThat(Processes.run(10, List.of("ip", "netns", "exec", ns, "iptables-save", "-t", "nat")).out())
          .contains("CONDUIT");

      p.destroy();
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).as(Files.readString(log)).isZero();
      assertThat(Files.readString(log)).contains("capture rules removed");
      assertThat(Processes.run(10, List.of("ip", "netns", "exec", ns, "iptables-save")).out())
          .doesNotContain("CONDUIT");
    } finally {
      if (p != null) {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
      }
      if (origin != null) {
        origin.destroyForcibly();
        origin.waitFor(10, TimeUnit.SECONDS);
      }
      Processes.run(10, List.of("ip", "netns", "del", ns));
    }
  }

  private static int waitFor(Process p, Path log, Pattern line) throws Exception {
    return FileWatch.awaitNumber(log, line, Duration.ofSeconds(30), p);
  }

  private static String roundTrip(java.net.Socket s, String text) throws java.io.IOException {
    s.getOutputStream().write(text.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    s.getOutputStream().flush();
    byte[] buf = new byte[text.length()];
    int read = 0;
    while (read < buf.length) {
      int n = s.getInputStream().read(buf, read, buf.length - read);
      if (n < 0) {
        break;
      }
      read += n;
    }
    return new String(buf, 0, read, java.nio.charset.StandardCharsets.US_ASCII);
  }

  @Test
  void badFlagExitsWith2AndOneLine() throws Exception {
    Processes.Result r = Processes.run(30, List.of(java(), "-jar", jar().toString(), "--http-listen", "127.0.0.1:0",
        "--dial-timeout", "soon"));
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.stderr().lines()).containsExactly("conduit proxy: Invalid value for option '--dial-timeout': duration:"
        + " 'soon' (expected: a number with a unit, such as 10s, 500ms, 4m, 1h30m or 90d) (see 'conduit proxy --help')");
    assertThat(r.out()).isEmpty();
  }

  @Test
  void versionAndPkiFromTheJar() throws Exception {
    Processes.Result v = Processes.run(30, List.of(java(), "-jar", jar().toString(), "version"));
    assertThat(v.exitCode()).as(v.stderr()).isZero();
    assertThat(v.out()).startsWith("conduit 0.1.0");
    Path dir = Files.createTempDirectory("conduit-it");
    try {
      // BouncyCastle from the shaded jar (signatures stripped) still builds certificates
      Processes.Result ca = Processes.run(60, List.of(java(), "-jar", jar().toString(), "ca", "init", "--dir",
          dir.resolve("ca").toString()));
      assertThat(ca.exitCode()).as(ca.stderr()).isZero();
      assertThat(ca.stderr()).isEmpty();
    } finally {
      try (var files = Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }
}
