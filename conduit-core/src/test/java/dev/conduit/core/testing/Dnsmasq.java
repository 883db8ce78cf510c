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
    // dnsmasq listens on the port over UDP and TCP and exits when either is taken (a busy machine's ephemeral
    // TCP ports): take one free for both, and start again on another when dnsmasq still lost the race
    for (int attempt = 1; ; attempt++) {
      try {
        return start(binary, dir, hostsFile, freePort(), ttlSeconds, cnames);
      } catch (AssertionError e) {
        if (attempt == 3 || !e.getMessage().contains("(exited)")) {
          throw e;
        }
      }
    }
  }

  private static int freePort() throws IOException {
    for (int attempt = 1; ; attempt++) {
      try (DatagramSocket udp = new DatagramSocket(0, InetAddress.getLoopbackAddress());
           java.net.ServerSocket tcp = new java.net.ServerSocket()) {
        tcp.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), udp.getLocalPort()));
        return udp.getLocalPort();
      } catch (java.net.BindException e) {
        if (attempt == 100) {
          throw e;
        }
        // the TCP port is taken: another one
      }
    }
  }

  private static Dnsmasq start(Path binary, Path dir, Path hostsFile, int port, int ttlSeconds, String... cnames)
      throws Exception {
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
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (true) {
        try {
          String got = lookup.lookup(name).addresses().toString();
          if (got.equals("[" + expected + "]")) {
            return;
          }
        } catch (IOException e) {
          // not answering yet
        }
        if (System.nanoTime() > deadline) {
          fail("dnsmasq did not answer " + name + " with " + expected);
        }
        java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
      }
    }
  }

  private void awaitAnswering() throws Exception {
    try (DnsLookup lookup = new DnsLookup(List.of(address), Duration.ofMillis(500))) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (true) {
        try {
          lookup.lookup("probe.example.com");
          return;
        } catch (IOException e) {
          if (!process.isAlive() || System.nanoTime() > deadline) {
            fail("dnsmasq did not start" + (process.isAlive() ? "" : " (exited)") + ": " + e.getMessage());
          }
        }
      }
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
