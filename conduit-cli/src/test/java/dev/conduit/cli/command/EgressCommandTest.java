package dev.conduit.cli.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.Pem;
import dev.conduit.core.pki.TlsMaterial;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conduit.cli.Cli;
import dev.conduit.cli.CliContext;
import dev.conduit.cli.ConduitCommand;
import dev.conduit.cli.ExitCode;
import dev.conduit.cli.RunControl;
import dev.conduit.core.Conduit;
import dev.conduit.netfilter.Command;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.NetfilterException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code conduit egress gateway} and {@code conduit egress route} in a network namespace made by the
 * test (198.18.0.1/24 and fd00::1/64 on a veth whose peer, 198.18.0.2 / fd00::2, is on-link). Needs
 * root, nft and ip (skips elsewhere; fails under CI=true).
 */
class EgressCommandTest {

  static final CommandRunner HOST = CommandRunner.system();
  String ns;
  CommandRunner runner;

  @BeforeEach
  void namespace() throws Exception {
    String reason = null;
    if (!HOST.run(List.of("id", "-u"), "").stdout().strip().equals("0")) {
      reason = "needs root (network namespaces, nftables)";
    } else if (!HOST.run(List.of("sh", "-c", "command -v nft && command -v ip"), "").ok()) {
      reason = "needs nft and ip";
    }
    if (reason != null) {
      if ("true".equals(System.getenv("CI"))) {
        fail(reason + " (CI=true: system tests must run)");
      }
      assumeTrue(false, reason);
    }
    ns = "cdt-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24));
    HOST.run(Command.of("ip", "netns", "add", ns));
    runner = HOST.inNetworkNamespace(ns);
    for (String[] c : List.of(new String[] {"ip", "link", "set", "lo", "up"},
        new String[] {"ip", "link", "add", "cdt0", "type", "veth", "peer", "name", "cdt1"},
        new String[] {"ip", "link", "set", "cdt0", "up"}, new String[] {"ip", "link", "set", "cdt1", "up"},
        new String[] {"ip", "addr", "add", "198.18.0.1/24", "dev", "cdt0"},
        new String[] {"ip", "-6", "addr", "add", "fd00::1/64", "dev", "cdt0", "nodad"},
        new String[] {"sysctl", "-qw", "net.ipv4.ip_forward=1"},
        new String[] {"sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"})) {
      runner.run(Command.of(c));
    }
  }

  @AfterEach
  void removeNamespace() throws NetfilterException {
    if (ns != null) {
      HOST.run(Command.ignoringFailure("ip", "netns", "del", ns));
    }
  }

  String inNs(String... argv) throws NetfilterException {
    return runner.run(Command.of(argv)).stdout();
  }

  /** A long-running egress command on a thread of its own; {@link #stop()} is its SIGTERM. */
  final class Running implements AutoCloseable {
    final StringWriter out = new StringWriter();
    final StringWriter err = new StringWriter();
    final CompletableFuture<Void> started = new CompletableFuture<>();
    final CountDownLatch stop = new CountDownLatch(1);
    final CompletableFuture<Integer> exit = new CompletableFuture<>();

    Running(String... args) {
      RunControl control = new RunControl() {
        @Override
        public void started(Conduit conduit) {
          started.complete(null);
        }

        @Override
        public void awaitStop() throws InterruptedException {
          stop.await();
        }
      };
      Thread t = new Thread(() -> exit.complete(ConduitCommand.execute(new PrintWriter(out),
          new PrintWriter(err), new CliContext(control, runner), args)), "egress-cli-under-test");
      t.setDaemon(true);
      t.start();
    }

    Running awaitStarted() throws Exception {
      CompletableFuture.anyOf(started, exit).get(60, TimeUnit.SECONDS);
      assertThat(started.isDone()).as("exited before starting: out %s err %s", out, err).isTrue();
      return this;
    }

    Cli.Result stop() throws Exception {
      stop.countDown();
      int code = exit.get(60, TimeUnit.SECONDS);
      return new Cli.Result(code, out.toString(), err.toString());
    }

    @Override
    public void close() throws Exception {
      stop.countDown();
      exit.get(60, TimeUnit.SECONDS);
    }
  }

