package dev.conduit.benchmarks;

import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.egress.EgressServer;
import dev.conduit.core.egress.EgressServerConfig;
import dev.conduit.core.egress.NewEntry;
import dev.conduit.core.net.IpPrefixSet;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The egress server's resolution against a local DNS server: Debian's dnsmasq answering {@code N} names from a
 * hosts file, and an {@link EgressServer} (SQLite store) holding one domain entry per name. Prints the time of an
 * API-level add (validation, A+AAAA lookup, store, publish; p50/p99/max) and of a full re-resolution round of
 * every name (p50/max over the rounds). Run by {@code benchmarks/egress-resolve-bench.sh [N [ROUNDS]]}.
 */
public final class EgressResolveBench {

  private EgressResolveBench() {}

  /**
   * Runs the benchmark.
   *
   * @param args the number of names (default 1000) and of rounds (default 5)
   */
  public static void main(String[] args) throws Exception {
    int names = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    Path dnsmasq = Path.of("/usr/sbin/dnsmasq");
    if (!Files.isExecutable(dnsmasq)) {
      System.err.println("egress-resolve-bench: needs dnsmasq (apt-get install dnsmasq-base)");
      System.exit(2);
    }
    Path dir = Files.createTempDirectory("egress-bench");
    StringBuilder hosts = new StringBuilder();
    for (int i = 0; i < names; i++) {
      hosts.append("198.18.").append(i / 250).append('.').append(i % 250 + 1).append(" n").append(i)
          .append(".bench.example.com\n");
    }
    Files.writeString(dir.resolve("hosts"), hosts);
    int port;
    try (DatagramSocket s = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Process dns = new ProcessBuilder(dnsmasq.toString(), "--keep-in-foreground", "--conf-file=/dev/null",
        "--no-resolv", "--no-hosts", "--addn-hosts=" + dir.resolve("hosts"), "--listen-address=127.0.0.1",
        "--bind-interfaces", "--port=" + port, "--local-ttl=300", "--pid-file=", "--local=/example.com/",
        "--user=root", "--cache-size=10000").redirectErrorStream(true).redirectOutput(dir.resolve("dnsmasq.log").toFile())
        .start();
    try (EgressServer server = EgressServer.start(EgressServerConfig.builder(
            StoreConfig.sqlite(dir.resolve("egress.db")).build())
        .bind(new InetSocketAddress("127.0.0.1", 0))
        .dnsServers(List.of(new InetSocketAddress("127.0.0.1", port)))
        .allowedSpecial(IpPrefixSet.parse("198.18.0.0/15"))
        .tickInterval(Duration.ofHours(1))
        .build())) {
      awaitDns(server);
      List<Long> adds = new ArrayList<>();
      for (int i = 0; i < names; i++) {
        long t0 = System.nanoTime();
        server.add(NewEntry.of("n" + i + ".bench.example.com"), "bench");
        adds.add(System.nanoTime() - t0);
      }
      Collections.sort(adds);
      System.out.printf("add (validate, resolve A+AAAA, store, publish) of %d names: p50 %.2f ms, p99 %.2f ms,"
          + " max %.2f ms%n", names, ms(adds.get(names / 2)), ms(adds.get(names * 99 / 100)), ms(adds.get(names - 1)));
      List<Long> roundTimes = new ArrayList<>();
      for (int r = 0; r < rounds; r++) {
        server.resolveAllNow();
        long t0 = System.nanoTime();
        server.runDueWork();
        roundTimes.add(System.nanoTime() - t0);
      }
      Collections.sort(roundTimes);
      System.out.printf("re-resolution round of %d names (%d rounds): p50 %.1f ms, max %.1f ms; %d addresses"
          + " allowlisted%n", names, rounds, ms(roundTimes.get(rounds / 2)), ms(roundTimes.get(rounds - 1)),
          server.effectiveAllowlist().size());
    } finally {
      dns.destroy();
      dns.waitFor(10, TimeUnit.SECONDS);
    }
  }

  private static void awaitDns(EgressServer server) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      try {
        server.add(NewEntry.of("n0.bench.example.com"), "bench");
        server.delete(server.entries().get(0).id(), "bench");
        return;
      } catch (RuntimeException e) {
        if (System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(100);
      }
    }
  }

  private static double ms(long nanos) {
    return nanos / 1e6;
  }
}
