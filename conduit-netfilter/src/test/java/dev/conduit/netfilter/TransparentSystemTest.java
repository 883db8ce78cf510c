package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.testing.Processes;
import dev.conduit.netfilter.testing.NetNs;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * conduit as a transparent proxy on the real kernel, in network namespaces this test creates: a
 * child JVM runs {@link TransparentMain} (listener + plan + bypass mark), real clients (curl, {@link
 * PayloadClient}) connect to an {@link OriginServer} in another namespace, IPv4 and IPv6. Needs root,
 * iptables, ipset, nft, ip, curl and socat (skips elsewhere; under CI=true it fails instead).
 */
class TransparentSystemTest {

  private static final int PORT = 15001;
  private final List<AutoCloseable> cleanup = new ArrayList<>();

  @BeforeAll
  static void requireRoot() {
    NetNs.requireRootAnd("iptables-save", "ip6tables-save", "ipset", "nft", "ip", "curl", "socat");
  }

  @AfterEach
  void cleanUp() throws Exception {
    // children first (by PID), then their namespaces
    for (int i = cleanup.size() - 1; i >= 0; i--) {
      cleanup.get(i).close();
    }
  }

  private <T extends AutoCloseable> T closing(T resource) {
    cleanup.add(resource);
    return resource;
  }

  /** Host A (conduit, clients) and host B (origin) on 198.18.0.0/24 and fd00::/64. */
  private NetNs[] hostsAB() throws Exception {
    NetNs a = closing(NetNs.bare());
    NetNs b = closing(NetNs.bare());
    NetNs.link(a, "a0", List.of("198.18.0.1/24", "fd00::1/64"), b, "b0", List.of("198.18.0.2/24", "fd00::2/64"));
    return new NetNs[] {a, b};
  }

  private Child origin(NetNs ns) throws Exception {
    Child origin = closing(Child.start(ns, OriginServer.class, "80"));
    origin.awaitPrefix("READY", 30);
    return origin;
  }

  private Child conduit(NetNs ns, String mode, String backend, String... endpoints) throws Exception {
    List<String> args = new ArrayList<>(List.of(mode, backend, Integer.toString(PORT), "CDT"));
    args.addAll(List.of(endpoints));
    Child conduit = closing(Child.start(ns, TransparentMain.class, args.toArray(String[]::new)));
    assertThat(conduit.awaitPrefix("READY", 30)).isEqualTo("READY " + PORT);
    return conduit;
  }

  private static String curl(NetNs ns, String... args) throws Exception {
    List<String> argv = new ArrayList<>(List.of("curl", "-sS", "--max-time", "10"));
    argv.addAll(List.of(args));
    return ns.run(argv.toArray(String[]::new)).strip();
  }

