package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.Cli;
import dev.conduit.cli.EchoServer;
import dev.conduit.cli.ExitCode;
import dev.conduit.core.Conduit;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.testing.TestOrigin;
import dev.conduit.core.tunnel.MeshPlan;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seed 000's client-server example, its two files as written (ports moved to loopback, capture off),
 * run as two in-process {@code conduit run}s: host A's plain client listener reaches host B's "port 80"
 * service through the tunnel.
 */
class MeshRunTest {
  static TestOrigin origin;
  static EchoServer echo;

  @TempDir
  static Path dir;

  @BeforeAll
  static void start() throws Exception {
    origin = TestOrigin.start();
    echo = new EchoServer();
    CertificateAuthority ca = CertificateAuthority.builder().commonName("mesh CA").build();
    Files.writeString(dir.resolve("ca.pem"), ca.certificatePem());
    ca.issue(CertificateRequest.builder().commonName("b").ipAddress("127.0.0.1")
            .usages(CertificateRequest.Usage.SERVER).build())
        .writeTo(dir.resolve("b.pem"), dir.resolve("b.key"));
    ca.issue(CertificateRequest.builder().commonName("a").uri("spiffe://mesh/a")
            .usages(CertificateRequest.Usage.CLIENT).build())
        .writeTo(dir.resolve("a.pem"), dir.resolve("a.key"));
  }

  @AfterAll
  static void close() throws IOException {
    origin.close();
    echo.close();
  }

  /** Seed 000's server file; {@code tls} is the listen.tls block (may be empty), {@code extra} more server keys. */
  static Path serverFile(String name, String tls, String extra) throws IOException {
    Path f = dir.resolve(name);
    Files.writeString(f, """
        server:
          enable: true
          listen:
            network: tcp
            addr: 127.0.0.1:0 # Host B
        %s%s
        log:
          maxsize: 10
          level: debug
          file: %s
        """.formatted(indent(tls, 4), indent(extra, 2), dir.resolve(name + ".log")));
    return f;
  }

  /** Seed 000's client file, forward table {@code :80 -> 127.0.0.1:<target>} through peer 1 at {@code b}. */
  static Path clientFile(String name, int target, InetSocketAddress b, String tls) throws IOException {
    Path f = dir.resolve(name);
    Files.writeString(f, """
        client:
          enable: true
          network: tcp
          listen: 127.0.0.1:0 # Host A
          check_time: 60
          capture: false
          forward_table:
            - dst: :80 # ip:port or :port
              dst_as: 127.0.0.1:%d
              peer_index: 1
          peers:
            - index: 1
              network: tcp
              addresses:
                - 127.0.0.1:%d # Host B
        %s
        log:
          maxsize: 10
          level: debug
          file: %s
        """.formatted(target, b.getPort(), indent(tls, 6), dir.resolve(name + ".log")));
    return f;
  }

  static String indent(String block, int spaces) {
    if (block.isEmpty()) {
      return "";
    }
    String pad = " ".repeat(spaces);
    return block.lines().map(l -> pad + l).reduce((x, y) -> x + "\n" + y).orElse("");
  }

  static String tls(String side) {
    return """
        tls:
          enable: true
          mtls: true
          cas: [%s]
          certs:
            - cert: %s
              key: %s
        """.formatted(dir.resolve("ca.pem"), dir.resolve(side + ".pem"), dir.resolve(side + ".key"));
  }

