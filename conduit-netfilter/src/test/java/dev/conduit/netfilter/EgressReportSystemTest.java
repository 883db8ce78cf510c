package dev.conduit.netfilter;

import dev.conduit.netfilter.testing.NetNs;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.push.PushClient;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.egress.EgressServer;
import dev.conduit.core.egress.EgressServerConfig;
import dev.conduit.core.testing.Dnsmasq;
import dev.conduit.core.net.IpPrefixSet;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.netfilter.egress.EgressPushApplier;
import dev.conduit.netfilter.egress.Allowlist;
import dev.conduit.netfilter.egress.EgressGateway;
import dev.conduit.netfilter.egress.EgressGatewayConfig;
import dev.conduit.netfilter.egress.EgressMode;
import dev.conduit.netfilter.egress.EgressReporter;
import dev.conduit.netfilter.egress.FlowLog;
import dev.conduit.netfilter.egress.ProcessLauncher;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway's reports to the egress server, for real in namespaces ({@link EgressLab}): a long flow in
 * {@code activeFlows} while it lasts (from the kernel's conntrack), per-address counters equal to what
 * the servers themselves counted, and report-only mode's denied destinations with the TLS SNI and HTTP
 * Host of their first packets (NFLOG read through tcpdump). Needs root, nft, conntrack, tcpdump, curl
 * and python3 (skips elsewhere; fails under CI=true).
 */
class EgressReportSystemTest {

  static final IpPrefixSet LAB = IpPrefixSet.parse("198.18.0.0/15", "fd00::/8");
  static EgressLab lab;
  static ProcessLauncher launcher;

  @BeforeAll
  static void setUp() throws Exception {
    NetNs.requireRootAnd("nft", "ip", "curl", "ss", "conntrack", "tcpdump", "/usr/bin/python3");
    lab = EgressLab.create();
    lab.client.run("ip", "route", "add", "198.19.2.0/24", "via", "198.18.1.1");
    lab.client.run("ip", "-6", "route", "add", "fd00:3::/64", "via", "fd00:1::1");
    launcher = ProcessLauncher.system().inNetworkNamespace(lab.gateway.name);
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (lab != null) {
      lab.close();
    }
  }

  static EgressGatewayConfig.Builder config() {
    return EgressGatewayConfig.builder().table("egress_r").protectedNetwork("198.18.1.0/24")
        .protectedNetwork("fd00:1::/64").flowLogGroup(17);
  }

  static Allowlist allow(String... entries) {
    return Allowlist.builder(LAB).entries(List.of(entries)).build();
  }

  static EgressReporter reporter(EgressGateway gw, Optional<FlowLog> flowLog, List<JsonNode> sent) {
    return new EgressReporter(gw, flowLog, launcher, r -> sent.add(r),
        new EgressReporter.Settings(Duration.ofMillis(200), 1000, 100), Clock.systemUTC());
  }

  static JsonNode counter(JsonNode report, String address) {
    return StreamSupport.stream(report.get("counters").spliterator(), false)
        .filter(c -> c.get("address").asText().equals(address)).findFirst()
        .orElseThrow(() -> new AssertionError("no counters of " + address + " in " + report));
  }

  static List<String> texts(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }

  @Test
  void aLongFlowIsAnActiveFlowWhileItLastsAndTheReportsAreSentEveryInterval() throws Exception {
    try (EgressGateway gw = EgressGateway.install(config().build(), allow("198.19.2.1", "fd00:3::1"),
        lab.gateway.runner)) {
      List<JsonNode> sent = new java.util.concurrent.CopyOnWriteArrayList<>();
      try (EgressReporter reporter = reporter(gw, Optional.empty(), sent)) {
        JsonNode idle = reporter.report();
        assertThat(idle.get("type").asText()).isEqualTo("egress-gateway");
        assertThat(idle.get("mode").asText()).isEqualTo("enforce");
        assertThat(texts(idle.get("activeFlows"))).isEmpty();
        // transfers the client stalls (a small receive window it does not read): established until it goes
        List<Process> slow = new ArrayList<>();
        for (String server : List.of("198.19.2.1", "fd00:3::1")) {
          Process p = new ProcessBuilder("ip", "netns", "exec", lab.client.name, "/usr/bin/python3", "-c", STALLED,
              server).redirectErrorStream(true).start();
          slow.add(p);
          String line = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(),
              java.nio.charset.StandardCharsets.UTF_8)).readLine();
          assertThat(line).as("the stalled client of " + server).isEqualTo("receiving");
        }
        try {
          reporter.start();
          lab.await(() -> sent.stream().anyMatch(r -> texts(r.get("activeFlows"))
              .containsAll(List.of("198.19.2.1", "fd00:3::1"))), () -> "both flows active in a report: " + sent);
          assertThat(slow).allMatch(Process::isAlive);
        } finally {
          for (Process p : slow) {
            p.destroy();
            p.waitFor(10, TimeUnit.SECONDS);
          }
        }
        // once the client is gone its flows close: the next reports no longer hold the addresses
        lab.await(() -> {
          try {
            return texts(reporter.report().get("activeFlows")).isEmpty();
          } catch (NetfilterException e) {
            throw new IllegalStateException(e);
          }
        }, "no active flows after the transfers ended");
      }
    }
  }

  @Test
  void theReportedCountersEqualTheBytesTheServersSawInBothDirections() throws Exception {
    try (EgressGateway gw = EgressGateway.install(config().build(), allow("198.19.2.2", "fd00:3::2"),
        lab.gateway.runner)) {
      List<String> servers = List.of("198.19.2.2", "fd00:3::2");
      List<long[]> base = new ArrayList<>();
      for (String s : servers) {
        base.add(lab.serverCounts(s));
      }
      for (String s : servers) {
        assertThat(lab.fetch(s)).isEqualTo("200 " + EgressLab.BLOB_BYTES);
      }
      List<JsonNode> sent = new ArrayList<>();
      EgressReporter reporter = reporter(gw, Optional.empty(), sent);
      for (int i = 0; i < servers.size(); i++) {
        String s = servers.get(i);
        lab.awaitCountsOfServer("reported counters", s, base.get(i), () -> {
          JsonNode c = counter(reporter.report(), s);
          return new long[] {c.get("packetsOut").asLong(), c.get("bytesOut").asLong(), c.get("packetsIn").asLong(),
              c.get("bytesIn").asLong()};
        });
        assertThat(counter(reporter.report(), s).get("bytesIn").asLong()).isGreaterThan(EgressLab.BLOB_BYTES);
      }
      assertThat(reporter.send()).isTrue();
      assertThat(sent).hasSize(1);
    }
  }

  @Test
  void reportOnlyReportsTheDeniedDestinationsWithTheirSniAndHost() throws Exception {
    EgressGatewayConfig cfg = config().mode(EgressMode.REPORT_ONLY).build();
    try (EgressGateway gw = EgressGateway.install(cfg, allow("198.19.2.1"), lab.gateway.runner);
        FlowLog flowLog = FlowLog.start(17, launcher, 100)) {
      // tcpdump binds the group a moment after it starts: flows before that are not seen
      lab.await(() -> {
        try {
          return lab.gateway.run("cat", "/proc/net/netfilter/nfnetlink_log").lines()
              .anyMatch(l -> l.strip().startsWith("17 "));
        } catch (NetfilterException e) {
          return false;
        }
      }, () -> "tcpdump listening on NFLOG group 17 (" + flowLog + ")");
      // plain HTTP with a Host, and TLS (a ClientHello to an HTTP server: the handshake fails, the SNI passed)
      assertThat(lab.client.runner.run(List.of("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
          "--resolve", "plain.example.net:8000:198.19.2.2", "http://plain.example.net:8000/blob"), "")
          .stdout()).isEqualTo("200");
      lab.client.runner.run(List.of("curl", "-sS", "-k", "--max-time", "10", "--resolve",
          "secure.example.org:8000:198.19.2.2", "https://secure.example.org:8000/"), "");
      assertThat(lab.client.runner.run(List.of("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
          "-H", "Host: api.example.com", "http://[fd00:3::2]:8000/blob"), "").stdout()).isEqualTo("200");
      assertThat(lab.fetch("198.19.2.1")).isEqualTo("200 " + EgressLab.BLOB_BYTES);

      EgressReporter reporter = reporter(gw, Optional.of(flowLog), new ArrayList<>());
      JsonNode[] last = {null};
      lab.await(() -> {
        try {
          last[0] = reporter.report();
          JsonNode v4 = denied(last[0], "198.19.2.2");
          JsonNode v6 = denied(last[0], "fd00:3::2");
          return v4 != null && v6 != null && "secure.example.org".equals(v4.path("sni").asText(null))
              && "plain.example.net".equals(v4.path("host").asText(null))
              && "api.example.com".equals(v6.path("host").asText(null));
        } catch (NetfilterException e) {
          throw new IllegalStateException(e);
        }
      }, () -> "the denied destinations with their names in " + last[0]);
      JsonNode report = last[0];
      assertThat(report.get("mode").asText()).isEqualTo("report");
      JsonNode v4 = denied(report, "198.19.2.2");
      assertThat(v4.get("port").asInt()).isEqualTo(8000);
      assertThat(v4.get("count").asLong()).isGreaterThanOrEqualTo(2);
      assertThat(v4.get("lastSeen").asText()).matches("\\d{4}-\\d\\d-\\d\\dT.*Z");
      assertThat(denied(report, "fd00:3::2").get("sni").isNull()).isTrue();
      assertThat(denied(report, "198.19.2.1")).as("allowlisted: not denied").isNull();
      assertThat(flowLog.running()).isTrue();
    }
  }

  /**
   * Requests /blob, reads its first bytes, stalls with a small window until a line arrives on its input, then reads
   * the rest and prints how many bytes it got.
   */
  static final String LONG = String.join("\n",
      "import socket, sys",
      "host = sys.argv[1]",
      "s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)",
      "s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)",
      "s.connect((host, 8000))",
      "s.sendall(b'GET /blob HTTP/1.1\\r\\nHost: lab\\r\\nConnection: close\\r\\n\\r\\n')",
      "got = len(s.recv(100))",
      "print('receiving', flush=True)",
      "sys.stdin.readline()",
      "while True:",
      "    b = s.recv(65536)",
      "    if not b:",
      "        break",
      "    got += len(b)",
      "print('done', got, flush=True)");

  @Test
  void aLongTransferToAnAddressTheDnsDroppedCompletesBeforeTheServerRemovesIt(@TempDir Path dir) throws Exception {
    NetNs.requireRootAnd("/usr/sbin/dnsmasq");
    CertificateAuthority ca = CertificateAuthority.builder().commonName("egress grace test CA").build();
    String admin = "admin-token-0123456789abcdef";
    String token = "gateway-token-0123456789abcdef";
    HttpClient http = HttpClient.newHttpClient();
    try (Dnsmasq dns = Dnsmasq.start(dir, "198.19.2.1 api.example.com\n", 1);
        ConduitResources resources = ConduitResources.create();
        EgressGateway gw = EgressGateway.install(config().build(), Allowlist.empty(), lab.gateway.runner);
        EgressServer server = EgressServer.start(EgressServerConfig.builder(
                StoreConfig.sqlite(dir.resolve("egress.db")).build())
            .bind(new InetSocketAddress("127.0.0.1", 0)).adminToken("ops", admin)
            .bindPush(new InetSocketAddress("127.0.0.1", 0), TlsMaterial.of(ca.mintServerLeaf("127.0.0.1"),
                ca.certificate()))
            .gatewayToken("gw", token).dnsServers(List.of(dns.address())).allowedSpecial(LAB)
            .resolveInterval(Duration.ofSeconds(2)).minResolveInterval(Duration.ofSeconds(1))
            .gracePeriod(Duration.ofSeconds(2)).tickInterval(Duration.ofMillis(200)).build());
        PushClient client = PushClient.builder(resources)
            .addresses(List.of(URI.create("wss://127.0.0.1:" + server.pushAddress().orElseThrow().getPort()
                + PushServer.DEFAULT_PATH)))
            .trustAnchors(List.of(ca.certificate())).bearerToken(token).identity("gw", "egress-gateway")
            .applier(new EgressPushApplier(gw, LAB, Optional.empty()))
            .backoff(Duration.ofMillis(50), Duration.ofMillis(500)).build();
        EgressReporter reporter = new EgressReporter(gw, Optional.empty(), launcher, client::report,
            new EgressReporter.Settings(Duration.ofMillis(200), 1000, 100), Clock.systemUTC())) {
      client.start();
      reporter.start();
      String api = "http://127.0.0.1:" + server.httpAddress().getPort() + "/api/v1/entries";
      HttpResponse<String> added = http.send(HttpRequest.newBuilder(URI.create(api))
          .header("Authorization", "Bearer " + admin)
          .POST(HttpRequest.BodyPublishers.ofString("{\"value\":\"api.example.com\"}")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(added.statusCode()).as(added.body()).isEqualTo(201);
      String blob = "200 " + EgressLab.BLOB_BYTES;
      lab.await(() -> fetchQuietly("198.19.2.1").equals(blob), "the domain's address allowlisted");

      Process transfer = new ProcessBuilder("ip", "netns", "exec", lab.client.name, "/usr/bin/python3", "-c", LONG,
          "198.19.2.1").redirectErrorStream(true).start();
      try {
        java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(
            transfer.getInputStream(), java.nio.charset.StandardCharsets.UTF_8));
        assertThat(out.readLine()).isEqualTo("receiving");
        dns.hosts("198.19.2.2 api.example.com\n");
        lab.await(() -> fetchQuietly("198.19.2.2").equals(blob), "the new address allowlisted");
        // the old address's grace period is over, yet the server keeps it: the gateway reports the flow
        String[] last = {""};
        lab.await(() -> {
          try {
            last[0] = http.send(HttpRequest.newBuilder(URI.create(api)).header("Authorization", "Bearer " + admin)
                .build(), HttpResponse.BodyHandlers.ofString()).body();
            JsonNode entry = new com.fasterxml.jackson.databind.ObjectMapper().readTree(last[0]).get("entries").get(0);
            for (JsonNode a : entry.get("addresses")) {
              if (a.get("address").asText().equals("198.19.2.1") && a.get("graceUntil").isTextual()
                  && java.time.Instant.parse(a.get("graceUntil").asText()).isBefore(java.time.Instant.now()
                      .minusSeconds(1))) {
                return true;
              }
            }
            return false;
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        }, () -> "198.19.2.1 held past its grace period: " + last[0]);
        assertThat(lab.gateway.run("nft", "list", "set", "inet", "egress_r", "allow4_out")).contains("198.19.2.1");
        assertThat(transfer.isAlive()).isTrue();
        // the transfer resumes and completes: then the address goes
        transfer.getOutputStream().write('\n');
        transfer.getOutputStream().flush();
        String done = out.readLine();
        assertThat(done).startsWith("done ");
        assertThat(Long.parseLong(done.substring(5))).isGreaterThan(EgressLab.BLOB_BYTES);
        lab.await(() -> {
          try {
            return !lab.gateway.run("nft", "list", "set", "inet", "egress_r", "allow4_out").contains("198.19.2.1");
          } catch (NetfilterException e) {
            throw new IllegalStateException(e);
          }
        }, "198.19.2.1 removed once its flow ended");
        assertThat(fetchQuietly("198.19.2.1")).startsWith("exit");
      } finally {
        transfer.destroy();
        transfer.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  static String fetchQuietly(String server) {
    try {
      return lab.fetch(server);
    } catch (Exception e) {
      return "error " + e;
    }
  }

  /** Requests /blob, reads its first bytes, then stalls with a small window until killed. */
  static final String STALLED = String.join("\n",
      "import socket, sys",
      "host = sys.argv[1]",
      "s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)",
      "s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)",
      "s.connect((host, 8000))",
      "s.sendall(b'GET /blob HTTP/1.1\\r\\nHost: lab\\r\\n\\r\\n')",
      "s.recv(100)",
      "print('receiving', flush=True)",
      "sys.stdin.read()");

  @Test
  void theReportsReachTheServerThroughThePushChannelThatFeedsTheGateway() throws Exception {
    CertificateAuthority ca = CertificateAuthority.builder().commonName("egress report test CA").build();
    String token = "gateway-token-0123456789abcdef";
    BlockingQueue<JsonNode> received = new LinkedBlockingQueue<>();
    List<String> agents = new java.util.concurrent.CopyOnWriteArrayList<>();
    try (ConduitResources resources = ConduitResources.create();
        EgressGateway gw = EgressGateway.install(config().build(), Allowlist.empty(), lab.gateway.runner)) {
      PushServer server = PushServer.builder(resources).bind(new InetSocketAddress("127.0.0.1", 0))
          .tls(TlsMaterial.of(ca.mintServerLeaf("127.0.0.1"), ca.certificate()))
          .allowBearerTokens(true)
          .authorizer(peer -> peer.bearerToken().filter(token::equals).map(t -> "gw-lab"))
          .reportListener((agent, payload) -> {
            agents.add(agent);
            received.add(payload);
          }).build();
      InetSocketAddress bound = server.start();
      try {
        server.publish(PushState.of(1, Map.of("198.19.2.2", com.fasterxml.jackson.databind.node.JsonNodeFactory
            .instance.objectNode())));
        PushClient client = PushClient.builder(resources)
            .addresses(List.of(URI.create("wss://127.0.0.1:" + bound.getPort() + PushServer.DEFAULT_PATH)))
            .trustAnchors(List.of(ca.certificate())).bearerToken(token).identity("gw-lab", "egress-gateway")
            .backoff(Duration.ofMillis(50), Duration.ofMillis(500))
            .applier(new EgressPushApplier(gw, LAB, Optional.empty())).build();
        client.start();
        try (EgressReporter reporter = new EgressReporter(gw, Optional.empty(), launcher, client::report,
            new EgressReporter.Settings(Duration.ofMillis(200), 1000, 100), Clock.systemUTC())) {
          lab.await(() -> !gw.allowlist().entries().isEmpty(), "the pushed allowlist installed");
          assertThat(lab.fetch("198.19.2.2")).isEqualTo("200 " + EgressLab.BLOB_BYTES);
          assertThat(lab.fetch("198.19.2.1")).startsWith("exit "); // not pushed: dropped
          reporter.start();
          JsonNode[] last = {null};
          lab.await(() -> {
            JsonNode r;
            while ((r = received.poll()) != null) {
              last[0] = r;
            }
            return last[0] != null && last[0].get("counters").size() == 1
                && counter(last[0], "198.19.2.2").get("bytesIn").asLong() > EgressLab.BLOB_BYTES;
          }, () -> "a report with the transfer's bytes at the server: " + last[0]);
          assertThat(last[0].get("type").asText()).isEqualTo("egress-gateway");
          assertThat(texts(last[0].get("denied").findValues("destination").stream()
              .collect(com.fasterxml.jackson.databind.node.JsonNodeFactory.instance::arrayNode,
                  com.fasterxml.jackson.databind.node.ArrayNode::add,
                  com.fasterxml.jackson.databind.node.ArrayNode::addAll))).contains("198.19.2.1");
          assertThat(agents).allMatch("gw-lab"::equals);
        } finally {
          client.close();
        }
      } finally {
        server.close();
      }
    }
  }

  static JsonNode denied(JsonNode report, String destination) {
    for (JsonNode d : report.get("denied")) {
      if (d.get("destination").asText().equals(destination) && d.get("port").asInt() == 8000) {
        return d;
      }
    }
    return null;
  }
}