  private static String payload(NetNs ns, String ip) throws Exception {
    List<String> cmd = new ArrayList<>(Processes.java());
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), PayloadClient.class.getName(), ip, "80"));
    CommandRunner.Result r = ns.runner.run(cmd, "");
    return r.stdout().strip() + r.stderr().strip();
  }

  private static String installed(NetNs ns) throws NetfilterException {
    return NetfilterSystemTest.installed(ns, "CDT", 100);
  }

  @Test
  void redirectCapturesLocalConnectionsV4AndV6AndCleansUpOnSigterm() throws Exception {
    NetNs[] ab = hostsAB();
    NetNs a = ab[0];
    Child origin = origin(ab[1]);
    Child conduit = conduit(a, "REDIRECT", "iptables", "198.18.0.2:80", "[fd00::2]:80");
    assertThat(installed(a)).contains("REDIRECT --to-ports 15001");

    // curl: the origin answers with the peer it saw, which is conduit's socket, not curl's
    String v4 = curl(a, "-w", " local=%{local_port}", "http://198.18.0.2/");
    assertThat(v4).startsWith("peer=198.18.0.1:");
    assertThat(peerPort(v4)).isNotEqualTo(v4.substring(v4.indexOf("local=") + 6));
    conduit.await(l -> l.startsWith("CLOSED") && l.contains("dst=198.18.0.2:80") && l.contains("outcome=OK"),
        10, "closed v4 curl connection");
    String v6 = curl(a, "-w", " local=%{local_port}", "http://[fd00::2]/");
    assertThat(v6).startsWith("peer=fd00:0:0:0:0:0:0:1:");
    assertThat(peerPort(v6)).isNotEqualTo(v6.substring(v6.indexOf("local=") + 6));
    conduit.await(l -> l.startsWith("CLOSED") && l.contains("dst=[fd00::2]:80") && l.contains("outcome=OK"),
        10, "closed v6 curl connection");

    // 1 MiB each way, byte for byte, with half-close
    assertThat(payload(a, "198.18.0.2")).as("%s %s", conduit.lines(), origin.lines()).isEqualTo("OK sent=1048576 received=1048576");
    assertThat(payload(a, "fd00::2")).isEqualTo("OK sent=1048576 received=1048576");
    conduit.await(l -> l.startsWith("CLOSED") && l.contains("dst=[fd00::2]:80") && l.contains("in=1048576"),
        10, "closed v6 payload connection");

    // the Host header is sniffed and routed on; the dial still goes to the original IP
    assertThat(curl(a, "--resolve", "named.test:80:198.18.0.2", "http://named.test/")).startsWith("peer=198.18.0.1:");
    conduit.await(l -> l.equals("ROUTED 198.18.0.2:80 sniffed=named.test rule=default"), 10, "sniffed Host");
    CommandRunner.Result blocked = a.runner.run(List.of("curl", "-sS", "--max-time", "10", "--resolve",
        "blocked.test:80:198.18.0.2", "http://blocked.test/"), "");
    assertThat(blocked.exitCode()).as(blocked.stderr()).isNotZero();
    conduit.await(l -> l.equals("ROUTED 198.18.0.2:80 sniffed=blocked.test rule=no-blocked"), 10, "rejected host");
    conduit.await(l -> l.startsWith("CLOSED") && l.contains("outcome=REJECTED") && l.contains("blocked"), 10,
        "rejected connection");

    // conduit's own dials carry the bypass mark (read back from the kernel) and were not captured
    // again: without the mark every dial would be redirected to conduit itself
    assertThat(conduit.lines()).filteredOn(l -> l.startsWith("MARK")).hasSizeGreaterThanOrEqualTo(5)
        .containsOnly("MARK 0x5a4");
    assertThat(origin.lines()).filteredOn(l -> l.startsWith("PEER")).hasSizeGreaterThanOrEqualTo(5)
        .containsOnly("PEER 198.18.0.1", "PEER fd00:0:0:0:0:0:0:1");
    assertThat(conduit.lines()).noneMatch(l -> l.contains("loop"));

    // loop guard: a direct connection to the listener is refused
    for (String target : List.of("TCP4:127.0.0.1:" + PORT, "TCP4:198.18.0.1:" + PORT, "TCP6:[fd00::1]:" + PORT)) {
      a.runner.run(List.of("socat", "-T", "3", "-", target), "");
    }
    conduit.await(l -> l.startsWith("CLOSED client=/[fd00:0:0:0:0:0:0:1]") && l.contains("outcome=REJECTED")
        && l.contains("loop"), 10, "loop refused (v6)");
    assertThat(conduit.lines()).filteredOn(l -> l.contains("outcome=REJECTED") && l.contains("loop")).hasSize(3);

    int exit = conduit.terminate();
    assertThat(conduit.lines()).as("exit %s", exit).contains("STOPPED");
    assertThat(installed(a)).isEmpty();
    // nothing diverts any more: the origin is reached directly
    assertThat(curl(a, "http://198.18.0.2/")).startsWith("peer=198.18.0.1:");
  }

  @Test
  void tproxyGatewayCapturesForwardedConnectionsV4AndV6() throws Exception {
    NetNs c = closing(NetNs.bare());
    NetNs g = closing(NetNs.bare());
    NetNs s = closing(NetNs.bare());
    NetNs.link(c, "c0", List.of("198.18.1.2/24", "fd00:1::2/64"), g, "g0", List.of("198.18.1.1/24", "fd00:1::1/64"));
    NetNs.link(g, "g1", List.of("198.18.2.1/24", "fd00:2::1/64"), s, "s0", List.of("198.18.2.2/24", "fd00:2::2/64"));
    c.run("ip", "route", "add", "default", "via", "198.18.1.1");
    c.run("ip", "-6", "route", "add", "default", "via", "fd00:1::1");
    s.run("ip", "route", "add", "default", "via", "198.18.2.1");
    s.run("ip", "-6", "route", "add", "default", "via", "fd00:2::1");
    g.run("sysctl", "-qw", "net.ipv4.ip_forward=1");
    g.run("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1");
    Child origin = origin(s);
    // plain routing first: the origin sees the client itself
    assertThat(curl(c, "http://198.18.2.2/")).startsWith("peer=198.18.1.2:");

    Child conduit = conduit(g, "TPROXY", "nftables", "198.18.2.2:80", "[fd00:2::2]:80");
    assertThat(installed(g)).contains("lookup 100");
    // captured: the origin now sees the gateway (conduit's dial), not the client
    assertThat(curl(c, "http://198.18.2.2/")).startsWith("peer=198.18.2.1:");
    assertThat(curl(c, "http://[fd00:2::2]/")).startsWith("peer=fd00:2:0:0:0:0:0:1:");
    assertThat(payload(c, "198.18.2.2")).isEqualTo("OK sent=1048576 received=1048576");
    assertThat(payload(c, "fd00:2::2")).isEqualTo("OK sent=1048576 received=1048576");
    conduit.await(l -> l.startsWith("CLOSED client=/198.18.1.2") && l.contains("dst=198.18.2.2:80")
        && l.contains("in=1048576") && l.contains("outcome=OK"), 10, "closed v4 payload connection");
    conduit.await(l -> l.startsWith("CLOSED client=/[fd00:1:0:0:0:0:0:2]") && l.contains("dst=[fd00:2::2]:80")
        && l.contains("in=1048576") && l.contains("outcome=OK"), 10, "closed v6 payload connection");
    assertThat(conduit.lines()).filteredOn(l -> l.startsWith("MARK")).containsOnly("MARK 0x5a4");

    int exit = conduit.terminate();
    assertThat(conduit.lines()).as("exit %s", exit).contains("STOPPED");
    assertThat(installed(g)).isEmpty();
    assertThat(g.run("ip", "rule", "show")).doesNotContain("lookup 100");
    assertThat(curl(c, "http://198.18.2.2/")).startsWith("peer=198.18.1.2:");
    assertThat(origin.lines()).contains("PEER 198.18.2.1", "PEER fd00:2:0:0:0:0:0:1");
  }

  /**
   * The trap of issue 20: on a TPROXY gateway whose capture network contains the gateway's own
   * address on the origin side, the origin's SYN-ACK to conduit's dial matched the capture rule; the
   * iptables TPROXY target dropped it (nft's falls through), so every captured connection hung.
   * Connections to the gateway's own addresses are not captured either.
   */
  @ParameterizedTest
  @ValueSource(strings = {"iptables", "nftables"})
  void tproxyGatewayCaptureNetworkContainingItsOwnAddressDoesNotTrapConduit(String backend) throws Exception {
    NetNs c = closing(NetNs.bare());
    NetNs g = closing(NetNs.bare());
    NetNs s = closing(NetNs.bare());
    NetNs.link(c, "c0", List.of("198.18.8.2/24", "fd00:8::2/64"), g, "g0", List.of("198.18.8.1/24", "fd00:8::1/64"));
    NetNs.link(g, "g1", List.of("198.18.9.1/24", "fd00:9::1/64"), s, "s0", List.of("198.18.9.2/24", "fd00:9::2/64"));
    c.run("ip", "route", "add", "default", "via", "198.18.8.1");
    c.run("ip", "-6", "route", "add", "default", "via", "fd00:8::1");
    s.run("ip", "route", "add", "default", "via", "198.18.9.1");
    s.run("ip", "-6", "route", "add", "default", "via", "fd00:9::1");
    g.run("sysctl", "-qw", "net.ipv4.ip_forward=1");
    g.run("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1");
    origin(s);
    origin(g); // the gateway's own server: never captured
    Child conduit = conduit(g, "TPROXY", backend, "net:198.18.9.0/24", "net:198.18.8.0/24",
        "net:fd00:9::/64", "net:fd00:8::/64");
    assertThat(curl(c, "http://198.18.9.2/")).as("%s", conduit.lines()).startsWith("peer=198.18.9.1:");
    assertThat(curl(c, "http://[fd00:9::2]/")).startsWith("peer=fd00:9:0:0:0:0:0:1:");
    assertThat(payload(c, "198.18.9.2")).isEqualTo("OK sent=1048576 received=1048576");
    // the gateway's own addresses, inside both capture networks, are reached directly
    assertThat(curl(c, "http://198.18.8.1/")).startsWith("peer=198.18.8.2:");
    assertThat(curl(c, "http://198.18.9.1/")).startsWith("peer=198.18.8.2:");
    assertThat(curl(c, "http://[fd00:8::1]/")).startsWith("peer=fd00:8:0:0:0:0:0:2:");
    assertThat(conduit.lines()).filteredOn(l -> l.startsWith("CLOSED")).noneMatch(l -> l.contains("dst=198.18.8.1")
        || l.contains("dst=198.18.9.1"));
    conduit.terminate();
  }

  /**
   * Drift repair: another tool flushes conduit's rules while a captured transfer is in flight; conduit
   * notices, applies the rules again and counts the repair; the next connection is captured again and
   * the transfer in flight completes through conduit.
   */
  @ParameterizedTest
  @ValueSource(strings = {"iptables", "nftables"})
  void flushedRulesAreRepairedWhileATransferRuns(String backend) throws Exception {
    NetNs c = closing(NetNs.bare());
    NetNs g = closing(NetNs.bare());
    NetNs s = closing(NetNs.bare());
    NetNs.link(c, "c0", List.of("198.18.1.2/24"), g, "g0", List.of("198.18.1.1/24"));
    NetNs.link(g, "g1", List.of("198.18.2.1/24"), s, "s0", List.of("198.18.2.2/24"));
    c.run("ip", "route", "add", "default", "via", "198.18.1.1");
    s.run("ip", "route", "add", "default", "via", "198.18.2.1");
    g.run("sysctl", "-qw", "net.ipv4.ip_forward=1");
    Child origin = origin(s);
    Child conduit = closing(Child.start(g, List.of("-Ddrift.ms=100"), TransparentMain.class, "TPROXY", backend,
        Integer.toString(PORT), "CDT", "198.18.2.2:80"));
    assertThat(conduit.awaitPrefix("READY", 30)).isEqualTo("READY " + PORT);

    // a transfer in flight: half a request sent, conduit has dialed the origin
    Process inFlight = new ProcessBuilder("ip", "netns", "exec", c.name, "socat", "-t", "20", "-",
        "TCP4:198.18.2.2:80").start();
    closing(() -> {
      inFlight.destroyForcibly();
      inFlight.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
    });
    inFlight.getOutputStream().write("GET / HTTP/1.1\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    inFlight.getOutputStream().flush();
    origin.await(l -> l.equals("PEER 198.18.2.1"), 30, "conduit's dial of the transfer in flight");

    if (backend.equals("iptables")) {
      g.run("iptables", "-t", "mangle", "-F");
    } else {
      g.run("nft", "flush", "ruleset");
    }
    // iptables -F leaves conduit's empty chains, sets and routes: changed; nft's table is gone: vanished
    assertThat(conduit.awaitPrefix("REPAIRED", 30))
        .isEqualTo(backend.equals("iptables") ? "REPAIRED changed" : "REPAIRED vanished");
    // counted where it happened: the flushed table's chains
    String drift = conduit.awaitPrefix("DRIFT", 30);
    if (backend.equals("iptables")) {
      assertThat(drift).contains("Repair[table=ip/mangle, chain=PREROUTING, change=missing]=1")
          .contains("Repair[table=ip/mangle, chain=CDT_PREROUTING, change=altered]=1").doesNotContain("ip -4");
    } else {
      assertThat(drift).contains("Repair[table=inet conduit_cdt, chain=prerouting, change=missing]=1")
          .contains("Repair[table=inet conduit_cdt, chain=set dst_ipport4, change=missing]=1");
    }
    // captured again: the origin sees the gateway, not the client
    assertThat(curl(c, "http://198.18.2.2/")).startsWith("peer=198.18.2.1:");
    // the transfer in flight completes through conduit
    inFlight.getOutputStream().write("Host: in-flight.test\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    inFlight.getOutputStream().close();
    String reply = new String(inFlight.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(reply).contains("200 OK").contains("peer=198.18.2.1:");
    assertThat(conduit.lines()).filteredOn(l -> l.startsWith("REPAIRED")).hasSize(1);
    conduit.terminate();
    assertThat(installed(g)).isEmpty();
  }

  @Test
  void killMinus9ThenRestartLeavesOneSetOfRulesAndStopLeavesNone() throws Exception {
    NetNs[] ab = hostsAB();
    NetNs a = ab[0];
    origin(ab[1]);
    Child crashed = conduit(a, "REDIRECT", "nftables", "198.18.0.2:80", "[fd00::2]:80");
    String running = installed(a);
    assertThat(running).contains("nft: table inet conduit_cdt");
    crashed.close(); // SIGKILL: no hook runs
    assertThat(installed(a)).isEqualTo(running);
    // captured traffic now goes to a dead port
    assertThat(a.runner.run(List.of("curl", "-sS", "--max-time", "5", "http://198.18.0.2/"), "").exitCode())
        .isNotZero();

    Child restarted = conduit(a, "REDIRECT", "nftables", "198.18.0.2:80", "[fd00::2]:80");
    assertThat(installed(a)).isEqualTo(running);
    assertThat(NetfilterSystemTest.count(a.run("nft", "list", "tables"), "conduit_cdt$")).isEqualTo(1);
    assertThat(curl(a, "http://198.18.0.2/")).startsWith("peer=198.18.0.1:");
    restarted.await(l -> l.startsWith("CLOSED") && l.contains("outcome=OK"), 10, "relayed after restart");
    restarted.terminate();
    assertThat(installed(a)).isEmpty();
  }

  private static String peerPort(String body) {
    String peer = body.substring(0, body.indexOf(' '));
    return peer.substring(peer.lastIndexOf(':') + 1);
  }
}