  static String get(InetSocketAddress address) throws IOException {
    try (Socket s = new Socket(address.getAddress(), address.getPort())) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write("GET /hello HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n\r\n"
          .getBytes(StandardCharsets.US_ASCII));
      return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    }
  }

  @Test
  void plainTunnelCarriesTheClientListenersBytesToBsService() throws Exception {
    Path b = serverFile("b.yaml", "", "");
    try (Cli.Running runB = Cli.start("run", "-c", b.toString())) {
      Conduit conduitB = runB.conduit();
      Path a = clientFile("a.yaml", origin.port(), conduitB.address(MeshPlan.SERVER_LISTENER), "");
      try (Cli.Running runA = Cli.start("-c", a.toString())) { // seed 000's command line
        Conduit conduitA = runA.conduit();
        String response = get(conduitA.address(MeshPlan.CLIENT_LISTENER));
        assertThat(response).startsWith("HTTP/1.1 200").endsWith("hello");
        assertThat(Files.readString(dir.resolve("a.yaml.log"))).contains("WARN").contains("plain TCP");
        assertThat(runA.stop().exitCode()).isEqualTo(ExitCode.OK);
      }
    }
  }

  @Test
  void mutualTlsTunnel() throws Exception {
    Path b = serverFile("b-tls.yaml", tls("b"), "");
    try (Cli.Running runB = Cli.start("run", "-c", b.toString())) {
      Conduit conduitB = runB.conduit();
      Path a = clientFile("a-tls.yaml", origin.port(), conduitB.address(MeshPlan.SERVER_LISTENER), tls("a"));
      try (Cli.Running runA = Cli.start("run", "-c", a.toString())) {
        String response = get(runA.conduit().address(MeshPlan.CLIENT_LISTENER));
        assertThat(response).startsWith("HTTP/1.1 200").endsWith("hello");
        assertThat(Files.readString(dir.resolve("a-tls.yaml.log"))).doesNotContain("plain TCP");
      }
    }
  }

  @Test
  void multiplexedTunnelFromTheConfigKey() throws Exception {
    Path b = serverFile("b-h2.yaml", tls("b"), "");
    try (Cli.Running runB = Cli.start("run", "-c", b.toString())) {
      Conduit conduitB = runB.conduit();
      Path a = clientFile("a-h2.yaml", origin.port(), conduitB.address(MeshPlan.SERVER_LISTENER),
          tls("a") + "  multiplex: true\n");
      try (Cli.Running runA = Cli.start("run", "-c", a.toString())) {
        assertThat(runA.conduit().address(MeshPlan.CLIENT_LISTENER)).isNotNull();
        int tunnels = 12;
        for (int i = 0; i < tunnels; i++) {
          assertThat(get(runA.conduit().address(MeshPlan.CLIENT_LISTENER))).startsWith("HTTP/1.1 200").endsWith("hello");
        }
        // the tunnels were streams (ids <connection>.<stream>) of pooled connections (one per event loop of A)
        // that are still open on B
        java.util.List<dev.conduit.core.observe.ConnectionSummary> pooled = conduitB.connections().stream()
            .filter(c -> !c.connection().id().contains(".")).toList();
        assertThat(pooled.stream().mapToInt(dev.conduit.core.observe.ConnectionSummary::requests).sum())
            .isEqualTo(tunnels);
        assertThat(pooled.size()).isLessThan(tunnels);
      }
      Cli.Result check = Cli.run("check", "-c", a.toString());
      assertThat(check.exitCode()).as(check.toString()).isEqualTo(ExitCode.OK);
      assertThat(check.out()).contains("multiplex: true");
    }
    Path bad = serverFile("b-h2-bad.yaml", tls("b") + "  multiplex: true\n", "");
    Cli.Result refused = Cli.run("check", "-c", bad.toString());
    assertThat(refused.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(refused.err()).contains("server.listen.tls.multiplex");
  }

  @Test
  void checkAcceptsSeedFilesWithoutVersionAndAMeshMember() throws Exception {
    Path b = serverFile("b-check.yaml", tls("b"), "");
    Cli.Result ok = Cli.run("check", "-c", b.toString());
    assertThat(ok.exitCode()).as(ok.toString()).isEqualTo(ExitCode.OK);
    assertThat(ok.out()).contains("server:").containsPattern("addr: '?127.0.0.1:0");

    Path m = dir.resolve("manager.yaml");
    Files.writeString(m, """
        manager:
          enable: true
          dial:
            network: tcp
            addresses:
              - 172.168.0.17:5051
        server:
          enable: true
          listen: {network: tcp, addr: "127.0.0.1:0"}
        """);
    Cli.Result member = Cli.run("check", "-c", m.toString());
    assertThat(member.exitCode()).as(member.toString()).isEqualTo(ExitCode.OK);
    assertThat(member.out()).contains("manager:").contains("172.168.0.17:5051");

    Files.writeString(m, Files.readString(m) + "  allow: [{cidrs: [10.0.0.0/8]}]\n");
    Cli.Result refused = Cli.run("check", "-c", m.toString());
    assertThat(refused.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(refused.err()).contains("server.allow: set with manager.enable: true").hasLineCount(1);

    Path bad = dir.resolve("bad.yaml");
    Files.writeString(bad, "client:\n  enable: true\n  listen: 127.0.0.1:0\n  forward_table: []\n");
    Cli.Result invalid = Cli.run("check", "-c", bad.toString());
    assertThat(invalid.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(invalid.err()).contains("client.forward_table");
  }

  /** SIGHUP in-process: a new server.allow refuses new tunnels to the echo port; the open one keeps flowing. */
  @Test
  void reloadAppliesNewAllowRulesWithoutDroppingOpenTunnels() throws Exception {
    Path b = serverFile("b-reload.yaml", "", "");
    try (Cli.Running runB = Cli.start("run", "-c", b.toString())) {
      Conduit conduitB = runB.conduit();
      Path a = clientFile("a-reload.yaml", echo.port(), conduitB.address(MeshPlan.SERVER_LISTENER), "");
      try (Cli.Running runA = Cli.start("run", "-c", a.toString())) {
        InetSocketAddress client = runA.conduit().address(MeshPlan.CLIENT_LISTENER);
        try (Socket open = new Socket(client.getAddress(), client.getPort())) {
          open.setSoTimeout(10_000);
          assertThat(roundTrip(open, "before")).isEqualTo("before");
          assertThat(refused(client)).isFalse();

          serverFile("b-reload.yaml", "", """
              allow:
                - cidrs: [127.0.0.1/32]
                  ports: ["%d"]
              """.formatted(origin.port()));
          runB.reload();
          assertThat(roundTrip(open, "after")).isEqualTo("after");
          assertThat(refused(client)).isTrue();

          Files.writeString(b, "server: [not, valid");
          runB.reload(); // logged, the running configuration stays
          assertThat(roundTrip(open, "still")).isEqualTo("still");
          assertThat(refused(client)).isTrue();
        }
      }
    }
  }

  static String roundTrip(Socket s, String text) throws IOException {
    OutputStream out = s.getOutputStream();
    out.write(text.getBytes(StandardCharsets.US_ASCII));
    out.flush();
    byte[] buf = new byte[text.length()];
    InputStream in = s.getInputStream();
    int read = 0;
    while (read < buf.length) {
      int n = in.read(buf, read, buf.length - read);
      if (n < 0) {
        break;
      }
      read += n;
    }
    return new String(buf, 0, read, StandardCharsets.US_ASCII);
  }

  /** Whether a new connection through the tunnel is closed without an echo. */
  static boolean refused(InetSocketAddress client) throws IOException {
    try (Socket s = new Socket(client.getAddress(), client.getPort())) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write("x".getBytes(StandardCharsets.US_ASCII));
      return s.getInputStream().read() < 0;
    } catch (SocketException e) {
      return true; // reset
    }
  }
}
