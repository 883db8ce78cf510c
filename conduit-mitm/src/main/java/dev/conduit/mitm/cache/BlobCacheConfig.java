package dev.conduit.mitm.cache;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.Executor;

/** Immutable configuration of a {@link BlobCache}; build with {@link #builder()}. */
public final class BlobCacheConfig {

  /** Default size cap: 10 GiB. */
  public static final long DEFAULT_MAX_SIZE_BYTES = 10L << 30;

  private final Path root;
  private final long maxSizeBytes;
  private final CachePolicy policy;
  private final Executor executor;
  private final Clock clock;

  private BlobCacheConfig(Builder b) {
    this.clock = b.clock;
    this.root = b.root;
    this.maxSizeBytes = b.maxSizeBytes;
    this.policy = b.policy;
    this.executor = b.executor;
  }

  /** A new builder; {@link Builder#root(Path)} is required. */
  public static Builder builder() {
    return new Builder();
  }

  /** The directory holding the entries (created if missing). */
  public Path root() {
    return root;
  }

  /** Total size of committed bodies above which least recently used entries are evicted. */
  public long maxSizeBytes() {
    return maxSizeBytes;
  }

  /** Filters, query identity and response cacheability. */
  public CachePolicy policy() {
    return policy;
  }

  /**
   * The executor running all file I/O; empty when the cache creates (and on close shuts down) its
   * own pool.
   */
  public Optional<Executor> executor() {
    return Optional.ofNullable(executor);
  }

  /** The clock of freshness and access times (default: the system clock). */
  public Clock clock() {
    return clock;
  }

  @Override
  public String toString() {
    return "BlobCacheConfig{root=" + root + ", maxSizeBytes=" + maxSizeBytes + ", policy=" + policy
        + ", executor=" + (executor == null ? "own" : executor) + '}';
  }

  /** Builds a {@link BlobCacheConfig}. */
  public static final class Builder {
    private Path root;
    private long maxSizeBytes = DEFAULT_MAX_SIZE_BYTES;
    private CachePolicy policy = CachePolicy.defaults();
    private Executor executor;
    private Clock clock = Clock.systemUTC();

    private Builder() {
    }

    /** Sets the cache directory (required); a relative path is resolved against the working directory. */
    public Builder root(Path root) {
      this.root = requireNonNull(root, "root").toAbsolutePath().normalize();
      return this;
    }

    /** Sets the clock of freshness and access times (default: the system clock), e.g. for tests. */
    public Builder clock(Clock clock) {
      this.clock = requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Sets the size cap (default {@link #DEFAULT_MAX_SIZE_BYTES}); a single body larger than it is
     * never stored.
     */
    public Builder maxSizeBytes(long maxSizeBytes) {
      if (maxSizeBytes <= 0) {
        throw new IllegalArgumentException("maxSizeBytes: " + maxSizeBytes + " (expected: > 0)");
      }
      this.maxSizeBytes = maxSizeBytes;
      return this;
    }

    /** Sets the policy (default {@link CachePolicy#defaults()}). */
    public Builder policy(CachePolicy policy) {
      this.policy = requireNonNull(policy, "policy");
      return this;
    }

    /**
     * Sets the executor for file I/O (default: a small pool owned by the cache). Never pass a Netty
     * event loop: the tasks block on disk.
     */
    public Builder executor(Executor executor) {
      this.executor = requireNonNull(executor, "executor");
      return this;
    }

    /**
     * Builds the configuration.
     *
     * @throws IllegalStateException if no root was set
     */
    public BlobCacheConfig build() {
      if (root == null) {
        throw new IllegalStateException("root: not set (expected: a cache directory)");
      }
      return new BlobCacheConfig(this);
    }
  }
}
