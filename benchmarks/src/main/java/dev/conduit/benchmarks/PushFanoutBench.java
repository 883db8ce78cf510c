package dev.conduit.benchmarks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.push.PushClient;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.Pem;
import dev.conduit.core.pki.TlsMaterial;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Fan-out of the push channel: one {@link PushServer} in this JVM and many agents in a second JVM on loopback. Run
 * by {@code benchmarks/push-bench.sh}.
 *
 * <p>{@code server} mode writes a CA to the given directory, serves, publishes a membership of {@code members}
 * resources, waits for every agent to acknowledge it, then makes {@code changes} changes (one member upserted
 * each), one at a time, each once every agent acknowledged the one before. The changed member carries the
 * {@link System#nanoTime()} just before the publish ({@code t0}); the agents' JVM measures from it (both JVMs read
 * the same monotonic clock on Linux) and prints the RESULT. The server prints its heap after GC with every agent
 * connected, its CPU time per change and the load average. {@code watchers} mode runs cheap agents
 * ({@link PushWatchers}: the server's work is what is measured), {@code agents} mode full {@link PushClient}s
 * (each keeps and hashes the membership: the agents' JVM needs far more CPU and heap).
 */
public final class PushFanoutBench {

  /** Changes made before the measured ones. */
  static final int WARM_UP = 5;

  private PushFanoutBench() {}

  /**
   * {@code server DIR PORT AGENTS MEMBERS CHANGES}, {@code watchers DIR PORT AGENTS CHANGES} or
   * {@code agents DIR PORT AGENTS CHANGES}.
   */
  public static void main(String[] args) throws Exception {
    if (args.length >= 6 && args[0].equals("server")) {
      server(Path.of(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]), Integer.parseInt(args[4]),
          Integer.parseInt(args[5]));
    } else if (args.length >= 5 && args[0].equals("watchers")) {
      PushWatchers.run(Path.of(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]),
          Integer.parseInt(args[4]));
    } else if (args.length >= 5 && args[0].equals("agents")) {
      agents(Path.of(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]), Integer.parseInt(args[4]));
    } else {
      System.err.println("usage: PushFanoutBench server DIR PORT AGENTS MEMBERS CHANGES"
          + " | watchers DIR PORT AGENTS CHANGES | agents DIR PORT AGENTS CHANGES");
      System.exit(2);
    }
  }

  private static ObjectNode member(int i, int generation) {
    ObjectNode node = JsonNodeFactory.instance.objectNode();
    node.put("server", "198.18." + (i / 250) + "." + (i % 250 + 1) + ":8443");
    node.putArray("addresses").add("198.18." + (i / 250) + "." + (i % 250 + 1)).add("fd00::" + Integer.toHexString(i + 1));
    node.put("role", "both").put("generation", generation);
    return node;
  }

  private static void server(Path dir, int port, int agents, int members, int changes) throws Exception {
    CertificateAuthority ca = CertificateAuthority.builder().commonName("push bench CA").build();
    Files.createDirectories(dir);
    Path caFile = dir.resolve("ca.crt");
    Files.writeString(dir.resolve("ca.crt.tmp"), ca.certificatePem());
    Files.move(dir.resolve("ca.crt.tmp"), caFile, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    try (ConduitResources resources = ConduitResources.builder().ioThreads(2).build();
        PushServer server = PushServer.builder(resources)
            .bind(new InetSocketAddress("127.0.0.1", port))
            .tls(TlsMaterial.of(ca.mintServerLeaf("127.0.0.1"), ca.certificate()))
            .allowBearerTokens(true)
            .authorizer(peer -> peer.bearerToken().filter(t -> t.startsWith("bench-")).map(t -> "agent-" + t.substring(6)))
            .heartbeat(Duration.ofSeconds(30), Duration.ofSeconds(120))
            .build()) {
      server.start();
      Map<String, JsonNode> state = new HashMap<>();
      for (int i = 0; i < members; i++) {
        state.put("node-" + i, member(i, 0));
      }
      server.publish(PushState.of(1, state));
      System.out.printf("server: listening on %d, %d members, waiting for %d agents%n", port, members, agents);
      long waitStart = System.nanoTime();
      awaitAcked(server, agents, 1, waitStart + Duration.ofMinutes(30).toNanos());
      System.out.printf("server: %d agents at version 1 after %.1f s%n", agents, (System.nanoTime() - waitStart) / 1e9);
      // warm-up changes, not measured: the JIT compiles the change path (the connect phase ran another one)
      int version = 1;
      for (int w = 1; w <= WARM_UP; w++) {
        version++;
        state.put("node-" + (members - w), member(members - w, -w));
        server.publish(PushState.of(version, state));
        awaitAcked(server, agents, version, System.nanoTime() + Duration.ofSeconds(120).toNanos());
      }
      long heap = heapAfterGc();
      String loadBefore = Files.readString(Path.of("/proc/loadavg")).trim();
      long cpuStart = PushTally.cpuNanos();
      long wallStart = System.nanoTime();
      for (int c = 1; c <= changes; c++) {
        version++;
        int who = c % members;
        ObjectNode changed = member(who, c);
        long t0 = System.nanoTime();
        changed.put("t0", t0);
        changed.put("change", c);
        state.put("node-" + who, changed);
        server.publish(PushState.of(version, state));
        awaitAcked(server, agents, version, t0 + Duration.ofSeconds(60).toNanos());
      }
      double cpu = (PushTally.cpuNanos() - cpuStart) / 1e9;
      double wall = (System.nanoTime() - wallStart) / 1e9;
      String loadAfter = Files.readString(Path.of("/proc/loadavg")).trim();
      System.out.printf("SERVER heap after GC with %d agents connected=%.1f MiB | server CPU %.2f s for %d changes"
              + " (%.0f ms per change) in %.1f s | load average before the changes %s, after %s%n",
          agents, heap / 1048576.0, cpu, changes, cpu * 1000 / changes, wall, loadBefore, loadAfter);
    }
  }

  /**
   * Waits until every agent acknowledged {@code version}. Agents are looked at in order, each once it acknowledged
   * (every 20 ms, from the first that had not): the wait costs the server's JVM one status per agent and change,
   * not a sorted list of all of them per look.
   */
  private static void awaitAcked(PushServer server, int agents, long version, long deadline)
      throws InterruptedException {
    int next = 0;
    while (true) {
      while (next < agents && server.agent("agent-" + next)
          .filter(s -> s.connected() && s.ackedVersion() >= version).isPresent()) {
        next++;
      }
      if (next == agents) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("version " + version + ": agent-" + next + " did not acknowledge it in time");
      }
      Thread.sleep(20);
    }
  }

  private static long heapAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(200);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  private static void agents(Path dir, int port, int agents, int changes) throws Exception {
    Path caFile = dir.resolve("ca.crt");
    long waitStart = System.nanoTime();
    while (!Files.exists(caFile) || Files.size(caFile) == 0) {
      if (System.nanoTime() - waitStart > Duration.ofMinutes(1).toNanos()) {
        throw new IllegalStateException(caFile + ": not written by the server within a minute");
      }
      Thread.sleep(100);
    }
    URI uri = URI.create("wss://127.0.0.1:" + port + PushServer.DEFAULT_PATH);
    ExecutorService applyPool = Executors.newFixedThreadPool(2);
    List<PushClient> clients = new ArrayList<>();
    PushTally tally = new PushTally(agents, changes);
    try (ConduitResources resources = ConduitResources.builder().ioThreads(2).build()) {
      var anchors = Pem.readCertificates(caFile);
      int batch = 250;
      for (int i = 0; i < agents; i++) {
        int id = i;
        PushClient client = PushClient.builder(resources)
            .addresses(List.of(uri))
            .trustAnchors(anchors)
            .bearerToken("bench-" + id)
            .identity("agent-" + id, "client")
            .applyExecutor(applyPool)
            .backoff(Duration.ofMillis(200), Duration.ofSeconds(5))
            .heartbeat(Duration.ofSeconds(30), Duration.ofSeconds(120))
            .applier(update -> {
              // the delta was decoded and applied (the new state's hash checked against the server's) by now
              long now = System.nanoTime();
              var members = update.state().resources().values();
              long t0 = members.stream().mapToLong(m -> m.path("t0").asLong()).max().orElse(0);
              long change = members.stream().mapToLong(m -> m.path("change").asLong()).max().orElse(0);
              tally.record(id, change, t0, now);
              return update.state().hash();
            })
            .build();
        client.start();
        clients.add(client);
        if ((i + 1) % batch == 0) {
          // pace the TLS handshakes: wait for this batch before opening the next
          long start = System.nanoTime();
          while (clients.subList(i + 1 - batch, i + 1).stream().anyMatch(c -> c.connectedTo().isEmpty())) {
            if (System.nanoTime() - start > Duration.ofMinutes(10).toNanos()) {
              throw new IllegalStateException("batch ending at " + i + " did not connect: "
                  + clients.get(i).lastFailure().orElse("?"));
            }
            Thread.sleep(20);
          }
          System.out.printf("agents: %d connected after %.1f s%n", i + 1, (System.nanoTime() - waitStart) / 1e9);
        }
      }
      System.out.printf("agents: %d started%n", agents);
      long cpuStart = PushTally.cpuNanos();
      tally.awaitAll();
      System.out.println(tally.result("publish->installed", (PushTally.cpuNanos() - cpuStart) / 1e9));
    } finally {
      clients.forEach(PushClient::close);
      applyPool.shutdownNow();
    }
  }
}
