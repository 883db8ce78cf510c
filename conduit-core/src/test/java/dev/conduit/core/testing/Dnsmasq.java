package dev.conduit.core.testing;

import static org.assertj.core.api.Assertions.fail;

import dev.conduit.core.egress.internal.DnsLookup;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Debian's dnsmasq, started by a test on a free loopback port, answering from a hosts file the test rewrites
 * ({@link #hosts}, then SIGHUP), with CNAMEs given at start. Its records carry the TTL given at start.
 */
public final class Dnsmasq implements AutoCloseable {

  private final Process process;
  private final Path hostsFile;
  private final InetSocketAddress address;

  private Dnsmasq(Process process, Path hostsFile, InetSocketAddress address) {
    this.process = process;
    this.hostsFile = hostsFile;
    this.address = address;
  }

  /** Starts dnsmasq; skips the test when it is not installed (fails under CI=true, where test.sh installs it). */
  public static Dnsmasq start(Path dir, String hosts, int ttlSeconds, String... cnames) throws Exception {
    Path binary = Path.of("/usr/sbin/dnsmasq");
    if (!Files.isExecutable(binary)) {
      if ("true".equals(System.getenv("CI"))) {
        fail("dnsmasq is not installed (CI=true: test.sh installs dnsmasq-base)");
      }
      Assumptions.abort("dnsmasq is not installed (apt-get install dnsmasq-base)");
    }
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path hostsFile = dir.resolve("hosts");
    Files.writeString(hostsFile, hosts);
    Files.setPosixFilePermissions(hostsFile, PosixFilePermissions.fromString("rw-r--r--"));
    int port = freeUdpAndTcpPort();
    List<String> command = new ArrayList<>(List.of(binary.toString(), "--keep-in-foreground", "--conf-file=/dev/null",
        "--no-resolv", "--no-hosts", "--addn-hosts=" + hostsFile, "--listen-address=127.0.0.1", "--bind-interfaces",
        "--port=" + port, "--local-ttl=" + ttlSeconds, "--pid-file=", "--log-facility=-",
        // authoritative for the test domains: an unknown name there is NXDOMAIN, not REFUSED
        "--local=/example.com/", "--local=/example.net/", "--local=/example.org/"));
    for (String cname : cnames) {
      command.add("--cname=" + cname);
    }
    Process process = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(dir.resolve("dnsmasq.log").toFile()).start();
    Dnsmasq dns = new Dnsmasq(process, hostsFile, new InetSocketAddress("127.0.0.1", port));
    dns.awaitAnswering();
    return dns;
  }

  /** A port free for UDP and TCP both: dnsmasq binds both, and exits when the TCP one is taken. */
  private static int freeUdpAndTcpPort() throws IOException {
    for (int attempt = 0; ; attempt++) {
      try (DatagramSocket udp = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
        int port = udp.getLocalPort();
        try (java.net.ServerSocket tcp = new java.net.ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
          return port;
        } catch (IOException taken) {
          if (attempt == 20) {
            throw taken;
          }
        }
      }
    }
  }

  public InetSocketAddress address() {
    return address;
  }

  /** Rewrites the hosts file and makes dnsmasq read it again. */
  public void hosts(String hosts) throws IOException, InterruptedException {
    Files.writeString(hostsFile, hosts);
    new ProcessBuilder("kill", "-HUP", Long.toString(process.pid())).inheritIO().start().waitFor();
  }

  /** Waits until a lookup of {@code name} gives exactly {@code address} (after {@link #hosts}). */
  public void awaitAnswer(String name, String expected) throws Exception {
    try (DnsLookup lookup = new DnsLookup(List.of(address), Duration.ofSeconds(2))) {
      // dnsmasq rereads its hosts file on SIGHUP and says nothing: its answers are the state to poll
      Poll.until("dnsmasq answering " + name + " with " + expected, Duration.ofSeconds(30), () -> {
        try {
          return lookup.lookup(name).addresses().toString().equals("[" + expected + "]");
        } catch (IOException e) {
          return false; // not answering yet
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new AssertionError("interrupted", e);
        }
      });
    }
  }

  /** A real query is the readiness probe: dnsmasq says nothing when its socket is bound. */
  private void awaitAnswering() throws Exception {
    String[] last = {"no answer yet"};
    try (DnsLookup lookup = new DnsLookup(List.of(address), Duration.ofMillis(500))) {
      Poll.until("dnsmasq answering at " + address, Duration.ofSeconds(30), () -> {
        boolean alive = process.isAlive();
        try {
          lookup.lookup("probe.example.com");
          return true;
        } catch (IOException e) {
          last[0] = e.getMessage();
          if (!alive) {
            fail("dnsmasq did not start (exited): " + last[0]);
          }
          return false;
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new AssertionError("interrupted waiting for dnsmasq", e);
        }
      });
    } catch (AssertionError e) {
      fail("dnsmasq did not start: " + last[0], e);
    }
  }

  /** Stops dnsmasq (a DNS failure, for the resolver). */
  public void stop() throws InterruptedException {
    process.destroy();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      stop();
    }
  }
}
