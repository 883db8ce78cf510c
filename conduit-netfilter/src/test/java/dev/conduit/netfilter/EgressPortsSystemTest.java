package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.push.PushClient;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.egress.EgressServer;
import dev.conduit.core.egress.EgressServerConfig;
import dev.conduit.core.net.IpAddress;
import dev.conduit.core.net.IpPrefix;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.core.testing.Dnsmasq;
import dev.conduit.core.net.IpPrefixSet;
import dev.conduit.netfilter.egress.AddressCounters;
import dev.conduit.netfilter.egress.Allowlist;
import dev.conduit.netfilter.egress.DeniedDestination;
import dev.conduit.netfilter.egress.EgressGateway;
import dev.conduit.netfilter.egress.EgressGatewayConfig;
import dev.conduit.netfilter.egress.EgressMode;
import dev.conduit.netfilter.egress.EgressPushApplier;
import dev.conduit.netfilter.egress.EgressStateFile;
import dev.conduit.netfilter.egress.FlowLog;
import dev.conduit.netfilter.egress.ProcessLauncher;
import dev.conduit.netfilter.testing.NetNs;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Per-entry ports at the gateway, for real ({@link EgressLab}): the internet's servers answer HTTP on
 * port 8000 (the lab's) and 8443 (started here), and 198.19.2.1 answers UDP on 8053. An entry with ports
 * lets those ports through and drops the others of the same address; an entry without ports lets every
 * port through; IPv4 and IPv6, TCP and UDP; report-only and the flow log see the refused port; the egress server's
 * entries with ports (a domain on one port, through dnsmasq) reach the gateway over the push channel and are
 * enforced. Needs root, nft, ip, curl, ss, socat and python3 (tcpdump for the flow log, dnsmasq for the server).
 */
class EgressPortsSystemTest {

  static final IpPrefixSet LAB = IpPrefixSet.parse("198.18.0.0/15", "fd00::/8");
  static final int OTHER_PORT = 8443;
  static final int UDP_PORT = 8053;
  static EgressLab lab;

  @BeforeAll
  static void setUp() throws Exception {
    NetNs.requireRootAnd("nft", "ip", "curl", "ss", "socat", "/usr/bin/python3");
    lab = EgressLab.create();
    lab.client.run("ip", "route", "add", "198.19.2.0/24", "via", "198.18.1.1");
    lab.client.run("ip", "-6", "route", "add", "fd00:3::/64", "via", "fd00:1::1");
    // the internet counts the connection attempts (SYNs) per server and port, apart from the lab's counts
    StringBuilder syns = new StringBuilder("table inet syns {\n chain in {\n  type filter hook input priority 0;\n");
    for (String a : EgressLab.SERVERS) {
      for (int port : List.of(8000, OTHER_PORT)) {
        syns.append("  ").append(a.contains(":") ? "ip6" : "ip").append(" daddr ").append(a).append(" tcp dport ")
            .append(port).append(" tcp flags & (syn | ack) == syn counter\n");
      }
    }
    syns.append("  ip daddr 198.19.2.1 udp dport ").append(UDP_PORT).append(" counter\n");
    lab.internet.runner.run(Command.withInput(syns.append(" }\n}\n").toString(), "nft", "-f", "-"));
    // the lab's directory holds its /blob: served on the other port too
    for (String a : EgressLab.SERVERS) {
      lab.startInInternet("http-" + a.replace(':', '_') + ".log", "/usr/bin/python3", "-m", "http.server",
          String.valueOf(OTHER_PORT), "--bind", a, "--directory", lab.dir().toString());
    }
    lab.startInInternet("udp.log", "/usr/bin/python3", "-c",
        "import socket\n"
            + "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            + "s.bind(('198.19.2.1', " + UDP_PORT + "))\n"
            + "while True:\n"
            + "  data, peer = s.recvfrom(2048)\n"
            + "  s.sendto(b'pong\\n', peer)\n");
    lab.await(() -> {
      try {
        String tcp = lab.internet.run("ss", "-Hltn", "sport", "=", ":" + OTHER_PORT);
        String udp = lab.internet.run("ss", "-Hlun", "sport", "=", ":" + UDP_PORT);
        return EgressLab.SERVERS.stream().allMatch(a -> tcp.contains(a.contains(":") ? "[" + a + "]:" : a + ":"))
            && udp.contains("198.19.2.1:" + UDP_PORT);
      } catch (NetfilterException e) {
        return false;
      }
    }, "the HTTP servers on port " + OTHER_PORT + " and the UDP server listening");
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (lab != null) {
      lab.close(); // with the servers started here
    }
  }

  static EgressGatewayConfig.Builder gatewayConfig() {
    return EgressGatewayConfig.builder().table("egress_ports_t").protectedNetwork("198.18.1.0/24")
        .protectedNetwork("fd00:1::/64");
  }

  static Allowlist allow(String... entries) {
    return Allowlist.builder(LAB).entries(List.of(entries)).build();
  }

  /** curl from the client: {@code 200 N}, or {@code exit N} (28: nothing answered, the gateway dropped it). */
  static String fetch(String server, int port) throws Exception {
    String url = "http://" + (server.contains(":") ? "[" + server + "]" : server) + ":" + port + "/blob";
    CommandRunner.Result r = lab.client.runner.run(List.of("curl", "-sS", "-o", "/dev/null", "--connect-timeout",
        "2", "--max-time", "20", "-w", "%{http_code} %{size_download}", url), "");
    return r.ok() ? r.stdout().strip() : "exit " + r.exitCode();
  }

  /** One UDP datagram from the client to 198.19.2.1: the answer, empty when none came within 2 s. */
  static String udp() throws Exception {
    return lab.client.runner.run(List.of("socat", "-t", "2", "-", "UDP4:198.19.2.1:" + UDP_PORT), "ping\n")
        .stdout().strip();
  }

  /** The UDP datagrams that reached 198.19.2.1's UDP port. */
  static long datagrams() throws NetfilterException {
    String listing = lab.internet.run("nft", "list", "chain", "inet", "syns", "in");
    Matcher m = Pattern.compile("udp dport " + UDP_PORT + " counter packets (\\d+)").matcher(listing);
    assertThat(m.find()).as(listing).isTrue();
    return Long.parseLong(m.group(1));
  }

  /** Waits for a UDP answer (a datagram may be lost; each try sends one). */
  static void assertUdpAnswered() throws Exception {
    lab.await(() -> {
      try {
        return udp().equals("pong");
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }, "a UDP answer from 198.19.2.1 port " + UDP_PORT);
  }

  /** Asserts that a UDP datagram is dropped at the gateway. */
  static void assertUdpRefused() throws Exception {
    long reached = datagrams();
    assertThat(udp()).isEmpty();
    assertThat(datagrams()).as("UDP datagrams that reached the server").isEqualTo(reached);
  }

  static final String OK = "200 " + EgressLab.BLOB_BYTES;

  /** The connection attempts that reached a server's port. */
  static long syns(String server, int port) throws NetfilterException {
    String listing = lab.internet.run("nft", "list", "chain", "inet", "syns", "in");
    Matcher m = Pattern.compile("daddr " + Pattern.quote(server) + " tcp dport " + port
        + " tcp flags [^\\n]*counter packets (\\d+)").matcher(listing);
    assertThat(m.find()).as(listing).isTrue();
    return Long.parseLong(m.group(1));
  }

  /** Asserts that a fetch is dropped at the gateway: no connection attempt reaches the server. */
  static void assertRefused(String server, int port) throws Exception {
    long reached = syns(server, port);
    assertThat(fetch(server, port)).as(server + " port " + port).isEqualTo("exit 28");
    assertThat(syns(server, port)).as("connection attempts that reached " + server + " port " + port)
        .isEqualTo(reached);
  }

  @Test
  void anEntryWithPortsAllowsThemAndDropsTheOtherPortsOfItsAddressesIpv4AndIpv6() throws Exception {
    try (EgressGateway gw = EgressGateway.install(gatewayConfig().build(),
        allow("198.19.2.1 8000", "fd00:3::1 8000", "198.19.2.2", "fd00:3::2"), lab.gateway.runner)) {
      long[][] base = new long[2][];
      List<String> ported = List.of("198.19.2.1", "fd00:3::1");
      for (int i = 0; i < 2; i++) {
        base[i] = lab.serverCounts(ported.get(i));
      }
      for (String server : ported) {
        assertThat(fetch(server, 8000)).as(server).isEqualTo(OK);
        assertRefused(server, OTHER_PORT);
      }
      assertUdpRefused();
      for (String server : List.of("198.19.2.2", "fd00:3::2")) { // no ports: every port
        assertThat(fetch(server, 8000)).as(server).isEqualTo(OK);
        assertThat(fetch(server, OTHER_PORT)).as(server).isEqualTo(OK);
      }
      assertThat(gw.denied()).extracting(DeniedDestination::destination)
          .contains(IpAddress.parse("198.19.2.1"), IpAddress.parse("fd00:3::1"))
          .doesNotContain(IpAddress.parse("198.19.2.2"), IpAddress.parse("fd00:3::2"));
      // the (address, port) elements count every byte each way, as the servers saw them
      for (int i = 0; i < 2; i++) {
        String server = ported.get(i);
        lab.awaitCountsOfServer("gateway counters", server, base[i], () -> EgressLab.counts(
            gw.counters().stream().filter(x -> x.label().equals(server)).findFirst().orElseThrow()));
        assertThat(gw.counters().stream().filter(x -> x.label().equals(server)).findFirst().orElseThrow().inBytes())
            .isGreaterThan(EgressLab.BLOB_BYTES);
      }
    }
  }

  @Test
  void portsOfOneAddressAddUpAndEveryPortWins() throws Exception {
    try (EgressGateway gw = EgressGateway.install(gatewayConfig().build(), allow("198.19.2.1 8443"),
        lab.gateway.runner)) {
      assertThat(fetch("198.19.2.1", OTHER_PORT)).isEqualTo(OK);
      assertRefused("198.19.2.1", 8000);
      assertUdpRefused();

      gw.update(allow("198.19.2.1 8443", "198.19.2.1 8053")); // the union: TCP and UDP
      assertUdpAnswered();
      assertThat(fetch("198.19.2.1", OTHER_PORT)).isEqualTo(OK);
      assertRefused("198.19.2.1", 8000);

      gw.update(allow("198.19.2.1 8443", "198.19.2.1")); // every port wins over some
      assertThat(fetch("198.19.2.1", 8000)).isEqualTo(OK);
      assertUdpAnswered();
      assertThat(lab.gateway.run("nft", "list", "set", "inet", "egress_ports_t", "allow4_out")).contains("198.19.2.1");
      assertThat(lab.gateway.run("nft", "list", "set", "inet", "egress_ports_t", "allow4p_out"))
          .doesNotContain("198.19.2.1");

      // a prefix with a port and an address inside it with another: both ports for it, one for its neighbours
      gw.update(allow("198.19.2.0/24 8000", "198.19.2.1 8443", "fd00:3::/64 8443", "fd00:3::2 8000"));
      assertThat(fetch("198.19.2.1", 8000)).isEqualTo(OK);
      assertThat(fetch("198.19.2.1", OTHER_PORT)).isEqualTo(OK);
      assertThat(fetch("198.19.2.2", 8000)).isEqualTo(OK);
      assertRefused("198.19.2.2", OTHER_PORT);
      assertThat(fetch("fd00:3::2", 8000)).isEqualTo(OK);
      assertThat(fetch("fd00:3::2", OTHER_PORT)).isEqualTo(OK);
      assertThat(fetch("fd00:3::1", OTHER_PORT)).isEqualTo(OK);
      assertRefused("fd00:3::1", 8000);
      assertThat(gw.counters()).extracting(AddressCounters::label)
          .contains("198.19.2.0/24", "198.19.2.1", "fd00:3::/64", "fd00:3::2");
    }
  }

  @Test
  void theEgressServersEntriesWithPortsAreEnforcedAndSharedAddressesAddTheirPortsUp(@TempDir Path tmp)
      throws Exception {
    NetNs.requireRootAnd("/usr/sbin/dnsmasq");
    CertificateAuthority ca = CertificateAuthority.builder().commonName("egress ports CA").build();
    String admin = "admin-token-0123456789abcdef";
    String token = "gateway-token-0123456789abcdef";
    try (Dnsmasq dns = Dnsmasq.start(tmp, "198.19.2.1 api.example.com\nfd00:3::1 api.example.com\n", 1);
        EgressGateway gw = EgressGateway.install(gatewayConfig().build(), Allowlist.empty(), lab.gateway.runner);
        ConduitResources resources = ConduitResources.create();
        EgressServer server = EgressServer.start(EgressServerConfig.builder(
                StoreConfig.sqlite(tmp.resolve("egress.db")).build())
            .bind(new InetSocketAddress("127.0.0.1", 0)).adminToken("ops", admin)
            .bindPush(new InetSocketAddress("127.0.0.1", 0), TlsMaterial.of(ca.mintServerLeaf("127.0.0.1"),
                ca.certificate()))
            .gatewayToken("gw", token).dnsServers(List.of(dns.address())).allowedSpecial(LAB).build());
        PushClient client = PushClient.builder(resources)
            .addresses(List.of(URI.create("wss://127.0.0.1:" + server.pushAddress().orElseThrow().getPort()
                + PushServer.DEFAULT_PATH)))
            .trustAnchors(List.of(ca.certificate())).bearerToken(token).identity("gw", "egress-gateway")
            .applier(new EgressPushApplier(gw, LAB, Optional.empty()))
            .backoff(Duration.ofMillis(50), Duration.ofMillis(500)).build()) {
      client.start();
      // the seed's example: a domain on one port (its IPv4 and IPv6 addresses), an address on every port
      add(server, admin, "{\"value\":\"api.example.com\",\"ports\":[8000]}");
      add(server, admin, "{\"value\":\"198.19.2.2\"}");
      lab.await(() -> gw.allowlist().size() == 3, () -> "the pushed allowlist installed: " + gw.allowlist());
      for (String a : List.of("198.19.2.1", "fd00:3::1")) {
        assertThat(fetch(a, 8000)).as(a).isEqualTo(OK);
        assertRefused(a, OTHER_PORT);
      }
      assertThat(fetch("198.19.2.2", 8000)).isEqualTo(OK);
      assertThat(fetch("198.19.2.2", OTHER_PORT)).isEqualTo(OK);

      // another entry on another port of the same address: the ports add up
      add(server, admin, "{\"value\":\"198.19.2.1\",\"ports\":[8443]}");
      lab.await(() -> gw.allowlist().ports(IpPrefix.parse("198.19.2.1")).size() == 2,
          () -> "the union of the ports pushed: " + gw.allowlist().toText());
      assertThat(fetch("198.19.2.1", 8000)).isEqualTo(OK);
      assertThat(fetch("198.19.2.1", OTHER_PORT)).isEqualTo(OK);
      assertRefused("fd00:3::1", OTHER_PORT);
    }
  }

  private static void add(EgressServer server, String admin, String body) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
            "http://127.0.0.1:" + server.httpAddress().getPort() + "/api/v1/entries"))
        .header("Authorization", "Bearer " + admin).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
  }

  @Test
  void theFlowLogNamesThePortAndHostOfAFlowToAnotherPort() throws Exception {
    NetNs.requireRootAnd("tcpdump");
    try (EgressGateway gw = EgressGateway.install(gatewayConfig().mode(EgressMode.REPORT_ONLY).flowLogGroup(18)
        .build(), allow("198.19.2.1 8000"), lab.gateway.runner);
        FlowLog flowLog = FlowLog.start(18, ProcessLauncher.system().inNetworkNamespace(lab.gateway.name), 100)) {
      // tcpdump binds the group a moment after it starts: flows before that are not seen
      lab.await(() -> {
        try {
          return lab.gateway.run("cat", "/proc/net/netfilter/nfnetlink_log").lines()
              .anyMatch(l -> l.strip().startsWith("18 "));
        } catch (NetfilterException e) {
          return false;
        }
      }, () -> "tcpdump listening on NFLOG group 18 (" + flowLog + ")");
      assertThat(fetch("198.19.2.1", 8000)).isEqualTo(OK);
      assertThat(lab.client.runner.run(List.of("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
          "-H", "Host: other-port.example.com", "http://198.19.2.1:" + OTHER_PORT + "/blob"), "").stdout())
          .isEqualTo("200");
      lab.await(() -> flowLog.snapshot().stream().anyMatch(d -> d.port() == OTHER_PORT
          && d.host().equals(Optional.of("other-port.example.com"))),
          () -> "the flow to port " + OTHER_PORT + " with its Host in " + flowLog.snapshot());
      assertThat(flowLog.snapshot()).allMatch(d -> d.destination().equals(IpAddress.parse("198.19.2.1"))
          && d.port() == OTHER_PORT, "only the flow to the port the entry does not allow");
    }
  }

  @Test
  void reportOnlyLetsAnotherPortThroughAndRecordsItAndARestartEnforcesThePortsKept(@TempDir Path tmp)
      throws Exception {
    EgressStateFile state = new EgressStateFile(tmp.resolve("allowlist"));
    Allowlist list = allow("198.19.2.1 8000", "fd00:3::1 8000,8053");
    try (EgressGateway gw = EgressGateway.install(gatewayConfig().mode(EgressMode.REPORT_ONLY).build(), list,
        lab.gateway.runner)) {
      assertThat(fetch("198.19.2.1", OTHER_PORT)).isEqualTo(OK);
      assertThat(fetch("fd00:3::1", OTHER_PORT)).isEqualTo(OK);
      assertThat(gw.denied()).extracting(DeniedDestination::destination)
          .contains(IpAddress.parse("198.19.2.1"), IpAddress.parse("fd00:3::1"));
      gw.mode(EgressMode.ENFORCE);
      assertRefused("198.19.2.1", OTHER_PORT);
      state.save(gw.allowlist());
    }
    assertThat(Files.readString(state.path())).contains("198.19.2.1 8000\n", "fd00:3::1 8000,8053\n");
    Allowlist kept = state.load(LAB).orElseThrow();
    assertThat(kept).isEqualTo(list);
    try (EgressGateway gw = EgressGateway.install(gatewayConfig().build(), kept, lab.gateway.runner)) {
      assertThat(fetch("fd00:3::1", 8000)).isEqualTo(OK);
      assertRefused("fd00:3::1", OTHER_PORT);
    }
  }
}
