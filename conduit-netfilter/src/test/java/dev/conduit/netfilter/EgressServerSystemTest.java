package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.ConduitResources;
import dev.conduit.netfilter.testing.NetNs;
import dev.conduit.core.control.push.PushClient;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.testing.Dnsmasq;
import dev.conduit.core.egress.EgressServer;
import dev.conduit.core.egress.EgressServerConfig;
import dev.conduit.core.net.IpAddress;
import dev.conduit.core.net.IpPrefix;
import dev.conduit.core.net.IpPrefixSet;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.netfilter.egress.Allowlist;
import dev.conduit.netfilter.egress.EgressGateway;
import dev.conduit.netfilter.egress.EgressGatewayConfig;
import dev.conduit.netfilter.egress.EgressPushApplier;
import dev.conduit.netfilter.egress.EgressReporter;
import dev.conduit.netfilter.egress.ProcessLauncher;
import dev.conduit.netfilter.egress.RouteAgent;
import dev.conduit.netfilter.egress.RouteAgentConfig;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The egress guard end to end, in namespaces ({@link EgressLab}): a client host routed by the route agent, a gateway
 * taking its allowlist from the egress server over the TLS push channel (token), an internet with four servers that
 * answers un-NATed traffic too, and a dnsmasq the test rewrites; the gateway reports its flows (conntrack). An
 * allowlisted domain works, an unlisted address gets nothing, a DNS change is enforced after a re-resolution, a long
 * transfer to the old address keeps it in the kernel's set past its grace period and completes, the old address goes
 * once that flow ended, and with the server gone the gateway enforces on unchanged. Needs root, nft, ip, curl, ss,
 * conntrack, python3 and dnsmasq.
 */
class EgressServerSystemTest {

  private static final IpPrefixSet LAB = IpPrefixSet.parse("198.18.0.0/15", "fd00::/8");
  private static final String ADMIN = "admin-token-0123456789abcdef";
  private static final String GATEWAY = "gateway-token-0123456789abcdef";
  private static final CertificateAuthority CA = CertificateAuthority.builder().commonName("egress e2e CA").build();

  /** Connects to argv[1]:argv[2], says so, waits for a line on stdin, then GETs /blob: "CODE SIZE". */
  private static final String HELD_FETCH = String.join("\n",
      "import socket, sys",
      "s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=300)",
      "print('connected', flush=True)",
      "sys.stdin.readline()",
      "s.sendall(b'GET /blob HTTP/1.0\\r\\nHost: ' + sys.argv[1].encode() + b'\\r\\n\\r\\n')",
      "data = b''",
      "while True:",
      "    chunk = s.recv(65536)",
      "    if not chunk:",
      "        break",
      "    data += chunk",
      "head, _, body = data.partition(b'\\r\\n\\r\\n')",
      "print(head.split()[1].decode(), len(body), flush=True)");

  @TempDir
  Path dir;

  @Test
  void anAllowlistedDomainWorksAndFollowsItsDnsChanges() throws Exception {
    NetNs.requireRootAnd("nft", "ip", "curl", "ss", "conntrack", "/usr/bin/python3", "/usr/sbin/dnsmasq");
    try (EgressLab lab = EgressLab.create();
         RouteAgent agent = RouteAgent.start(RouteAgentConfig.builder().gateway("198.18.1.1").gateway("fd00:1::1")
             .extraPrefix("198.19.2.0/24").extraPrefix("fd00:3::/64").checkInterval(Duration.ofMillis(200)).build(),
             lab.client.runner);
         Dnsmasq dns = Dnsmasq.start(dir, "198.19.2.1 api.example.com\nfd00:3::1 api.example.com\n", 1);
         EgressGateway gateway = EgressGateway.install(EgressGatewayConfig.builder().table("egress_e2e")
             .protectedNetwork("198.18.1.0/24").protectedNetwork("fd00:1::/64").build(), Allowlist.empty(),
             lab.gateway.runner);
         ConduitResources resources = ConduitResources.create()) {
      EgressServer server = EgressServer.start(EgressServerConfig.builder(
              StoreConfig.sqlite(dir.resolve("egress.db")).build())
          .bind(new InetSocketAddress("127.0.0.1", 0))
          .adminToken("ops", ADMIN)
          .bindPush(new InetSocketAddress("127.0.0.1", 0), TlsMaterial.of(CA.mintServerLeaf("127.0.0.1"),
              CA.certificate()))
          .gatewayToken("gw", GATEWAY)
          .dnsServers(List.of(dns.address()))
          .allowedSpecial(LAB)
          .resolveInterval(Duration.ofSeconds(2))
          .minResolveInterval(Duration.ofSeconds(1))
          .gracePeriod(Duration.ofSeconds(2))
          .tickInterval(Duration.ofMillis(200))
          .build());
      try (PushClient client = PushClient.builder(resources)
          .addresses(List.of(URI.create("wss://127.0.0.1:" + server.pushAddress().orElseThrow().getPort()
              + PushServer.DEFAULT_PATH)))
          .trustAnchors(List.of(CA.certificate()))
          .bearerToken(GATEWAY)
          .identity("gw", "egress-gateway")
          .applier(new EgressPushApplier(gateway, LAB, Optional.empty()))
          .backoff(Duration.ofMillis(50), Duration.ofMillis(500))
          .build()) {
        client.start();
        EgressReporter reporter = new EgressReporter(gateway, Optional.empty(),
            ProcessLauncher.system().inNetworkNamespace(lab.gateway.name), client::report,
            new EgressReporter.Settings(Duration.ofMillis(200), 1000, 100), Clock.systemUTC());
        reporter.start();
        assertThat(fetch(lab, "198.19.2.1")).as("not allowlisted yet: nothing").startsWith("exit");
        HttpResponse<String> added = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
            "http://127.0.0.1:" + server.httpAddress().getPort() + "/api/v1/entries"))
            .header("Authorization", "Bearer " + ADMIN)
            .POST(HttpRequest.BodyPublishers.ofString("{\"value\":\"api.example.com\"}")).build(),
            HttpResponse.BodyHandlers.ofString());
        assertThat(added.statusCode()).as(added.body()).isEqualTo(201);

