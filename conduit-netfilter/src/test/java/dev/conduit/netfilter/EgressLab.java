package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.testing.Poll;
import dev.conduit.netfilter.egress.AddressCounters;
import dev.conduit.netfilter.testing.NetNs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Three network namespaces made by a test: a client host (198.18.1.2, fd00:1::2) whose only way out
 * is the gateway (198.18.1.1, fd00:1::1), and an "internet" (198.19.0.2, fd00:2::2 towards the gateway)
 * holding HTTP servers on 198.19.2.1, 198.19.2.2, fd00:3::1 and fd00:3::2, port 8000, each serving
 * {@code /blob} of {@link #BLOB_BYTES} bytes. The internet routes back to the client network, so
 * traffic that the gateway forwards without NAT still gets answers: only a real drop stops it. The
 * internet counts, per server address, the packets and bytes its servers receive and send, in its
 * own nft table (independent of the gateway's counters).
 */
final class EgressLab implements AutoCloseable {

  static final int BLOB_BYTES = 300_000;
  static final List<String> SERVERS = List.of("198.19.2.1", "198.19.2.2", "fd00:3::1", "fd00:3::2");

  final NetNs client;
  final NetNs gateway;
  final NetNs internet;
  private final List<Process> processes = new ArrayList<>();
  private final Path dir;

  private EgressLab(NetNs client, NetNs gateway, NetNs internet, Path dir) {
    this.client = client;
    this.gateway = gateway;
    this.internet = internet;
    this.dir = dir;
  }

  static EgressLab create() throws Exception {
    NetNs c = NetNs.bare();
    NetNs g = null;
    NetNs i = null;
    Path dir = Files.createTempDirectory("conduit-egress-lab");
    try {
      g = NetNs.bare();
      i = NetNs.bare();
      String tag = Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 16));
      NetNs.link(c, "ce" + tag, List.of("198.18.1.2/24", "fd00:1::2/64"),
          g, "gc" + tag, List.of("198.18.1.1/24", "fd00:1::1/64"));
      NetNs.link(g, "gi" + tag, List.of("198.19.0.1/24", "fd00:2::1/64"),
          i, "ig" + tag, List.of("198.19.0.2/24", "fd00:2::2/64"));
      g.run("sysctl", "-qw", "net.ipv4.ip_forward=1");
      g.run("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1");
      g.run("ip", "route", "add", "198.19.2.0/24", "via", "198.19.0.2");
      g.run("ip", "-6", "route", "add", "fd00:3::/64", "via", "fd00:2::2");
      for (String a : SERVERS) {
        i.run("ip", "addr", "add", a + (a.contains(":") ? "/128" : "/32"), "dev", "lo");
      }
      // the internet answers un-NATed clients too: enforcement must not rest on a missing NAT
      i.run("ip", "route", "add", "198.18.1.0/24", "via", "198.19.0.1");
      i.run("ip", "-6", "route", "add", "fd00:1::/64", "via", "fd00:2::1");
      StringBuilder count = new StringBuilder("table inet lab {\n chain in {\n  type filter hook input priority 0;\n");
      for (String a : SERVERS) {
        count.append("  ").append(a.contains(":") ? "ip6" : "ip").append(" daddr ").append(a).append(" counter\n");
      }
      count.append(" }\n chain out {\n  type filter hook output priority 0;\n");
      for (String a : SERVERS) {
        count.append("  ").append(a.contains(":") ? "ip6" : "ip").append(" saddr ").append(a).append(" counter\n");
      }
      count.append(" }\n}\n");
      i.runner.run(Command.withInput(count.toString(), "nft", "-f", "-"));
      Files.write(dir.resolve("blob"), new byte[BLOB_BYTES]);
      EgressLab lab = new EgressLab(c, g, i, dir);
      NetNs inet = i;
      try {
        for (String a : SERVERS) {
          lab.startInInternet("server-" + a.replace(':', '_') + ".log", "/usr/bin/python3", "-m", "http.server",
              "8000", "--bind", a, "--directory", dir.toString());
        }
        lab.await(() -> {
          try {
            String listening = inet.run("ss", "-Hltn", "sport", "=", ":8000");
            return SERVERS.stream().allMatch(a -> listening.contains(a.contains(":") ? "[" + a + "]:8000" : a + ":8000"));
          } catch (NetfilterException e) {
            return false;
          }
        }, "the four HTTP servers listening");
        return lab;
      } catch (Exception | Error e) {
        lab.close();
        throw e;
      }
    } catch (Exception | Error e) {
      if (i != null) {
        i.close();
      }
      if (g != null) {
        g.close();
      }
      c.close();
      throw e;
    }
  }

  /**
   * Fetches {@code /blob} from a server with curl in the client namespace.
   *
   * @return curl's {@code http_code size_download}, or {@code exit N} when curl failed
   */
  String fetch(String server) throws Exception {
    String url = "http://" + (server.contains(":") ? "[" + server + "]" : server) + ":8000/blob";
    CommandRunner.Result r = client.runner.run(List.of("curl", "-sS", "-o", "/dev/null", "--connect-timeout",
        "2", "--max-time", "20", "-w", "%{http_code} %{size_download}", url), "");
    return r.ok() ? r.stdout().strip() : "exit " + r.exitCode();
  }

  /** The internet's own count of packets and bytes that reached ({@code in}) or left ({@code out}) a server. */
  long[] serverCount(String chain, String server) throws NetfilterException {
    String listing = internet.run("nft", "list", "chain", "inet", "lab", chain);
    Matcher m = Pattern.compile((chain.equals("in") ? "daddr " : "saddr ") + Pattern.quote(server)
        + " counter packets (\\d+) bytes (\\d+)").matcher(listing);
    assertThat(m.find()).as(listing).isTrue();
    return new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))};
  }

  /**
   * The internet's counts of a server so far, to compare later counts against: packets and bytes that reached it,
   * then packets and bytes it sent.
   */
  long[] serverCounts(String server) throws NetfilterException {
    long[] in = serverCount("in", server);
    long[] out = serverCount("out", server);
    return new long[] {in[0], in[1], out[0], out[1]};
  }

  /** Counts of one address as the gateway sees them: packets and bytes to it, then packets and bytes from it. */
  interface Counts {
    /** Reads the counts again. */
    long[] read() throws Exception;
  }

  /** {@link Counts} of an allowlist element's counters. */
  static long[] counts(AddressCounters c) {
    return new long[] {c.outPackets(), c.outBytes(), c.inPackets(), c.inBytes()};
  }

  /**
   * Waits until {@code counts} (read again at each look) equal what {@code server} itself saw since {@code base}
   * ({@link #serverCounts}), packet for packet and byte for byte, each way: counters are read from the kernel,
   * which announces no event when they settle.
   *
   * @param whose whose counts these are, for the failure message (e.g. "gateway counters")
   */
  void awaitCountsOfServer(String whose, String server, long[] base, Counts counts) throws InterruptedException {
    String[] last = {""};
    await(() -> {
      try {
        long[] c = counts.read();
        long[] now = serverCounts(server);
        long[] seen = new long[4];
        for (int i = 0; i < 4; i++) {
          seen[i] = now[i] - base[i];
        }
        last[0] = Arrays.toString(c) + " vs the server's " + Arrays.toString(seen)
            + " (packets and bytes to it, then from it)";
        return Arrays.equals(c, seen);
      } catch (RuntimeException e) {
        throw e;
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }, () -> whose + " of " + server + " equal to the server's own: " + last[0]);
  }

  /**
   * Starts {@code argv} in the internet namespace, its output in {@code log} in {@link #dir()}; stopped (by its
   * PID) when the lab closes.
   */
  Process startInInternet(String log, String... argv) throws IOException {
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", internet.name));
    cmd.addAll(List.of(argv));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve(log).toFile()).start();
    processes.add(p);
    return p;
  }

  /** The lab's own directory (it holds {@code blob}, served at {@code /blob}); emptied and removed at close. */
  Path dir() {
    return dir;
  }

  /** Polls a condition for up to 30 s; fails naming what did not happen. */
  void await(BooleanSupplier condition, String what) throws InterruptedException {
    await(condition, () -> what);
  }

  /** Polls a condition (state in the kernel or a store, which announces no event) for up to 30 s. */
  void await(BooleanSupplier condition, java.util.function.Supplier<String> what) throws InterruptedException {
    try {
      Poll.until("condition", Duration.ofSeconds(30), condition);
    } catch (AssertionError e) {
      throw new AssertionError("not within 30 s: " + what.get(), e);
    }
  }

  @Override
  public void close() throws IOException, InterruptedException {
    for (Process p : processes) {
      p.destroy();
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    }
    internet.close();
    gateway.close();
    client.close();
    try (var files = Files.list(dir)) {
      for (Path f : files.toList()) {
        Files.deleteIfExists(f);
      }
    }
    Files.deleteIfExists(dir);
  }
}
