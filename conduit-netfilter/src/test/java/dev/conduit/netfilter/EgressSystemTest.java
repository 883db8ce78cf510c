package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.net.IpAddress;
import dev.conduit.core.net.IpPrefix;
import dev.conduit.core.net.IpPrefixSet;
import dev.conduit.netfilter.egress.AddressCounters;
import dev.conduit.netfilter.egress.Allowlist;
import dev.conduit.netfilter.egress.DeniedDestination;
import dev.conduit.netfilter.egress.DeniedLog;
import dev.conduit.netfilter.egress.EgressGateway;
import dev.conduit.netfilter.egress.EgressGatewayConfig;
import dev.conduit.netfilter.egress.EgressMode;
import dev.conduit.netfilter.egress.EgressStateFile;
import dev.conduit.netfilter.egress.RouteAgent;
import dev.conduit.netfilter.egress.RouteAgentConfig;
import dev.conduit.netfilter.egress.EgressMetrics;
import dev.conduit.netfilter.egress.EgressMetricsServer;
import dev.conduit.netfilter.egress.EgressMetricsTest;
import dev.conduit.netfilter.testing.NetNs;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The egress gateway and the route agent for real, in namespaces ({@link EgressLab}): a client host
 * whose routes come from the route agent, a gateway enforcing an allowlist, an internet that answers
 * un-NATed traffic too. Needs root, nft, ip, curl and python3 (skips elsewhere; fails under CI=true).
 */
class EgressSystemTest {

  static final IpPrefixSet LAB = IpPrefixSet.parse("198.18.0.0/15", "fd00::/8");
  static EgressLab lab;
  static RouteAgent agent;

  @BeforeAll
  static void setUp() throws Exception {
    NetNs.requireRootAnd("nft", "ip", "curl", "ss", "/usr/bin/python3");
    lab = EgressLab.create();
    agent = RouteAgent.start(routes().build(), lab.client.runner);
  }

  static RouteAgentConfig.Builder routes() {
    return RouteAgentConfig.builder().gateway("198.18.1.1").gateway("fd00:1::1")
        .extraPrefix("198.19.2.0/24").extraPrefix("fd00:3::/64").checkInterval(Duration.ofMillis(200));
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (agent != null) {
      agent.close();
    }
    if (lab != null) {
      lab.close();
    }
  }

  static EgressGatewayConfig.Builder gatewayConfig() {
    return EgressGatewayConfig.builder().table("egress_t").protectedNetwork("198.18.1.0/24")
        .protectedNetwork("fd00:1::/64");
  }

  static Allowlist allow(String... entries) {
    return Allowlist.builder(LAB).entries(List.of(entries)).build();
  }

  static Map<String, AddressCounters> byLabel(List<AddressCounters> counters) {
    return counters.stream().collect(Collectors.toMap(AddressCounters::label, Function.identity()));
  }