        String blob = "200 " + EgressLab.BLOB_BYTES;
        lab.await(() -> fetch(lab, "198.19.2.1").equals(blob), "the allowlisted domain's address works");
        assertThat(fetch(lab, "fd00:3::1")).isEqualTo(blob);
        assertThat(fetch(lab, "198.19.2.2")).as("an unlisted address gets nothing").startsWith("exit");
        assertThat(fetch(lab, "fd00:3::2")).startsWith("exit");

        // a long transfer from the address the name is about to leave: its connection is open (ESTABLISHED
        // through the gateway) before the DNS change, and it fetches the blob only once the address's grace
        // period is over, so the flow outlives the grace whatever the machine's speed
        Process slow = new ProcessBuilder("ip", "netns", "exec", lab.client.name, "python3", "-c", HELD_FETCH,
            "198.19.2.1", "8000").redirectErrorStream(true).start();
        BufferedReader slowOut = new BufferedReader(new InputStreamReader(slow.getInputStream(),
            StandardCharsets.UTF_8));
        assertThat(slowOut.readLine()).isEqualTo("connected");
        lab.await(() -> server.activeFlows().contains(IpAddress.parse("198.19.2.1")),
            "the gateway reports the held connection as an established flow");

        dns.hosts("198.19.2.2 api.example.com\nfd00:3::1 api.example.com\n");
        lab.await(() -> fetch(lab, "198.19.2.2").equals(blob), "the new address works after a re-resolution");
        lab.await(() -> graceOver(server, "198.19.2.1"), "the old address's grace period ends");
        assertThat(nftSet(lab)).as("a flow uses it: it stays after its grace period").contains("198.19.2.1");
        slow.getOutputStream().write("go\n".getBytes(StandardCharsets.US_ASCII));
        slow.getOutputStream().flush();
        assertThat(slow.waitFor(120, TimeUnit.SECONDS)).as("the held transfer ends").isTrue();
        assertThat(slowOut.readLine()).as("the whole blob over the held connection").isEqualTo(blob);
        lab.await(() -> !nftSet(lab).contains("198.19.2.1"),
            () -> "the old address goes once its flow ended: " + installed(gateway));
        assertThat(fetch(lab, "198.19.2.1")).startsWith("exit");
        reporter.close();

        server.close(); // the server fails: the gateway enforces on what it has
        assertThat(fetch(lab, "198.19.2.2")).isEqualTo(blob);
        assertThat(fetch(lab, "198.19.2.1")).startsWith("exit");
        assertThat(installed(gateway)).contains("198.19.2.2/32", "fd00:3::1/128");
      } finally {
        server.close();
      }
      gateway.close();
    }
  }

  private static String fetch(EgressLab lab, String server) {
    try {
      return lab.fetch(server);
    } catch (Exception e) {
      return "error " + e;
    }
  }

  /** The gateway's IPv4 allowlist as the kernel holds it. */
  private static String nftSet(EgressLab lab) {
    try {
      // the allowlist set only: the table's set of denied destinations may hold the address too (a fetch
      // that ran before the first push arrived was denied)
      return lab.gateway.run("nft", "list", "set", "inet", "egress_e2e", "allow4_out");
    } catch (NetfilterException e) {
      throw new IllegalStateException(e);
    }
  }

  private static boolean graceOver(EgressServer server, String address) {
    Instant now = Instant.now();
    return server.entries().stream().flatMap(e -> e.addresses().stream())
        .anyMatch(a -> a.address().toString().equals(address) && a.graceUntil().isPresent()
            && a.graceUntil().get().isBefore(now.minusSeconds(1)));
  }

  private static List<String> installed(EgressGateway gateway) {
    return gateway.allowlist().entries().stream().map(IpPrefix::toString).collect(Collectors.toList());
  }
}
