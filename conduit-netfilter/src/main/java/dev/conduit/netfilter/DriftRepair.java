package dev.conduit.netfilter;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a {@link TransparentCapture}'s rules installed while conduit runs: every interval it lists
 * what the backend holds under the plan's prefix and, when that is no longer what conduit installed
 * (a {@code firewalld} reload, {@code iptables -F}, another tool's {@code nft flush ruleset}), applies
 * the plan again, logs the repair and counts it. Connections that were already captured resume once
 * the rules are back (TPROXY's socket match finds their transparent sockets again).
 *
 * <p>Each repair is counted by where it happened ({@link #repairsByChain()}): per table and chain (an
 * iptables table such as {@code ip/mangle} and its chain, an nft table and its chain or set, {@code ipset} and
 * the set's name, {@code ip -4 rule} / {@code ip -4 route} for the policy routing) and whether that part was
 * {@code missing} or {@code altered}.
 *
 * <p>Started by {@link TransparentCapture#startDriftRepair}; runs on a daemon thread of its own (the
 * checks run iptables/nft); stopped by {@link #close()} or when the capture is closed.
 */
public final class DriftRepair implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DriftRepair.class);

  private final TransparentCapture capture;
  private final Duration interval;
  private final Consumer<String> onRepair;
  private final AtomicLong checks = new AtomicLong();
  private final AtomicLong repairs = new AtomicLong();
  private final AtomicLong failures = new AtomicLong();
  private final Map<Repair, AtomicLong> byChain = new ConcurrentHashMap<>();
  private final CountDownLatch stop = new CountDownLatch(1);
  private final Thread thread;

  private DriftRepair(TransparentCapture capture, Duration interval, Consumer<String> onRepair) {
    this.capture = capture;
    this.interval = interval;
    this.onRepair = onRepair;
    this.thread = new Thread(this::run, "conduit-capture-drift-" + capture.plan().prefix());
    thread.setDaemon(true);
  }

  static DriftRepair start(TransparentCapture capture, Duration interval, Consumer<String> onRepair) {
    requireNonNull(interval, "interval");
    requireNonNull(onRepair, "onRepair");
    if (interval.isNegative() || interval.isZero()) {
      throw new IllegalArgumentException("interval: " + interval + " (expected: positive)");
    }
    DriftRepair repair = new DriftRepair(capture, interval, onRepair);
    repair.thread.start();
    return repair;
  }

  /** Returns how many times the rules were checked. */
  public long checks() {
    return checks.get();
  }

  /** Returns how many times the rules had vanished or changed and were applied again. */
  public long repairs() {
    return repairs.get();
  }

  /** Returns how many checks or repairs failed (a tool refused; retried at the next interval). */
  public long failures() {
    return failures.get();
  }

  /**
   * Where repaired drift was found: a table, a chain (or set, or routing part) in it, and {@code missing} or
   * {@code altered}.
   *
   * @param table the table, e.g. {@code ip/mangle}, {@code ip6/nat}, {@code inet conduit_cds}, {@code ipset}
   * @param chain the chain, e.g. {@code PREROUTING}, {@code CDS_TPROXY}, {@code set cds_v4}, {@code table 100}
   * @param change {@code missing} or {@code altered}
   */
  public record Repair(String table, String chain, String change) {}

  /** Returns how many repairs found each table and chain missing or altered (one repair may count several). */
  public Map<Repair, Long> repairsByChain() {
    Map<Repair, Long> out = new TreeMap<>(java.util.Comparator.comparing(Repair::toString));
    byChain.forEach((k, v) -> out.put(k, v.get()));
    return out;
  }

  /** Returns the check interval. */
  public Duration interval() {
    return interval;
  }

  /** Stops checking; the rules stay as they are. Idempotent; waits for a running check to end. */
  @Override
  public void close() {
    stop.countDown();
    if (Thread.currentThread() != thread) {
      try {
        thread.join(TimeUnit.SECONDS.toMillis(60));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void run() {
    try {
      while (!stop.await(interval.toNanos(), TimeUnit.NANOSECONDS)) {
        try {
          checks.incrementAndGet();
          capture.repairIfChanged().ifPresent(drift -> {
            long n = repairs.incrementAndGet();
            drift.sections().forEach((section, change) -> byChain.computeIfAbsent(
                new Repair(section.table(), section.chain(), change), r -> new AtomicLong()).incrementAndGet());
            log.warn("capture {}: rules {} under conduit ({}); applied again (repair {})",
                capture.plan().prefix(), drift.what(), drift.sections(), n);
            onRepair.accept(drift.what());
          });
          if (capture.isClosed()) {
            return;
          }
        } catch (NetfilterException | RuntimeException e) {
          failures.incrementAndGet();
          log.warn("capture {}: cannot check or repair the rules (retrying in {}): {}",
              capture.plan().prefix(), interval, e.getMessage());
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
