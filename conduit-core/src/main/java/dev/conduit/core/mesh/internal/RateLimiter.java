package dev.conduit.core.mesh.internal;

import java.net.InetAddress;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Token buckets for unauthenticated requests: one per source address and one for all, so a flood from one host
 * is cut off early and a flood from many hosts cannot take the whole signing capacity. Bounded memory: the
 * least recently used source buckets are dropped beyond {@link #MAX_SOURCES}.
 */
public final class RateLimiter {

  /** The most source addresses tracked at once. */
  public static final int MAX_SOURCES = 10_000;

  private final double perSourceRate;
  private final double perSourceBurst;
  private final Bucket global;
  private final Map<InetAddress, Bucket> sources = new LinkedHashMap<>(256, 0.75f, true) {
    private static final long serialVersionUID = 1L;

    @Override
    protected boolean removeEldestEntry(Map.Entry<InetAddress, Bucket> eldest) {
      return size() > MAX_SOURCES;
    }
  };

  /** Allows each source {@code perSourceRate} requests a second (bursts of {@code perSourceBurst}); all, ten times. */
  public RateLimiter(double perSourceRate, int perSourceBurst) {
    this.perSourceRate = perSourceRate;
    this.perSourceBurst = perSourceBurst;
    this.global = new Bucket(perSourceRate * 10, perSourceBurst * 10.0);
  }

  /** Takes a token for {@code source}; false when it or everyone is over the limit. */
  public synchronized boolean tryAcquire(InetAddress source) {
    long now = System.nanoTime();
    Bucket bucket = sources.computeIfAbsent(source, s -> new Bucket(perSourceRate, perSourceBurst));
    if (!bucket.available(now) || !global.available(now)) {
      return false;
    }
    bucket.take();
    global.take();
    return true;
  }

  private static final class Bucket {
    private final double rate;
    private final double burst;
    private double tokens;
    private long last;

    Bucket(double rate, double burst) {
      this.rate = rate;
      this.burst = burst;
      this.tokens = burst;
      this.last = System.nanoTime();
    }

    boolean available(long now) {
      tokens = Math.min(burst, tokens + (now - last) / 1e9 * rate);
      last = now;
      return tokens >= 1;
    }

    void take() {
      tokens -= 1;
    }
  }
}