  @Test
  void gatewayEnforcesServesMetricsKeepsItsStateAndRemovesItsTableOnExit(@TempDir Path dir) throws Exception {
    Path state = dir.resolve("state");
    String[] common = {"egress", "gateway", "--table", "cdt_egress", "--protected-network", "198.18.0.0/24",
        "--protected-network", "fd00::/64", "--state-file", state.toString(), "--metrics-listen",
        "127.0.0.1:0", "--hostname", "gw-cli"};
    String[] first = concat(common, "--allowlist", "8.8.8.8,2606:4700::/32");
    try (Running gw = new Running(first).awaitStarted()) {
      String table = inNs("nft", "list", "table", "inet", "cdt_egress");
      assertThat(table).contains("8.8.8.8", "2606:4700::/32", "198.18.0.0/24", "masquerade", "drop");
      Matcher m = Pattern.compile("metrics on (http://\\S+/metrics)").matcher(gw.out.toString());
      assertThat(m.find()).as(gw.out.toString()).isTrue();
      HttpResponse<String> scrape = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(m.group(1)))
          .build(), HttpResponse.BodyHandlers.ofString());
      assertThat(scrape.statusCode()).isEqualTo(200);
      assertThat(scrape.body()).contains(
          "iptables_bytes_count{ip=\"8.8.8.8\",type=\"OUTPUT\",hostname=\"gw-cli\"} 0",
          "conduit_egress_bytes_total{address=\"2606:4700::/32\",direction=\"in\",hostname=\"gw-cli\"} 0");
      Cli.Result result = gw.stop();
      assertThat(result.exitCode()).as(result.toString()).isZero();
    }
    assertThat(inNs("nft", "list", "tables")).doesNotContain("cdt_egress");
    assertThat(Files.readString(state)).contains("8.8.8.8\n", "2606:4700::/32\n");

    // restarted without an allowlist: the state file's comes back
    try (Running gw = new Running(common).awaitStarted()) {
      assertThat(gw.out.toString()).contains("enforcing the 2 allowlist entries kept in " + state);
      assertThat(inNs("nft", "list", "set", "inet", "cdt_egress", "allow4_out")).contains("8.8.8.8");
      assertThat(inNs("nft", "list", "set", "inet", "cdt_egress", "allow6_in")).contains("2606:4700::/32");
    }
    assertThat(inNs("nft", "list", "tables")).doesNotContain("cdt_egress");
  }

  @Test
  void gatewayTakesItsAllowlistFromTheEgressServerAndReportsBack(@TempDir Path dir) throws Exception {
    CertificateAuthority ca = CertificateAuthority.builder().commonName("egress cli test CA").build();
    Path caFile = Files.writeString(dir.resolve("ca.pem"), Pem.encodeCertificate(ca.certificate()));
    Path tokenFile = Files.writeString(dir.resolve("token"), "gw-cli-token-0123456789abcdef\n");
    BlockingQueue<JsonNode> reports = new LinkedBlockingQueue<>();
    try (ConduitResources resources = ConduitResources.create()) {
      PushServer server = PushServer.builder(resources).bind(new InetSocketAddress("127.0.0.1", 0))
          .tls(TlsMaterial.of(ca.mintServerLeaf("127.0.0.1"), ca.certificate())).allowBearerTokens(true)
          .authorizer(peer -> peer.bearerToken().filter("gw-cli-token-0123456789abcdef"::equals).map(t -> "gw-cli"))
          .reportListener((agent, payload) -> reports.add(payload)).build();
      int port = server.start().getPort();
      try {
        server.publish(PushState.of(7, Map.of("8.8.4.4", JsonNodeFactory.instance.objectNode())));
        Path state = dir.resolve("state");
        try (Running gw = new Running("egress", "gateway", "--table", "cdt_egress", "--protected-network",
            "198.18.0.0/24", "--state-file", state.toString(), "--metrics-listen", "127.0.0.1:0", "--hostname",
            "gw-cli", "-iptables-wss-server", "127.0.0.1:" + port, "--server-ca", caFile.toString(),
            "--server-token-file", tokenFile.toString(), "--report-interval", "200ms").awaitStarted()) {
          assertThat(gw.out.toString()).contains("taking the allowlist from and reporting to wss://127.0.0.1:"
              + port + "/v1/push");
          JsonNode report = null;
          long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
          while (report == null || report.get("counters").findValuesAsText("address").isEmpty()) {
            assertThat(System.nanoTime()).as("a report counting the pushed address").isLessThan(deadline);
            report = reports.poll(1, TimeUnit.SECONDS);
          }
          assertThat(report.get("type").asText()).isEqualTo("egress-gateway");
          assertThat(report.get("counters").findValuesAsText("address")).containsExactly("8.8.4.4");
          assertThat(inNs("nft", "list", "set", "inet", "cdt_egress", "allow4_out")).contains("8.8.4.4");
          assertThat(Files.readString(state)).contains("8.8.4.4");
        }
      } finally {
        server.close();
      }
    }
    assertThat(inNs("nft", "list", "tables")).doesNotContain("cdt_egress");
  }

  @Test
  void gatewayRefusesAServerWithoutTlsTrustOrCredentials(@TempDir Path dir) throws Exception {
    Path ca = Files.writeString(dir.resolve("ca.pem"), Pem.encodeCertificate(
        CertificateAuthority.builder().commonName("x").build().certificate()));
    for (String[] bad : List.of(new String[] {"--server", "198.18.0.9:8080", "--server-ca: required with --server"},
        new String[] {"--server", "198.18.0.9:8080", "--server-ca", ca.toString(),
            "--server: needs --server-token-file, or --client-cert and --client-key"},
        new String[] {"--server", "ws://198.18.0.9:8080/", "--server-ca", ca.toString(),
            "--server: ws://198.18.0.9:8080/ (expected: HOST:PORT or wss://HOST:PORT/PATH)"},
        new String[] {"--server", "198.18.0.9:8080", "--server-ca", dir.resolve("none").toString(),
            "--server-ca: cannot read"})) {
      List<String> args = new java.util.ArrayList<>(List.of("egress", "gateway", "--table", "cdt_egress",
          "--state-file", dir.resolve("state").toString()));
      args.addAll(List.of(bad).subList(0, bad.length - 1));
      Cli.Result r = Cli.run(runner, args.toArray(new String[0]));
      assertThat(r.exitCode()).as(r.toString()).isEqualTo(ExitCode.USAGE);
      assertThat(r.errLines()).as(r.toString()).hasSize(1);
      assertThat(r.err()).contains(bad[bad.length - 1]);
    }
    assertThat(inNs("nft", "list", "tables")).doesNotContain("cdt_egress");
  }

  @Test
  void gatewayWithTheL7CheckDivertsTheWebPortsToItAndRemovesBothTablesOnExit(@TempDir Path dir) throws Exception {
    int port;
    try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
      port = free.getLocalPort();
    }
    try (Running gw = new Running("egress", "gateway", "--table", "cdt_egress", "--protected-network",
        "198.18.0.0/24", "--state-file", dir.resolve("state").toString(), "--metrics-listen", "127.0.0.1:0",
        "--allowlist", "8.8.8.8", "--l7-check", "--l7-check-port", Integer.toString(port), "--l7-ports", "443,8443",
        "--l7-dns-server", "[fd00::53]:5353").awaitStarted()) {
      assertThat(gw.out.toString()).contains("L7 check on port " + port + " for TCP ports [443, 8443]");
      assertThat(inNs("nft", "list", "table", "inet", "cdt_egress_l7"))
          .contains("tcp dport { 443, 8443 } redirect to :" + port);
      Matcher m = Pattern.compile("metrics on (http://\\S+/metrics)").matcher(gw.out.toString());
      assertThat(m.find()).as(gw.out.toString()).isTrue();
      assertThat(HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(m.group(1))).build(),
          HttpResponse.BodyHandlers.ofString()).body()).contains("conduit_egress_l7_denied_flows_total{hostname=");
      Cli.Result result = gw.stop();
      assertThat(result.exitCode()).as(result.toString()).isZero();
    }
    assertThat(inNs("nft", "list", "tables")).doesNotContain("cdt_egress");
    for (String[] bad : List.of(new String[] {"--l7-ports", "80", "--l7-ports and --l7-dns-server need --l7-check"},
        new String[] {"--l7-check", "--l7-ports=0", "l7Ports: 0 (expected: ports 1-65535)"},
        new String[] {"--l7-check", "--l7-dns-server=dns.example", "--l7-dns-server: dns.example (expected: an IP"
            + " literal with an optional port"})) {
      Cli.Result r = Cli.run(runner, "egress", "gateway", "--table", "cdt_egress", "--state-file",
          dir.resolve("state").toString(), bad[0], bad[1]);
      assertThat(r.exitCode()).as(r.toString()).isEqualTo(ExitCode.USAGE);
      assertThat(r.errLines()).as(r.toString()).hasSize(1);
      assertThat(r.err()).contains(bad[2]);
    }
    assertThat(inNs("nft", "list", "tables")).doesNotContain("cdt_egress");
  }

  @Test
  void gatewayRefusesBadEntriesWithOneLineAndInstallsNothing(@TempDir Path dir) throws Exception {
    Path state = dir.resolve("state");
    for (String[] bad : List.of(new String[] {"--allowlist", "10.0.0.1", "is private"},
        new String[] {"--allowlist", "127.1", "expected: an IPv4 literal"},
        new String[] {"--allowlist", "::ffff:169.254.169.254", "is link-local (ipv4-mapped form of 169.254.169.254)"},
        new String[] {"--allowlist", "8.8.8.8/8", "has host bits set"},
        new String[] {"--mode", "block", "--mode: block (expected: enforce or report-only)"},
        new String[] {"--metrics-listen", "localhost:99999", "--metrics-listen: localhost:99999"})) {
      Cli.Result r = Cli.run(runner, "egress", "gateway", "--table", "cdt_egress", "--state-file",
          state.toString(), bad[0], bad[1]);
      assertThat(r.exitCode()).as(r.toString()).isEqualTo(ExitCode.USAGE);
      assertThat(r.errLines()).as(r.toString()).hasSize(1);
      assertThat(r.err()).contains(bad[2]);
    }
    assertThat(inNs("nft", "list", "tables")).doesNotContain("cdt_egress");
    assertThat(state).doesNotExist();
  }

  @Test
  void theAllowlistFlagTakesSeveralPortsPerEntryAndStillSeveralEntriesPerFlag(@TempDir Path dir) throws Exception {
    String[] common = {"egress", "gateway", "--table", "cdt_egress", "--protected-network", "198.18.0.0/24",
        "--protected-network", "fd00::/64", "--state-file", dir.resolve("state").toString(), "--metrics-listen",
        "127.0.0.1:0"};
    try (Running gw = new Running(concat(common, "--allowlist", "8.8.8.8 443,8443,1.1.1.1",
        "--allowlist", "2606:4700::/32 443,853", "--allowlist", "9.9.9.9,2620:fe::/48 53")).awaitStarted()) {
      assertThat(inNs("nft", "list", "set", "inet", "cdt_egress", "allow4p_out"))
          .contains("8.8.8.8 . 443", "8.8.8.8 . 8443");
      assertThat(inNs("nft", "list", "set", "inet", "cdt_egress", "allow6p_out"))
          .contains("2606:4700::/32 . 443", "2606:4700::/32 . 853", "2620:fe::/48 . 53");
      assertThat(inNs("nft", "list", "set", "inet", "cdt_egress", "allow4_out")).contains("1.1.1.1", "9.9.9.9")
          .doesNotContain("8.8.8.8");
    }
  }

  @Test
  void gatewayInstallsThePortsOfFileAndPushedEntriesAndKeepsThem(@TempDir Path dir) throws Exception {
    Path state = dir.resolve("state");
    Path file = Files.writeString(dir.resolve("allowlist"), "8.8.8.8 443\n2606:4700::/32 443,853\n1.1.1.1\n");
    String[] common = {"egress", "gateway", "--table", "cdt_egress", "--protected-network", "198.18.0.0/24",
        "--protected-network", "fd00::/64", "--state-file", state.toString(), "--metrics-listen", "127.0.0.1:0"};
    try (Running gw = new Running(concat(common, "--allowlist-file", file.toString())).awaitStarted()) {
      assertThat(inNs("nft", "list", "set", "inet", "cdt_egress", "allow4p_out")).contains("8.8.8.8 . 443");
      assertThat(inNs("nft", "list", "set", "inet", "cdt_egress", "allow6p_in"))
          .contains("2606:4700::/32 . 443", "2606:4700::/32 . 853");
      assertThat(inNs("nft", "list", "set", "inet", "cdt_egress", "allow4_out")).contains("1.1.1.1")
          .doesNotContain("8.8.8.8");
    }
    assertThat(Files.readString(state)).contains("8.8.8.8 443\n", "2606:4700::/32 443,853\n", "1.1.1.1\n");
    try (Running gw = new Running(common).awaitStarted()) { // the state file's ports come back
      assertThat(inNs("nft", "list", "set", "inet", "cdt_egress", "allow4p_out")).contains("8.8.8.8 . 443");
    }

    CertificateAuthority ca = CertificateAuthority.builder().commonName("egress ports test CA").build();
    Path caFile = Files.writeString(dir.resolve("ca.pem"), Pem.encodeCertificate(ca.certificate()));
    Path tokenFile = Files.writeString(dir.resolve("token"), "gw-cli-token-0123456789abcdef\n");
    try (ConduitResources resources = ConduitResources.create()) {
      PushServer server = PushServer.builder(resources).bind(new InetSocketAddress("127.0.0.1", 0))
          .tls(TlsMaterial.of(ca.mintServerLeaf("127.0.0.1"), ca.certificate())).allowBearerTokens(true)
          .authorizer(peer -> peer.bearerToken().filter("gw-cli-token-0123456789abcdef"::equals).map(t -> "gw-cli"))
          .build();
      int port = server.start().getPort();
      try {
        var withPorts = JsonNodeFactory.instance.objectNode();
        withPorts.putArray("entries").add("api.example.com");
        withPorts.putArray("ports").add(443);
        var everyPort = JsonNodeFactory.instance.objectNode();
        everyPort.putArray("entries").add("9.9.9.9");
        everyPort.putArray("ports");
        server.publish(PushState.of(7, Map.of("8.8.4.4", withPorts, "9.9.9.9", everyPort)));
        try (Running gw = new Running(concat(common, "--server", "127.0.0.1:" + port, "--server-ca",
            caFile.toString(), "--server-token-file", tokenFile.toString())).awaitStarted()) {
          dev.conduit.core.testing.Poll.until("the pushed allowlist kept in the state file",
              java.time.Duration.ofSeconds(30), () -> {
                try {
                  return Files.readString(state).contains("8.8.4.4");
                } catch (java.io.IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              });
          assertThat(inNs("nft", "list", "set", "inet", "cdt_egress", "allow4p_out")).contains("8.8.4.4 . 443")
              .doesNotContain("8.8.8.8");
          assertThat(inNs("nft", "list", "set", "inet", "cdt_egress", "allow4_out")).contains("9.9.9.9");
          assertThat(Files.readString(state)).contains("8.8.4.4 443\n", "9.9.9.9\n");
        }
      } finally {
        server.close();
      }
    }

    Cli.Result bad = Cli.run(runner, concat(common, "--allowlist", "8.8.8.8 70000"));
    assertThat(bad.exitCode()).as(bad.toString()).isEqualTo(ExitCode.USAGE);
    assertThat(bad.errLines()).as(bad.toString()).hasSize(1);
    assertThat(bad.err()).contains("ports: 70000 (expected: 1-65535)");
    assertThat(inNs("nft", "list", "tables")).doesNotContain("cdt_egress");
  }

  @Test
  void routeRoutesThePublicSpaceViaTheGatewayAndRemovesItOnExit() throws Exception {
    try (Running route = new Running("egress", "route", "-iptables-gateway", "198.18.0.2", "--gateway",
        "fd00::2").awaitStarted()) {
      assertThat(route.out.toString()).contains("116 IPv4 prefixes via 198.18.0.2",
          "45 IPv6 prefixes via fd00::2");
      assertThat(inNs("ip", "-4", "route", "show", "proto", "193").lines()).hasSize(116);
      assertThat(inNs("ip", "-6", "route", "show", "proto", "193").lines()).hasSize(45);
      assertThat(inNs("ip", "-4", "route", "get", "172.64.0.1")).contains("via 198.18.0.2");
      assertThat(route.stop().exitCode()).isZero();
    }
    assertThat(inNs("ip", "-4", "route", "show", "proto", "193")).isBlank();
    assertThat(inNs("ip", "-6", "route", "show", "proto", "193")).isBlank();
  }

  @Test
  void routeReportsAGatewayThatIsNotOnLink() throws Exception {
    inNs("ip", "route", "add", "198.18.7.0/24", "via", "198.18.0.2");
    Cli.Result r = Cli.run(runner, "egress", "route", "-iptables-gateway", "198.18.7.1");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(ExitCode.FAILURE);
    assertThat(r.errLines()).hasSize(1);
    assertThat(r.err()).contains("egress gateway 198.18.7.1 is not on-link: this host reaches it via 198.18.0.2");
    Cli.Result usage = Cli.run(runner, "egress", "route", "-iptables-gateway", "0x7f.1");
    assertThat(usage.exitCode()).as(usage.toString()).isEqualTo(ExitCode.USAGE);
    assertThat(inNs("ip", "-4", "route", "show", "proto", "193")).isBlank();
  }

  static String[] concat(String[] a, String... b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
