package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.Main;
import dev.conduit.core.testing.Processes;
import dev.conduit.netfilter.testing.NetNs;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code conduit proxy --tproxy-listen … --tproxy-udp} on a gateway namespace, with the rules of {@code conduit
 * netfilter apply --mode tproxy --gateway --udp}: a client namespace's datagram to a UDP echo in a server
 * namespace goes through the CLI process and comes back byte for byte. Needs root, ip and iptables (skips
 * elsewhere; under CI=true it fails instead).
 */
class TproxyUdpSystemTest {
  private static final int PORT = 15001;
  private final List<AutoCloseable> cleanup = new ArrayList<>();

  @BeforeAll
  static void requireRoot() {
    NetNs.requireRootAnd("ip", "iptables-save", "ipset");
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (int i = cleanup.size() - 1; i >= 0; i--) {
      cleanup.get(i).close();
    }
  }

  @Test
  void cliRelaysUdpThroughTproxyByteExact() throws Exception {
    NetNs c = closing(NetNs.bare());
    NetNs g = closing(NetNs.bare());
    NetNs s = closing(NetNs.bare());
    link(c, "c0", "198.18.1.2/24", g, "g0", "198.18.1.1/24");
    link(g, "g1", "198.18.2.1/24", s, "s0", "198.18.2.2/24");
    c.run("ip", "route", "add", "default", "via", "198.18.1.1");
    s.run("ip", "route", "add", "default", "via", "198.18.2.1");
    g.run("sysctl", "-qw", "net.ipv4.ip_forward=1");

    Child echo = start(s, UdpEchoPeer.class.getName(), "echo", "198.18.2.2", "7");
    echo.await(l -> l.equals("READY"), "echo ready");
    Child apply = start(g, Main.class.getName(), "netfilter", "apply", "--mode", "tproxy", "--port",
        Integer.toString(PORT), "--gateway", "--udp", "--ipv4", "--capture-cidr", "198.18.2.0/24");
    assertThat(apply.process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(apply.process.exitValue()).as("%s", apply.lines).isZero();
    Child proxy = start(g, Main.class.getName(), "proxy", "--tproxy-listen", "0.0.0.0:" + PORT, "--tproxy-udp",
        "--admin-listen", "127.0.0.1:9901");
    proxy.await(l -> l.contains("transparent UDP listener on"), "UDP relay listening");

    for (int size : List.of(1, 1200, 8000)) {
      Child send = start(c, UdpEchoPeer.class.getName(), "send", "198.18.2.2", "7", Integer.toString(size));
      assertThat(send.process.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(String.join("\n", send.lines)).as("proxy: %s", proxy.lines).isEqualTo("OK");
    }
    // the server was answered to conduit's socket on the gateway: the datagrams went through the CLI's relay
    assertThat(echo.lines).filteredOn(l -> l.startsWith("PEER")).isNotEmpty().containsOnly("PEER 198.18.2.1");
    assertThat(proxy.process.isAlive()).as("%s", proxy.lines).isTrue();
    // the relay's flows, datagrams and drops are meters on /metrics
    assertThat(g.run("curl", "-sf", "http://127.0.0.1:9901/metrics"))
        .contains("conduit_tproxy_udp_datagrams_total{direction=\"from_client\",listener=\"tproxy-udp\"}")
        .contains("conduit_tproxy_udp_datagrams_total{direction=\"to_client\",listener=\"tproxy-udp\"}")
        .contains("conduit_tproxy_udp_dropped_total{listener=\"tproxy-udp\",reason=\"flow_table_full\"} 0.0")
        .contains("conduit_tproxy_udp_flows{listener=\"tproxy-udp\"}");
  }

  /**
   * {@code conduit run -c FILE} with a tproxy listener relaying UDP, reloaded twice by SIGHUP: a rule sends the
   * echo's port through a SOCKS5 outbound that refuses (the datagram is dropped and counted, never relayed
   * direct); the reloaded file relays it direct; the next file rejects it, and a flow opened before keeps its
   * route while a new one is rejected.
   */
  @Test
  void reloadedRulesApplyToNewFlowsAndOpenFlowsKeepTheirs() throws Exception {
    NetNs c = closing(NetNs.bare());
    NetNs g = closing(NetNs.bare());
    NetNs s = closing(NetNs.bare());
    link(c, "c0", "198.18.1.2/24", g, "g0", "198.18.1.1/24");
    link(g, "g1", "198.18.2.1/24", s, "s0", "198.18.2.2/24");
    c.run("ip", "route", "add", "default", "via", "198.18.1.1");
    s.run("ip", "route", "add", "default", "via", "198.18.2.1");
    g.run("sysctl", "-qw", "net.ipv4.ip_forward=1");
    Child echo = start(s, UdpEchoPeer.class.getName(), "echo", "198.18.2.2", "7");
    echo.await(l -> l.equals("READY"), "echo ready");
    Child apply = start(g, Main.class.getName(), "netfilter", "apply", "--mode", "tproxy", "--port",
        Integer.toString(PORT), "--gateway", "--udp", "--ipv4", "--capture-cidr", "198.18.2.0/24");
    assertThat(apply.process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(apply.process.exitValue()).as("%s", apply.lines).isZero();

    java.nio.file.Path yaml = java.nio.file.Files.createTempFile("tproxy-udp", ".yaml");
    closing(() -> java.nio.file.Files.deleteIfExists(yaml));
    String head = """
        version: 1
        listeners:
          - { name: tp, type: tproxy, listen: "0.0.0.0:%d", udp: true }
        outbounds:
          - { name: refusing, hops: ["socks5://198.18.2.2:1080"] }
        admin: { listen: "127.0.0.1:9901" }
        default: direct
        """.formatted(PORT);
    java.nio.file.Files.writeString(yaml, head
        + "rules:\n  - { name: echo-via-socks, match: { ports: [7] }, action: { via: refusing } }\n");
    Child proxy = start(g, Main.class.getName(), "run", "-c", yaml.toString());
    proxy.await(l -> l.contains("transparent UDP listener on"), "UDP relay listening");

    // through a SOCKS5 server that refuses: dropped and counted, never relayed direct instead
    assertThat(send(c, 40000, 2)).isEqualTo("TIMEOUT");
    assertThat(g.run("curl", "-sf", "http://127.0.0.1:9901/metrics")).containsPattern(
        "conduit_tproxy_udp_dropped_total\\{listener=\"tp-udp\",reason=\"SOCKS5_association_failed\"} [1-9]");
    assertThat(echo.lines).noneMatch(l -> l.startsWith("PEER"));

    java.nio.file.Files.writeString(yaml, head);
    reload(g, proxy, 1);
    assertThat(send(c, 40001, 10)).as("proxy: %s", proxy.lines).isEqualTo("OK");

    java.nio.file.Files.writeString(yaml, head
        + "rules:\n  - { name: no-echo, match: { ports: [7] }, action: { reject: \"no echo\" } }\n");
    reload(g, proxy, 2);
    assertThat(send(c, 40001, 10)).as("the open flow keeps its route: %s", proxy.lines).isEqualTo("OK");
    assertThat(send(c, 40002, 2)).isEqualTo("TIMEOUT");
    assertThat(g.run("curl", "-sf", "http://127.0.0.1:9901/metrics")).containsPattern(
        "conduit_tproxy_udp_dropped_total\\{listener=\"tp-udp\",reason=\"rejected_by_a_rule\"} [1-9]");
  }

  private String send(NetNs c, int sourcePort, int tries) throws Exception {
    Child send = start(c, UdpEchoPeer.class.getName(), "send", "198.18.2.2", "7", "100", Integer.toString(sourcePort),
        Integer.toString(tries));
    assertThat(send.process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    send.await(l -> l.equals("OK") || l.equals("TIMEOUT") || l.startsWith("MISMATCH"), "the sender's verdict");
    return String.join("\n", send.lines);
  }

  /** SIGHUP to the CLI (by its PID), then waits for its {@code n}th "routes reloaded" line. */
  private static void reload(NetNs g, Child proxy, int n) throws Exception {
    g.run("kill", "-HUP", Long.toString(proxy.process.pid()));
    proxy.await(l -> proxy.lines.stream().filter(x -> x.contains("routes reloaded:")).count() >= n, "reload " + n);
  }

  private <T extends AutoCloseable> T closing(T resource) {
    cleanup.add(resource);
    return resource;
  }

  private static void link(NetNs a, String aName, String aAddress, NetNs b, String bName, String bAddress)
      throws Exception {
    a.run("ip", "link", "add", aName, "type", "veth", "peer", "name", bName, "netns", b.name);
    a.run("ip", "addr", "add", aAddress, "dev", aName);
    a.run("ip", "link", "set", aName, "up");
    b.run("ip", "addr", "add", bAddress, "dev", bName);
    b.run("ip", "link", "set", bName, "up");
  }

  /** Starts a JVM of the test class path in {@code ns}, its output collected line by line; stopped at the end. */
  private Child start(NetNs ns, String mainClass, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns.name));
    cmd.addAll(Processes.java());
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    p.getOutputStream().close();
    Child child = new Child(p);
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          child.add(line);
        }
      } catch (java.io.IOException e) {
        child.add("READ FAILED " + e);
      }
    }, "output-" + p.pid());
    reader.setDaemon(true);
    child.reader = reader;
    reader.start();
    closing(() -> {
      p.destroy();
      if (!p.waitFor(20, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
      }
      reader.join(10_000);
    });
    return child;
  }

  private static final class Child {
    final Process process;
    final List<String> lines = new CopyOnWriteArrayList<>();

    Child(Process process) {
      this.process = process;
    }

    /** The thread reading the process's output, once started. */
    volatile Thread reader;

    /** Adds a line the process wrote and wakes {@link #await}. */
    void add(String line) {
      synchronized (lines) {
        lines.add(line);
        lines.notifyAll();
      }
    }

    /** Waits (woken by each new line) up to 60 s for a line matching {@code line}, or fails. */
    void await(Predicate<String> line, String what) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      synchronized (lines) {
        while (lines.stream().noneMatch(line)) {
          // the reader ends after the output's last line: then no line is still on its way
          boolean ended = reader != null && !reader.isAlive();
          if (lines.stream().anyMatch(line)) {
            return;
          }
          assertThat(ended).as("exited before %s: %s", what, lines).isFalse();
          long left = deadline - System.nanoTime();
          assertThat(left > 0).as("no %s within 60 s: %s", what, lines).isTrue();
          // a line wakes the wait; the bound only notices the process's exit
          lines.wait(Math.max(1, Math.min(1000, TimeUnit.NANOSECONDS.toMillis(left))));
        }
      }
    }
  }
}
