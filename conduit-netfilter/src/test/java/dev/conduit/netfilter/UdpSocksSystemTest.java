package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.testing.FileWatch;
import dev.conduit.core.testing.Processes;
import dev.conduit.netfilter.testing.NetNs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * UDP flows through a SOCKS5 upstream on the real kernel: a client namespace, a gateway running conduit
 * ({@link TransparentMain} with {@code -Dudp.socks}: UDP to ports 7 and 53 via {@code UDP ASSOCIATE}) and a
 * server namespace with a UDP echo, dnsmasq and Debian's dante ({@code danted}) on its own address, so the
 * echo and dnsmasq see who relayed each datagram. Then the relay follows an update of its rules: an open
 * flow keeps its route, a new flow takes the new one. Needs root, iptables, ipset, nft, ip, dig, dnsmasq and
 * danted (skips elsewhere; under CI=true it fails instead).
 */
class UdpSocksSystemTest {

  private static final int PORT = 15001;
  private final List<AutoCloseable> cleanup = new ArrayList<>();

  @BeforeAll
  static void requireRoot() {
    NetNs.requireRootAnd("iptables-save", "ip6tables-save", "ipset", "nft", "ip", "dig", "dnsmasq", "danted");
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
  void udpThroughDanteEndsWithItsAssociationAndFollowsAnUpdate() throws Exception {
    NetNs c = closing(NetNs.bare());
    NetNs g = closing(NetNs.bare());
    NetNs s = closing(NetNs.bare());
    NetNs.link(c, "c0", List.of("198.18.1.2/24", "fd00:1::2/64"), g, "g0", List.of("198.18.1.1/24", "fd00:1::1/64"));
    NetNs.link(g, "g1", List.of("198.18.2.1/24", "fd00:2::1/64"), s, "s0", List.of("198.18.2.2/24", "fd00:2::2/64"));
    // dante behind the server's network: the gateway reaches it through s, which also forwards its datagrams
    NetNs d = closing(NetNs.bare());
    NetNs.link(s, "s1", List.of("198.18.3.1/24", "fd00:3::1/64"), d, "d0", List.of("198.18.3.2/24", "fd00:3::2/64"));
    c.run("ip", "route", "add", "default", "via", "198.18.1.1");
    c.run("ip", "-6", "route", "add", "default", "via", "fd00:1::1");
    s.run("ip", "route", "add", "default", "via", "198.18.2.1");
    s.run("ip", "-6", "route", "add", "default", "via", "fd00:2::1");
    d.run("ip", "route", "add", "default", "via", "198.18.3.1");
    d.run("ip", "-6", "route", "add", "default", "via", "fd00:3::1");
    g.run("ip", "route", "add", "198.18.3.0/24", "via", "198.18.2.2");
    s.run("sysctl", "-qw", "net.ipv4.ip_forward=1");
    s.run("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1");
    g.run("sysctl", "-qw", "net.ipv4.ip_forward=1");
    g.run("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1");
    Child echo = closing(Child.start(s, UdpEchoMain.class, "7", "198.18.2.2", "fd00:2::2"));
    echo.awaitPrefix("READY", 30);
    Process dnsmasq = new ProcessBuilder("ip", "netns", "exec", s.name, "dnsmasq", "--keep-in-foreground",
        "--log-facility=-", "--log-queries", "--no-resolv", "--no-hosts", "--port=53", "--bind-interfaces",
        "--listen-address=198.18.2.2", "--address=/probe.test/198.18.7.7", "--pid-file=", "--user=root")
        .redirectErrorStream(true).start();
    closing(() -> stop(dnsmasq));
    Path danteConf = Files.createTempFile("danted", ".conf");
    closing(() -> Files.deleteIfExists(danteConf));
    closing(() -> Files.deleteIfExists(Path.of(danteConf + ".pid")));
    closing(() -> Files.deleteIfExists(Path.of(danteConf + ".log")));
    Files.writeString(danteConf, """
        logoutput: stderr
        internal: 198.18.3.2 port = 1080
        external: 198.18.3.2
        external: fd00:3::2
        socksmethod: none
        clientmethod: none
        user.privileged: root
        user.unprivileged: nobody
        client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }
        socks pass { from: 0/0 to: 0/0 command: udpassociate udpreply }
        """, StandardCharsets.US_ASCII);
    Process dante = closing(new Dante(d, danteConf)).process;

    Child conduit = closing(Child.start(g, List.of("-Dudp=true", "-Dudp.idle.ms=120000",
            "-Dudp.socks=socks5://198.18.3.2:1080"), TransparentMain.class, "TPROXY", "iptables",
        Integer.toString(PORT), "CDS", "net:198.18.2.0/24", "net:fd00:2::/64"));
    assertThat(conduit.awaitPrefix("READY", 30)).isEqualTo("READY " + PORT);

    // byte for byte both ways through dante, answered from the address the client sent to; the echo saw dante
    assertThat(udp(c, "echo", "-", "0", "198.18.2.2", "7", "1200", "5"))
        .as("%s\n%s\n%s", conduit.lines(), echo.lines(), Files.readString(Path.of(danteConf + ".log")))
        .isEqualTo("OK 5");
    assertThat(udp(c, "echo", "-", "0", "fd00:2::2", "7", "1000", "5"))
        .as("%s\n%s", conduit.lines(), echo.lines()).isEqualTo("OK 5");
    assertThat(echo.lines()).filteredOn(l -> l.startsWith("PEER")).isNotEmpty()
        .containsOnly("PEER 198.18.3.2", "PEER fd00:3:0:0:0:0:0:2");
    // dig's query went through dante, and its answer came back from the server it asked
    assertThat(c.run("dig", "+short", "+time=3", "+tries=3", "@198.18.2.2", "probe.test", "A").strip())
        .isEqualTo("198.18.7.7");
    conduit.await(l -> l.startsWith("UDP flows=3 "), 30, "three flows through dante");

    // dante goes away (its children, which hold the connections, too): its control connections close, and
    // so do the flows, long before their idle timeout
    stop(dante);
    conduit.await(l -> l.startsWith("UDP flows=0 ") && l.contains("assocClosed=3 "), 30, "flows ended with dante");
    // without dante, a new flow is dropped and counted: never relayed direct instead
    assertThat(udp(c, "echo", "-", "0", "198.18.2.2", "7", "10", "1")).startsWith("FAIL");
    conduit.await(l -> l.contains("SOCKS5 association failed="), 30, "failed association counted");

    // dante back; a flow opens through it, then the rules change: it keeps its route, a new flow goes direct
    closing(new Dante(d, danteConf));
    long viaDante = peers(echo, "198.18.3.2");
    assertThat(udpFromPort(c, 40001)).as("%s", conduit.lines()).isEqualTo("OK 3");
    viaDante = echo.awaitMoreThan("PEER 198.18.3.2"::equals, viaDante, 30, "datagrams via dante");
    conduit.process.getOutputStream().write("DIRECT\n".getBytes(StandardCharsets.US_ASCII));
    conduit.process.getOutputStream().flush();
    conduit.awaitPrefix("UPDATED", 30);
    assertThat(udpFromPort(c, 40001)).isEqualTo("OK 3");
    // the open flow keeps its route
    echo.awaitMoreThan("PEER 198.18.3.2"::equals, viaDante, 30, "datagrams via dante after the update");
    assertThat(peers(echo, "198.18.2.1")).as("nothing direct yet").isZero();
    assertThat(udpFromPort(c, 40002)).isEqualTo("OK 3");
    // a new flow takes the new rules
    echo.awaitMoreThan("PEER 198.18.2.1"::equals, 0, 30, "datagrams relayed direct");

    assertThat(new String(readAvailable(dnsmasq), StandardCharsets.UTF_8))
        .contains("query[A] probe.test from 198.18.3.2");
    conduit.terminate();
    assertThat(conduit.lines()).contains("STOPPED").noneMatch(l -> l.contains("LEAK"));
  }

  /** danted in the namespace, stopped (SIGTERM, by its PID) at close; waits until it accepts. */
  private static final class Dante implements AutoCloseable {
    final Process process;

    Dante(NetNs ns, Path conf) throws Exception {
      Path log = Path.of(conf + ".log");
      process = new ProcessBuilder("ip", "netns", "exec", ns.name, "danted", "-f", conf.toString(), "-N", "1",
          "-p", conf + ".pid").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
          .start();
      // danted's main process (ip netns exec execs it: same PID) says "running" after it listens; the log is
      // shared by both danteds of the test, so the line is matched by this one's PID
      try {
        FileWatch.await(log, Pattern.compile("danted\\[" + process.pid() + "]: info: .* running"),
            Duration.ofSeconds(30), process);
        assertThat(ns.runner.run(List.of("ss", "-Htln", "sport = :1080"), "").stdout())
            .as("danted listens once it says it runs").contains("1080");
      } catch (Exception | AssertionError e) {
        stop(process); // not yet handed to the test's clean-up
        throw e;
      }
    }

    @Override
    public void close() throws Exception {
      stop(process);
    }
  }

  /** Stops a process this test started and the children it forked (danted's), each by its PID. */
  private static void stop(Process p) throws InterruptedException {
    List<ProcessHandle> children = p.toHandle().descendants().toList();
    children.forEach(ProcessHandle::destroy);
    ProcessHandle.of(p.pid()).ifPresent(ProcessHandle::destroy);
    for (ProcessHandle child : children) {
      child.onExit().completeOnTimeout(child, 10, TimeUnit.SECONDS).join();
    }
    if (!p.waitFor(10, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
  }

  private static long peers(Child echo, String ip) {
    return echo.lines().stream().filter(l -> l.equals("PEER " + ip)).count();
  }

  private static String udpFromPort(NetNs c, int port) throws Exception {
    return udp(c, "echo", "198.18.1.2", Integer.toString(port), "198.18.2.2", "7", "100", "3");
  }

  private static String udp(NetNs ns, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(Processes.java());
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), UdpClientMain.class.getName()));
    cmd.addAll(List.of(args));
    CommandRunner.Result r = ns.runner.run(cmd, "");
    return (r.stdout().strip() + r.stderr().strip()).strip();
  }

  private static byte[] readAvailable(Process p) throws Exception {
    java.io.InputStream in = p.getInputStream();
    return in.readNBytes(in.available());
  }
}
