package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.testing.Processes;
import dev.conduit.netfilter.testing.NetNs;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * UDP through TPROXY on the real kernel, IPv4 and IPv6: a client namespace, a gateway running conduit ({@link
 * TransparentMain} with {@code -Dudp=true}: capture rules for TCP and UDP plus a {@link
 * TransparentUdpRelay}) and a server namespace with a UDP echo and dnsmasq. Needs root, iptables,
 * ipset, nft, ip, dig and dnsmasq (skips elsewhere; under CI=true it fails instead).
 */
class UdpTproxySystemTest {

  private static final int PORT = 15001;
  private final List<AutoCloseable> cleanup = new ArrayList<>();

  @BeforeAll
  static void requireRoot() {
    NetNs.requireRootAnd("iptables-save", "ip6tables-save", "ipset", "nft", "ip", "dig", "dnsmasq");
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (int i = cleanup.size() - 1; i >= 0; i--) {
      cleanup.get(i).close();
    }
  }

  private <T extends AutoCloseable> T closing(T resource) {
    cleanup.add(resource);
    return resource;
  }

  @Test
  void udpEchoDnsTwoClientsTimeoutRejectionAndFloodThroughTproxy() throws Exception {
    NetNs c = closing(NetNs.bare());
    NetNs g = closing(NetNs.bare());
    NetNs s = closing(NetNs.bare());
    NetNs.link(c, "c0", List.of("198.18.1.2/24", "198.18.1.3/24", "fd00:1::2/64"), g, "g0",
        List.of("198.18.1.1/24", "fd00:1::1/64"));
    NetNs.link(g, "g1", List.of("198.18.2.1/24", "fd00:2::1/64"), s, "s0", List.of("198.18.2.2/24", "fd00:2::2/64"));
    c.run("ip", "route", "add", "default", "via", "198.18.1.1");
    c.run("ip", "-6", "route", "add", "default", "via", "fd00:1::1");
    s.run("ip", "route", "add", "default", "via", "198.18.2.1");
    s.run("ip", "-6", "route", "add", "default", "via", "fd00:2::1");
    g.run("sysctl", "-qw", "net.ipv4.ip_forward=1");
    g.run("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1");
    Child echo = closing(Child.start(s, UdpEchoMain.class, "7"));
    echo.awaitPrefix("READY", 30);
    Child conduit = closing(Child.start(g, List.of("-Dudp=true", "-Dudp.idle.ms=1000", "-Dudp.maxFlows=16"),
        TransparentMain.class, "TPROXY", "iptables", Integer.toString(PORT), "CDU", "net:198.18.2.0/24",
        "net:fd00:2::/64"));
    assertThat(conduit.awaitPrefix("READY", 30)).isEqualTo("READY " + PORT);

    // byte for byte both ways, answered from the address the client sent to; the server saw conduit
    assertThat(udp(c, "echo", "-", "0", "198.18.2.2", "7", "1200", "5")).as("%s", conduit.lines()).isEqualTo("OK 5");
    assertThat(udp(c, "echo", "-", "0", "fd00:2::2", "7", "1400", "5")).as("%s", conduit.lines()).isEqualTo("OK 5");
    assertThat(echo.lines()).filteredOn(l -> l.startsWith("PEER")).isNotEmpty()
        .containsOnly("PEER 198.18.2.1", "PEER fd00:2:0:0:0:0:0:1");

    Process dnsmasq = new ProcessBuilder("ip", "netns", "exec", s.name, "dnsmasq", "--keep-in-foreground",
        "--log-facility=-", "--log-queries", "--no-resolv", "--no-hosts", "--port=53", "--bind-interfaces",
        "--listen-address=198.18.2.2,fd00:2::2", "--address=/probe.test/198.18.7.7", "--pid-file=", "--user=root")
        .redirectErrorStream(true).start();
    closing(() -> {
      dnsmasq.destroyForcibly();
      dnsmasq.waitFor(10, TimeUnit.SECONDS);
    });
    // dig gets its answer from the server it asked, and that server was asked by conduit
    String answer = c.run("dig", "+short", "+time=3", "+tries=3", "@198.18.2.2", "probe.test", "A").strip();
    assertThat(answer).isEqualTo("198.18.7.7");
    assertThat(c.run("dig", "+short", "+time=3", "+tries=3", "@fd00:2::2", "probe.test", "A").strip())
        .isEqualTo("198.18.7.7");

    // two clients, same source port, different addresses: two flows, each answered
    List<Process> twins = new ArrayList<>();
    for (String ip : List.of("198.18.1.2", "198.18.1.3")) {
      twins.add(javaIn(c, UdpClientMain.class, "echo", ip, "40000", "198.18.2.2", "7", "300", "20"));
    }
    for (Process p : twins) {
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(new String(p.getInputStream().readAllBytes()).strip()).isEqualTo("OK 20");
    }

    // a rule rejects UDP to port 9: dropped and counted, never relayed
    assertThat(udp(c, "echo", "-", "0", "198.18.2.2", "9", "10", "1")).startsWith("FAIL");
    conduit.await(l -> l.startsWith("UDP ") && l.contains("rejected by a rule="), 20, "counted rejection");

    // idle flows time out
    conduit.await(l -> l.startsWith("UDP flows=0 ") && !l.contains("expired=0"), 30, "expired flows");

    // a flood of 64 flows is held to 16; the relay serves a new flow once the flood's have expired
    assertThat(udp(c, "flood", "198.18.2.2", "20000", "64", "20")).isEqualTo("SENT 1280");
    conduit.await(l -> l.startsWith("UDP ") && l.contains("flow table full="), 20, "flood dropped");
    conduit.await(l -> l.startsWith("UDP flows=0 "), 30, "flood's flows expired");
    assertThat(conduit.lines()).filteredOn(l -> l.startsWith("UDP flows="))
        .allMatch(l -> Integer.parseInt(l.replaceAll("UDP flows=\\d+ peak=(\\d+) .*", "$1")) <= 16);
    assertThat(udp(c, "echo", "-", "0", "198.18.2.2", "7", "64", "1")).isEqualTo("OK 1");

    String dnsLog = new String(readAvailable(dnsmasq));
    assertThat(dnsLog).contains("query[A] probe.test from 198.18.2.1").contains("query[A] probe.test from fd00:2::1");
    conduit.terminate();
  }

  private static String udp(NetNs ns, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(Processes.java());
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), UdpClientMain.class.getName()));
    cmd.addAll(List.of(args));
    CommandRunner.Result r = ns.runner.run(cmd, "");
    return (r.stdout().strip() + r.stderr().strip()).strip();
  }

  private static Process javaIn(NetNs ns, Class<?> main, String... args) throws Exception {
    return ns.java(main, args);
  }

  private static byte[] readAvailable(Process p) throws Exception {
    java.io.InputStream in = p.getInputStream();
    return in.readNBytes(in.available());
  }
}