  @Test
  void enforcesTheAllowlistForIpv4AndIpv6AndCountsEveryByteInBothDirections() throws Exception {
    assertThat(EgressGateway.check(gatewayConfig().build(), lab.gateway.runner)).isEmpty();
    try (EgressGateway gw = EgressGateway.install(gatewayConfig().build(),
        allow("198.19.2.1", "fd00:3::1"), lab.gateway.runner)) {
      // the servers' counts since the table was installed (earlier tests used the same servers)
      Map<String, long[]> base = new java.util.HashMap<>();
      for (String server : List.of("198.19.2.1", "fd00:3::1")) {
        base.put(server, lab.serverCounts(server));
      }
      assertThat(lab.fetch("198.19.2.1")).isEqualTo("200 " + EgressLab.BLOB_BYTES);
      assertThat(lab.fetch("fd00:3::1")).isEqualTo("200 " + EgressLab.BLOB_BYTES);
      // not listed: nothing reaches the server, though it would answer un-NATed traffic
      long reached4 = lab.serverCount("in", "198.19.2.2")[0];
      long reached6 = lab.serverCount("in", "fd00:3::2")[0];
      assertThat(lab.fetch("198.19.2.2")).startsWith("exit ");
      assertThat(lab.fetch("fd00:3::2")).startsWith("exit ");
      assertThat(lab.serverCount("in", "198.19.2.2")[0]).isEqualTo(reached4);
      assertThat(lab.serverCount("in", "fd00:3::2")[0]).isEqualTo(reached6);
      assertThat(gw.denied()).extracting(DeniedDestination::destination)
          .contains(IpAddress.parse("198.19.2.2"), IpAddress.parse("fd00:3::2"));
      // the gateway's own traffic, and the clients' traffic to the gateway itself, are not guarded
      assertThat(lab.gateway.runner.run(List.of("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
          "--max-time", "20", "http://198.19.2.2:8000/blob"), "").stdout()).isEqualTo("200");
      assertThat(lab.gateway.runner.run(List.of("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
          "--max-time", "20", "http://[fd00:3::2]:8000/blob"), "").stdout()).isEqualTo("200");
      // a closed port of the gateway answers with a reset (curl exit 7), not silence (exit 28)
      for (String own : List.of("http://198.18.1.1:9/", "http://[fd00:1::1]:9/")) {
        assertThat(lab.client.runner.run(List.of("curl", "-sS", "--connect-timeout", "10", own), "")
            .exitCode()).as(own).isEqualTo(7);
      }

      // the gateway's per-element counters equal what the servers themselves saw, byte for byte
      for (String server : List.of("198.19.2.1", "fd00:3::1")) {
        lab.awaitCountsOfServer("gateway counters", server, base.get(server),
            () -> EgressLab.counts(byLabel(gw.counters()).get(server)));
        AddressCounters c = byLabel(gw.counters()).get(server);
        assertThat(c.inBytes()).isGreaterThan(EgressLab.BLOB_BYTES);
        assertThat(c.outBytes()).isPositive();
      }

      // a change applies as a diff: the counters of an entry that stays survive it
      AddressCounters before = byLabel(gw.counters()).get("198.19.2.1");
      gw.update(allow("198.19.2.1", "198.19.2.2", "fd00:3::1"));
      assertThat(byLabel(gw.counters()).get("198.19.2.1")).isEqualTo(before);
      assertThat(lab.fetch("198.19.2.2")).isEqualTo("200 " + EgressLab.BLOB_BYTES);
      gw.update(allow("198.19.2.2"));
      assertThat(byLabel(gw.counters())).containsOnlyKeys("198.19.2.2");
      assertThat(lab.fetch("198.19.2.1")).startsWith("exit ");
      assertThat(lab.fetch("fd00:3::1")).startsWith("exit ");
      // a prefix absorbs the addresses inside it
      gw.update(allow("198.19.2.0/24", "198.19.2.2"));
      assertThat(byLabel(gw.counters())).containsOnlyKeys("198.19.2.0/24");
      assertThat(lab.fetch("198.19.2.1")).isEqualTo("200 " + EgressLab.BLOB_BYTES);
    }
    assertThat(lab.gateway.run("nft", "list", "tables")).doesNotContain("egress_t");
  }

  static final Pattern SAMPLE = Pattern.compile("\\{\"metric\":\\{\"ip\":\"([^\"]+)\"\\},\"value\":\\[[0-9.]+,\"([0-9.e+]+)\"\\]\\}");

  static Map<String, Double> samples(String json) {
    Map<String, Double> out = new java.util.HashMap<>();
    Matcher m = SAMPLE.matcher(json);
    while (m.find()) {
      out.put(m.group(1), Double.parseDouble(m.group(2)));
    }
    return out;
  }

  static long value(String exposition, String series) {
    return exposition.lines().filter(l -> l.startsWith(series + " ")).mapToLong(l -> Long.parseLong(
        l.substring(series.length() + 1))).findFirst().orElseThrow(() -> new AssertionError(
        "no " + series + " in\n" + exposition));
  }

