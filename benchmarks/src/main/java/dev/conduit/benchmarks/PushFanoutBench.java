package dev.conduit.benchmarks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.push.PushAgentStatus;
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
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Fan-out of the push channel: one {@link PushServer} and many lightweight {@link PushClient} agents (bearer tokens,
 * no state file) in a second JVM on loopback. Run by {@code benchmarks/push-bench.sh}.
 *
 * <p>{@code server} mode writes a CA to the given directory, serves, publishes a membership of {@code members}
 * resources, waits for every agent to acknowledge it, then makes {@code changes} changes (one member upserted
 * each), one at a time. Each agent reports the {@link System#nanoTime()} at which its applier installed a
 * version (both JVMs read the same monotonic clock on Linux); the server prints, over all agents and changes, the
 * p50/p99/max of publish-to-installed, the p50/p99 per change of the time until the last agent had it, and its
 * own heap after GC with every agent connected. {@code agents} mode runs the agents.
 */
public final class PushFanoutBench {

  private PushFanoutBench() {}

  /** {@code server DIR PORT AGENTS MEMBERS CHANGES} or {@code agents DIR PORT AGENTS}. */
  public static void main(String[] args) throws Exception {
    if (args.length >= 5 && args[0].equals("server")) {
      server(Path.of(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]), Integer.parseInt(args[4]),
          Integer.parseInt(args[5]));
    } else if (args.length >= 4 && args[0].equals("agents")) {
      agents(Path.of(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]));
    } else {
      System.err.println("usage: PushFanoutBench server DIR PORT AGENTS MEMBERS CHANGES | agents DIR PORT AGENTS");
      System.exit(2);
    }
  }

  private static JsonNode member(int i, int generation) {
    ObjectNode node = JsonNodeFactory.instance.objectNode();
    node.put("server", "198.18." + (i / 250) + "." + (i % 250 + 1) + ":8443");
    node.putArray("addresses").add("198.18." + (i / 250) + "." + (i % 250 + 1)).add("fd00::" + Integer.toHexString(i + 1));
    node.put("role", "both").put("generation", generation);
    return node;
  }

  private static void server(Path dir, int port, int agents, int members, int changes) throws Exception {
    CertificateAuthority ca = CertificateAuthority.builder().commonName("push bench CA").build();
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("ca.crt"), ca.certificatePem());
    Map<Integer, AtomicLongArray> applied = new ConcurrentHashMap<>();
    try (ConduitResources resources = ConduitResources.builder().ioThreads(2).build();
        PushServer server = PushServer.builder(resources)
            .bind(new InetSocketAddress("127.0.0.1", port))
            .tls(TlsMaterial.of(ca.mintServerLeaf("127.0.0.1"), ca.certificate()))
            .allowBearerTokens(true)
            .authorizer(peer -> peer.bearerToken().filter(t -> t.startsWith("bench-")).map(t -> "agent-" + t.substring(6)))
            .heartbeat(Duration.ofSeconds(30), Duration.ofSeconds(120))
            .reportListener((agentId, payload) -> {
              AtomicLongArray times = applied.get(payload.get("version").asInt());
              if (times != null) {
                times.set(Integer.parseInt(agentId.substring(6)), payload.get("nanos").asLong());
              }
            })
            .build()) {
      server.start();
      Map<String, JsonNode> state = new HashMap<>();
      for (int i = 0; i < members; i++) {
        state.put("node-" + i, member(i, 0));
      }
      server.publish(PushState.of(1, state));
      System.out.printf("server: listening on %d, %d members, waiting for %d agents%n", port, members, agents);
      long waitStart = System.nanoTime();
      while (true) {
        List<PushAgentStatus> all = server.agents();
        long acked = all.stream().filter(s -> s.connected() && s.ackedVersion() >= 1).count();
        if (acked >= agents) {
          break;
        }
        if (System.nanoTime() - waitStart > Duration.ofMinutes(30).toNanos()) {
          throw new IllegalStateException("only " + acked + " agents acknowledged version 1 after 30 minutes");
        }
        Thread.sleep(500);
      }
      System.out.printf("server: %d agents at version 1 after %.1f s%n", agents, (System.nanoTime() - waitStart) / 1e9);
      long heap = heapAfterGc();
      List<Long> latencies = new ArrayList<>();
      List<Long> lastPerChange = new ArrayList<>();
      for (int c = 1; c <= changes; c++) {
        int version = c + 1;
        AtomicLongArray times = new AtomicLongArray(agents);
        applied.put(version, times);
        int who = c % members;
        state.put("node-" + who, member(who, c));
        long t0 = System.nanoTime();
        server.publish(PushState.of(version, state));
        long deadline = t0 + Duration.ofSeconds(60).toNanos();
        while (!all(times)) {
          if (System.nanoTime() > deadline) {
            throw new IllegalStateException("change " + c + ": not every agent installed it within 60 s");
          }
          Thread.sleep(2);
        }
        long last = 0;
        for (int i = 0; i < agents; i++) {
          long latency = times.get(i) - t0;
          latencies.add(latency);
          last = Math.max(last, latency);
        }
        lastPerChange.add(last);
        applied.remove(version);
        Thread.sleep(200); // let acks settle between changes
      }
      long[] all = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
      long[] lasts = lastPerChange.stream().mapToLong(Long::longValue).sorted().toArray();
      System.out.printf("RESULT agents=%d members=%d changes=%d publish->installed p50=%.1fms p99=%.1fms max=%.1fms"
              + " | all-agents-installed per change p50=%.1fms p99=%.1fms | server heap after GC=%.1f MiB%n",
          agents, members, changes, ms(pct(all, 50)), ms(pct(all, 99)), ms(all[all.length - 1]),
          ms(pct(lasts, 50)), ms(pct(lasts, 99)), heap / 1048576.0);
    }
  }

  private static boolean all(AtomicLongArray times) {
    for (int i = 0; i < times.length(); i++) {
      if (times.get(i) == 0) {
        return false;
      }
    }
    return true;
  }

  private static long pct(long[] sorted, int p) {
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1)];
  }

  private static double ms(long nanos) {
    return nanos / 1e6;
  }

  private static long heapAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(200);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  private static void agents(Path dir, int port, int agents) throws Exception {
    Path caFile = dir.resolve("ca.crt");
    long waitStart = System.nanoTime();
    while (!Files.exists(caFile)) {
      if (System.nanoTime() - waitStart > Duration.ofMinutes(1).toNanos()) {
        throw new IllegalStateException(caFile + ": not written by the server within a minute");
      }
      Thread.sleep(100);
    }
    URI uri = URI.create("wss://127.0.0.1:" + port + PushServer.DEFAULT_PATH);
    ExecutorService applyPool = Executors.newFixedThreadPool(2);
    List<PushClient> clients = new ArrayList<>();
    try (ConduitResources resources = ConduitResources.builder().ioThreads(2).build()) {
      var anchors = Pem.readCertificates(caFile);
      int batch = 250;
      for (int i = 0; i < agents; i++) {
        int id = i;
        PushClient[] self = new PushClient[1];
        PushClient client = PushClient.builder(resources)
            .addresses(List.of(uri))
            .trustAnchors(anchors)
            .bearerToken("bench-" + id)
            .identity("agent-" + id, "client")
            .applyExecutor(applyPool)
            .backoff(Duration.ofMillis(200), Duration.ofSeconds(5))
            .heartbeat(Duration.ofSeconds(30), Duration.ofSeconds(120))
            .applier(update -> {
              long now = System.nanoTime();
              String hash = update.state().hash();
              self[0].report(JsonNodeFactory.instance.objectNode().put("version", update.state().version())
                  .put("nanos", now));
              return hash;
            })
            .build();
        self[0] = client;
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
      // run until the server is done and closes: then every agent is disconnected for good
      while (true) {
        Thread.sleep(1000);
        Optional<PushClient> any = clients.stream().filter(c -> c.connectedTo().isPresent()).findAny();
        if (any.isEmpty()) {
          break;
        }
      }
    } finally {
      clients.forEach(PushClient::close);
      applyPool.shutdownNow();
    }
    System.out.println("agents: the server is gone; done");
  }
}
