package dev.conduit.benchmarks;

import dev.conduit.core.control.enrol.NodeEnrolment;
import dev.conduit.core.control.store.NodeRole;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.mesh.MeshManager;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Enrolment rate of the mesh manager: one {@link MeshManager} (auto-approve, no rate limit) and {@code nodes}
 * {@link NodeEnrolment}s, {@code concurrency} at a time, in one JVM on loopback. One enrolment is the whole path:
 * the node makes its key and CSR, the manager checks and signs it over HTTPS and records the node and its
 * certificate in the store, the node verifies the chain and writes its files (each synced to disk, which
 * dominates one node's latency; concurrent nodes overlap it). Nodes and manager share the JVM's cores, so the
 * rate is a lower bound for a manager on its own host. Run by {@code benchmarks/enrol-bench.sh}.
 *
 * <p>Prints the enrolments (CSRs signed) per second after a warm-up of {@code concurrency * 4} nodes, the
 * p50/p99/max of one enrolment, and the manager JVM's heap after GC.
 */
public final class EnrolBench {

  private EnrolBench() {}

  /** {@code DIR NODES CONCURRENCY [STORE]}: STORE is {@code sqlite} (default) or a JDBC URL. */
  public static void main(String[] args) throws Exception {
    if (args.length < 3) {
      System.err.println("usage: EnrolBench DIR NODES CONCURRENCY [sqlite|JDBC-URL]  (DB_USER, DB_PASSWORD)");
      System.exit(2);
    }
    Path dir = Path.of(args[0]);
    int nodes = Integer.parseInt(args[1]);
    int concurrency = Integer.parseInt(args[2]);
    String storeArg = args.length > 3 ? args[3] : "sqlite";
    StoreConfig store = store(storeArg, dir);
    Files.createDirectories(dir);
    try (MeshManager manager = MeshManager.builder(store, dir.resolve("manager"))
        .bind(new InetSocketAddress("127.0.0.1", 0)).trustDomain("bench.mesh").autoApprove(true)
        .enrolmentRateLimit(1_000_000, 1_000_000).maxPending(nodes + 1000).build().start()) {
      String address = "127.0.0.1:" + manager.address().getPort();
      ExecutorService pool = Executors.newFixedThreadPool(concurrency);
      try {
        run(pool, manager, address, dir, "warm", concurrency * 4);
        long start = System.nanoTime();
        long[] micros = run(pool, manager, address, dir, "node", nodes);
        double seconds = (System.nanoTime() - start) / 1e9;
        Arrays.sort(micros);
        System.gc();
        long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        System.out.printf("RESULT store=%s nodes=%d concurrency=%d elapsed=%.2fs rate=%.1f enrolments/s "
                + "latency p50=%.1fms p99=%.1fms max=%.1fms heapAfterGc=%dMiB cores=%d%n",
            store.driver().name().toLowerCase(java.util.Locale.ROOT), nodes, concurrency, seconds, nodes / seconds,
            micros[micros.length / 2] / 1e3, micros[(int) Math.min(micros.length - 1, Math.ceil(micros.length * 0.99) - 1)] / 1e3,
            micros[micros.length - 1] / 1e3, heap >> 20, Runtime.getRuntime().availableProcessors());
      } finally {
        pool.shutdownNow();
        pool.awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }

  private static StoreConfig store(String arg, Path dir) {
    String user = System.getenv().getOrDefault("DB_USER", "");
    String password = System.getenv().getOrDefault("DB_PASSWORD", "");
    StoreConfig.Builder builder;
    if (arg.equals("sqlite")) {
      return StoreConfig.sqlite(dir.resolve("manager/manager.db")).build();
    } else if (arg.startsWith("jdbc:postgresql:")) {
      builder = StoreConfig.postgres(arg);
    } else {
      builder = StoreConfig.mysql(arg);
    }
    if (!user.isEmpty()) {
      builder.user(user);
    }
    if (!password.isEmpty()) {
      builder.password(password);
    }
    return builder.build();
  }

  /** Enrols {@code count} nodes named PREFIX-i; returns each one's duration in microseconds. */
  private static long[] run(ExecutorService pool, MeshManager manager, String address, Path dir, String prefix,
      int count) throws Exception {
    List<Future<Long>> results = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      int n = i;
      results.add(pool.submit(() -> {
        String ip = "198.18." + (n / 250) % 256 + "." + (n % 250 + 1);
        long t0 = System.nanoTime();
        try (NodeEnrolment node = NodeEnrolment.builder(List.of(address), dir.resolve(prefix + "/" + n))
            .name(prefix + "-" + n).role(NodeRole.BOTH).addresses(List.of(ip)).serverAddress(ip + ":5053")
            .caPin(manager.caPin()).build()) {
          node.start();
        }
        return (System.nanoTime() - t0) / 1000;
      }));
    }
    long[] micros = new long[count];
    for (int i = 0; i < count; i++) {
      micros[i] = results.get(i).get(10, TimeUnit.MINUTES);
    }
    return micros;
  }
}