  @Test
  void metricsAreCurrentAtEveryScrapeAndTheSeedsGrafanaQueriesWork(@TempDir Path dir) throws Exception {
    PrometheusServer.require();
    HttpClient http = HttpClient.newHttpClient();
    try (EgressGateway gw = EgressGateway.install(gatewayConfig().build(), allow("198.19.2.1", "fd00:3::1"),
        lab.gateway.runner);
        EgressMetricsServer metrics = EgressMetricsServer.start(new InetSocketAddress("127.0.0.1", 0), gw,
            new EgressMetrics("gw-test", 100))) {
      String target = "127.0.0.1:" + metrics.address().getPort();
      java.util.function.Supplier<String> scrape = () -> {
        try {
          HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://" + target + "/metrics"))
              .build(), HttpResponse.BodyHandlers.ofString());
          assertThat(r.statusCode()).isEqualTo(200);
          assertThat(r.headers().firstValue("Content-Type")).contains("text/plain; version=0.0.4; charset=utf-8");
          return r.body();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      };
      String v4In = "iptables_bytes_count{ip=\"198.19.2.1\",type=\"INPUT\",hostname=\"gw-test\"}";
      String v6In = "iptables_bytes_count{ip=\"fd00:3::1\",type=\"INPUT\",hostname=\"gw-test\"}";
      assertThat(value(scrape.get(), v4In)).isZero();
      try (PrometheusServer prometheus = PrometheusServer.start(dir, "egress", target)) {
        lab.await(() -> {
          try {
            return prometheus.query("up{job=\"egress\"}").contains("\"1\"]");
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
        }, "Prometheus scraping the gateway");
        assertThat(lab.fetch("198.19.2.1")).isEqualTo("200 " + EgressLab.BLOB_BYTES);
        assertThat(lab.fetch("fd00:3::1")).isEqualTo("200 " + EgressLab.BLOB_BYTES);
        // the data went through the gateway before curl had it: the next scrape counts it
        String now = scrape.get();
        assertThat(value(now, v4In)).isGreaterThan(EgressLab.BLOB_BYTES);
        assertThat(value(now, v6In)).isGreaterThan(EgressLab.BLOB_BYTES);
        assertThat(value(now, "conduit_egress_bytes_total{address=\"198.19.2.1\",direction=\"in\",hostname=\"gw-test\"}"))
            .isGreaterThanOrEqualTo(value(now, v4In));
        EgressMetricsTest.promtoolAccepts(now);

        // the seed's Grafana queries, as its README writes them, with $host set
        Map<String, Long> atLeast = Map.of(
            "sum by (ip) (increase(iptables_bytes_count{type=~\"INPUT\",hostname=~\"$host\"}[2m]))",
            (long) EgressLab.BLOB_BYTES,
            "sum by (ip) (increase(iptables_bytes_count{type=~\"OUTPUT\",hostname=~\"$host\"}[2m]))", 1L,
            "sum by (ip) (increase(iptables_packets_count{type=~\"INPUT\",hostname=~\"$host\"}[2m]))",
            (long) EgressLab.BLOB_BYTES / 66000,
            "sum by (ip) (increase(iptables_packets_count{type=~\"OUTPUT\",hostname=~\"$host\"}[2m]))", 1L);
        for (Map.Entry<String, Long> q : atLeast.entrySet()) {
          String promql = q.getKey().replace("$host", "gw-test");
          String[] last = {""};
          lab.await(() -> {
            try {
              last[0] = prometheus.query(promql);
              Map<String, Double> byIp = samples(last[0]);
              return byIp.getOrDefault("198.19.2.1", 0.0) >= q.getValue()
                  && byIp.getOrDefault("fd00:3::1", 0.0) >= q.getValue();
            } catch (InterruptedException e) {
              throw new IllegalStateException(e);
            }
          }, () -> promql + " answering per ip: " + last[0]);
        }
      }
    }
  }

  @Test
  void reportOnlyLetsEverythingThroughAndLogsWhatEnforceWouldDrop() throws Exception {
    try (EgressGateway gw = EgressGateway.install(gatewayConfig().mode(EgressMode.REPORT_ONLY).build(),
        allow("198.19.2.1"), lab.gateway.runner)) {
      assertThat(lab.fetch("198.19.2.2")).isEqualTo("200 " + EgressLab.BLOB_BYTES);
      assertThat(lab.fetch("fd00:3::2")).isEqualTo("200 " + EgressLab.BLOB_BYTES);
      assertThat(lab.fetch("198.19.2.1")).isEqualTo("200 " + EgressLab.BLOB_BYTES);
      DeniedLog log = new DeniedLog(10);
      List<String> lines = log.lines(gw.denied(), gw.config().mode());
      assertThat(lines).anySatisfy(l -> assertThat(l).contains("would drop", "198.19.2.2"))
          .anySatisfy(l -> assertThat(l).contains("would drop", "fd00:3::2"))
          .noneSatisfy(l -> assertThat(l).contains("198.19.2.1 "));
      assertThat(log.lines(gw.denied(), gw.config().mode())).isEmpty(); // nothing new, nothing logged
      // switching to enforce keeps the allowlist and its counters, and drops from then on
      AddressCounters before = byLabel(gw.counters()).get("198.19.2.1");
      gw.mode(EgressMode.ENFORCE);
      assertThat(byLabel(gw.counters()).get("198.19.2.1")).isEqualTo(before);
      assertThat(lab.fetch("198.19.2.2")).startsWith("exit ");
      assertThat(log.lines(gw.denied(), gw.config().mode()))
          .anySatisfy(l -> assertThat(l).contains("dropped", "198.19.2.2"));
    }
  }

  @Test
  void aRestartedGatewayEnforcesTheAllowlistItKeptOnDisk(@TempDir Path dir) throws Exception {
    EgressStateFile state = new EgressStateFile(dir.resolve("allowlist"));
    EgressGateway first = EgressGateway.install(gatewayConfig().build(), allow("198.19.2.2", "fd00:3::2"),
        lab.gateway.runner);
    state.save(first.allowlist());
    String before = lab.gateway.run("nft", "list", "set", "inet", "egress_t", "allow4_out");
    // a crash: the process is gone, its table stays
    Allowlist restored = state.load(LAB).orElseThrow();
    assertThat(restored).isEqualTo(first.allowlist());
    try (EgressGateway second = EgressGateway.install(gatewayConfig().build(), restored, lab.gateway.runner)) {
      assertThat(lab.gateway.run("nft", "list", "set", "inet", "egress_t", "allow4_out")
          .replaceAll("packets \\d+ bytes \\d+", "")).isEqualTo(before.replaceAll("packets \\d+ bytes \\d+", ""));
      assertThat(lab.gateway.run("nft", "list", "tables").lines().filter(l -> l.contains("egress_t"))).hasSize(1);
      assertThat(lab.fetch("198.19.2.2")).isEqualTo("200 " + EgressLab.BLOB_BYTES);
      assertThat(lab.fetch("fd00:3::2")).isEqualTo("200 " + EgressLab.BLOB_BYTES);
      assertThat(lab.fetch("198.19.2.1")).startsWith("exit ");
    }
    assertThat(EgressGateway.removeStale("egress_t", lab.gateway.runner)).isFalse();
  }

  @Test
  void aTableOfTheSameNameThatIsNotConduitsIsLeftAlone() throws Exception {
    lab.gateway.run("nft", "add", "table", "inet", "egress_foreign");
    try {
      assertThatThrownBy(() -> EgressGateway.install(gatewayConfig().table("egress_foreign").build(),
          Allowlist.empty(), lab.gateway.runner))
          .isInstanceOf(NetfilterException.class).hasMessageContaining("is not conduit's");
      assertThat(lab.gateway.run("nft", "list", "tables")).contains("egress_foreign");
    } finally {
      lab.gateway.run("nft", "delete", "table", "inet", "egress_foreign");
    }
  }

  @Test
  void routeAgentRoutesEveryPublicPrefixViaTheGatewayAndRestoresThem() throws Exception {
    String route = lab.client.run("ip", "-4", "route", "get", "172.64.1.1");
    assertThat(route).contains("via 198.18.1.1");
    assertThat(lab.client.run("ip", "-4", "route", "get", "172.200.0.1")).contains("via 198.18.1.1");
    assertThat(lab.client.run("ip", "-6", "route", "get", "2606:4700::1")).contains("via fd00:1::1");
    assertThat(agent.installed(true)).contains(IpPrefix.parse("172.64.0.0/10"), IpPrefix.parse("172.128.0.0/9"))
        .hasSize(117); // 116 public prefixes and the lab's
    assertThat(agent.installed(false)).hasSize(46);
    // private and multicast space is not routed via the gateway
    assertThat(lab.client.runner.run(List.of("ip", "-4", "route", "get", "10.1.1.1"), "").ok()).isFalse();
    assertThat(lab.client.run("ip", "-4", "route", "show", "proto", "193")).doesNotContain("224.0.0.0");

    // a route of the agent's protocol it does not want (left by an agent that crashed) goes
    lab.client.run("ip", "route", "add", "192.0.2.0/24", "via", "198.18.1.1", "proto", "193");
    lab.await(() -> {
      try {
        return !agent.installed(true).contains(IpPrefix.parse("192.0.2.0/24"));
      } catch (NetfilterException e) {
        return false;
      }
    }, "the route agent removing a stale route of its protocol");
    // a network restart flushes them: the agent puts them back
    lab.client.run("ip", "-4", "route", "flush", "proto", "193");
    lab.client.run("ip", "-6", "route", "flush", "proto", "193");
    lab.await(() -> {
      try {
        return agent.installed(true).size() == 117 && agent.installed(false).size() == 46;
      } catch (NetfilterException e) {
        return false;
      }
    }, "the route agent restoring its routes");
    assertThat(lab.client.run("ip", "-4", "route", "get", "172.64.1.1")).contains("via 198.18.1.1");
  }

  @Test
  void routeAgentRemovesItsRoutesOnExitAndNothingElse() throws Exception {
    lab.client.run("ip", "route", "add", "192.0.2.0/24", "via", "198.18.1.1", "proto", "static");
    try {
      agent.close();
      assertThat(lab.client.run("ip", "-4", "route", "show", "proto", "193")).isBlank();
      assertThat(lab.client.run("ip", "-6", "route", "show", "proto", "193")).isBlank();
      String left = lab.client.run("ip", "-4", "route", "show");
      assertThat(left).contains("198.18.1.0/24 dev", "192.0.2.0/24 via 198.18.1.1");
      assertThat(left.lines()).hasSize(2);
      assertThat(lab.client.run("ip", "-6", "route", "show")).contains("fd00:1::/64 dev")
          .doesNotContain(" via ");
    } finally {
      lab.client.run("ip", "route", "del", "192.0.2.0/24");
      agent = RouteAgent.start(routes().build(), lab.client.runner);
    }
    assertThat(agent.installed(true)).hasSize(117);
  }

  @Test
  void routeAgentRefusesAGatewayThatIsNotOnLink() throws Exception {
    lab.client.run("ip", "route", "add", "198.18.9.0/24", "via", "198.18.1.1");
    try {
      assertThatThrownBy(() -> RouteAgent.start(RouteAgentConfig.builder().gateway("198.18.9.1")
          .protocol(195).build(), lab.client.runner))
          .isInstanceOf(NetfilterException.class)
          .hasMessageContaining("egress gateway 198.18.9.1 is not on-link")
          .hasMessageContaining("via 198.18.1.1");
      assertThatThrownBy(() -> RouteAgent.start(RouteAgentConfig.builder().gateway("203.0.113.1")
          .protocol(195).build(), lab.client.runner))
          .isInstanceOf(NetfilterException.class).hasMessageContaining("unreachable");
      assertThatThrownBy(() -> RouteAgent.start(RouteAgentConfig.builder().gateway("198.18.1.2")
          .protocol(195).build(), lab.client.runner))
          .isInstanceOf(NetfilterException.class).hasMessageContaining("this host itself");
      assertThat(lab.client.run("ip", "-4", "route", "show", "proto", "195")).isBlank();
    } finally {
      lab.client.run("ip", "route", "del", "198.18.9.0/24");
    }
  }

  @Test
  void stateFileRefusesBadEntriesWithTheirLineNumbers(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("allowlist");
    Files.writeString(file, "# comment\n8.8.8.8\n127.1\n10.0.0.1\n::ffff:127.0.0.1\nexample.org\n");
    assertThatThrownBy(() -> new EgressStateFile(file).load(IpPrefixSet.empty()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("line 3: ").hasMessageContaining("line 4: entry: 10.0.0.1 is private")
        .hasMessageContaining("line 5: entry: ::ffff:127.0.0.1 is loopback (ipv4-mapped form of 127.0.0.1)")
        .hasMessageContaining("line 6: entry: example.org is a name");
  }
}
