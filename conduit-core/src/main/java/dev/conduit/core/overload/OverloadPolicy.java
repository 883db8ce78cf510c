package dev.conduit.core.overload;

import static java.util.Objects.requireNonNull;

import io.netty.util.internal.PlatformDependent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The limits of conduit's overload manager: a budget for the memory conduit buffers (Netty's and the JDK's
 * direct memory, plus the heap of Netty's allocators) and a budget for file descriptors, with the fractions
 * of the memory budget at which conduit escalates.
 *
 * <pre>{@code
 * OverloadPolicy policy = OverloadPolicy.builder()
 *     .memoryBudget(192L << 20)     // shed above 192 MiB; refuse above 85 %, throttle above 70 % of it
 *     .fileBudget(4000)             // refuse new requests with 4,000 descriptors open
 *     .build();
 * }</pre>
 *
 * <p>The memory budget bounds the bytes conduit's connections buffer (written, not yet taken by the socket:
 * what slow peers make grow); per-connection water marks stay, and their sum is held under the budget. The
 * direct memory in use (Netty's and the JDK's, plus the heap of Netty's allocators) also counts: at nine tenths
 * of the JVM's limit conduit acts as at the first threshold. Without explicit values the budgets derive from the
 * process: a quarter of the direct memory limit ({@code -XX:MaxDirectMemorySize}, by default {@code -Xmx}; the
 * rest leaves room for read buffers, TLS and pool fragmentation) and the open-files limit ({@code ulimit -n})
 * less a tenth (at least 64), so conduit answers "busy" before the JVM or the kernel refuses it.
 */
public final class OverloadPolicy {
  private static final OverloadPolicy DEFAULTS = builder().build();
  private static final OverloadPolicy DISABLED = builder().enabled(false).build();

  private final boolean enabled;
  private final long memoryBudget;
  private final long fileBudget;
  private final double pressureFraction;
  private final double refuseFraction;
  private final Duration checkInterval;

  private OverloadPolicy(Builder b) {
    this.enabled = b.enabled;
    this.memoryBudget = b.memoryBudget > 0 ? b.memoryBudget : defaultMemoryBudget();
    this.fileBudget = b.fileBudget > 0 ? b.fileBudget : defaultFileBudget();
    this.pressureFraction = b.pressureFraction;
    this.refuseFraction = b.refuseFraction;
    this.checkInterval = b.checkInterval;
  }

  /** Budgets derived from the process's limits, thresholds at 70 % and 85 % of the memory budget. */
  public static OverloadPolicy defaults() {
    return DEFAULTS;
  }

  /** No overload manager: nothing is measured, throttled or refused. */
  public static OverloadPolicy disabled() {
    return DISABLED;
  }

  /** A builder starting from the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** Whether conduit measures and acts at all. */
  public boolean enabled() {
    return enabled;
  }

  /** The budget in bytes for what conduit's connections buffer: at it, those holding the most are closed. */
  public long memoryBudget() {
    return memoryBudget;
  }

  /** The file-descriptor budget: at it, new requests are refused as busy; 0 when the limit is unknown. */
  public long fileBudget() {
    return fileBudget;
  }

  /** The fraction of the memory budget above which the biggest holders stop reading ({@link OverloadLevel#PRESSURE}). */
  public double pressureFraction() {
    return pressureFraction;
  }

  /** The fraction of the memory budget above which new requests are refused ({@link OverloadLevel#REFUSING}). */
  public double refuseFraction() {
    return refuseFraction;
  }

  /** How often memory and descriptors are measured. */
  public Duration checkInterval() {
    return checkInterval;
  }

  /** A quarter of the direct memory limit ({@code -XX:MaxDirectMemorySize}, else {@code -Xmx}). */
  public static long defaultMemoryBudget() {
    long limit = PlatformDependent.maxDirectMemory();
    if (limit <= 0) {
      limit = Runtime.getRuntime().maxMemory();
    }
    return Math.max(1 << 20, limit / 4);
  }

  /** The open-files limit less a tenth (at least 64); 0 when it cannot be read (not Linux). */
  public static long defaultFileBudget() {
    long limit = openFilesLimit();
    return limit <= 0 ? 0 : Math.max(1, limit - Math.max(64, limit / 10));
  }

  /** The soft limit on open files ({@code ulimit -n}) from {@code /proc/self/limits}; 0 when unknown. */
  static long openFilesLimit() {
    try {
      List<String> lines = Files.readAllLines(Path.of("/proc/self/limits"));
      for (String line : lines) {
        if (line.startsWith("Max open files")) {
          String[] f = line.substring("Max open files".length()).trim().split("\\s+");
          return f[0].equals("unlimited") ? 0 : Long.parseLong(f[0]);
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux: no descriptor budget
    }
    return 0;
  }

  @Override
  public String toString() {
    return enabled ? "OverloadPolicy[memoryBudget=" + memoryBudget + ", fileBudget=" + fileBudget + ", pressure="
        + pressureFraction + ", refuse=" + refuseFraction + ", checkInterval=" + checkInterval + "]"
        : "OverloadPolicy[disabled]";
  }

  /** Builds an {@link OverloadPolicy}. */
  public static final class Builder {
    private boolean enabled = true;
    private long memoryBudget;
    private long fileBudget;
    private double pressureFraction = 0.70;
    private double refuseFraction = 0.85;
    private Duration checkInterval = Duration.ofMillis(100);

    private Builder() {}

    /** Whether the overload manager runs; default true. */
    public Builder enabled(boolean value) {
      this.enabled = value;
      return this;
    }

    /** The memory budget in bytes; 0 (the default) derives it from the direct memory limit. */
    public Builder memoryBudget(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("memoryBudget: " + bytes + " (expected: >= 0)");
      }
      this.memoryBudget = bytes;
      return this;
    }

    /** The file-descriptor budget; 0 (the default) derives it from {@code ulimit -n}. */
    public Builder fileBudget(long descriptors) {
      if (descriptors < 0) {
        throw new IllegalArgumentException("fileBudget: " + descriptors + " (expected: >= 0)");
      }
      this.fileBudget = descriptors;
      return this;
    }

    /** The fractions of the memory budget for throttling and refusing; defaults 0.70 and 0.85. */
    public Builder thresholds(double pressure, double refuse) {
      if (!(pressure > 0 && pressure < refuse && refuse < 1)) {
        throw new IllegalArgumentException("thresholds: " + pressure + ", " + refuse
            + " (expected: 0 < pressure < refuse < 1)");
      }
      this.pressureFraction = pressure;
      this.refuseFraction = refuse;
      return this;
    }

    /** How often memory and descriptors are measured; default 100 ms. */
    public Builder checkInterval(Duration value) {
      requireNonNull(value, "checkInterval");
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException("checkInterval: " + value + " (expected: > 0)");
      }
      this.checkInterval = value;
      return this;
    }

    /** Builds the immutable policy. */
    public OverloadPolicy build() {
      return new OverloadPolicy(this);
    }
  }
}
