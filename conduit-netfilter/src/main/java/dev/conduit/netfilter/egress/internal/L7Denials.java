package dev.conduit.netfilter.egress.internal;

import dev.conduit.core.net.IpAddress;
import dev.conduit.netfilter.egress.DeniedFlow;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The flows the L7 check refused, per destination, port and name, for the gateway's reports: at most
 * {@code max} keys (the least recently seen is forgotten first), each forgotten an hour after its last flow.
 * Thread-safe.
 */
public final class L7Denials {

  private static final Duration FORGET_AFTER = Duration.ofHours(1);

  private record Key(IpAddress destination, int port, Optional<String> sni, Optional<String> host) {}

  private final int max;
  private final Clock clock;
  private final LinkedHashMap<Key, long[]> seen = new LinkedHashMap<>(16, 0.75f, true); // count, last (ms)
  private long total;

  /**
   * Creates the record.
   *
   * @param max the most keys kept, 1 or more
   * @param clock the clock
   */
  public L7Denials(int max, Clock clock) {
    if (max < 1) {
      throw new IllegalArgumentException("max: " + max + " (expected: 1 or more)");
    }
    this.max = max;
    this.clock = clock;
  }

  /**
   * Records one refused flow.
   *
   * @param destination its original destination
   * @param port its port
   * @param sni the TLS server name it carried
   * @param host the HTTP Host it carried
   */
  public synchronized void record(IpAddress destination, int port, Optional<String> sni, Optional<String> host) {
    long[] c = seen.computeIfAbsent(new Key(destination, port, sni, host), k -> new long[2]);
    c[0]++;
    c[1] = clock.millis();
    total++;
    while (seen.size() > max) {
      seen.remove(seen.keySet().iterator().next());
    }
  }

  /** Returns how many flows were refused since the start. */
  public synchronized long total() {
    return total;
  }

  /** Returns the refused flows of the last hour, most recent first. */
  public synchronized List<DeniedFlow> snapshot() {
    long oldest = clock.millis() - FORGET_AFTER.toMillis();
    seen.values().removeIf(c -> c[1] < oldest);
    List<DeniedFlow> out = new ArrayList<>();
    for (Map.Entry<Key, long[]> e : seen.entrySet()) {
      Key k = e.getKey();
      out.add(new DeniedFlow(k.destination(), k.port(), k.sni(), k.host(), e.getValue()[0],
          Instant.ofEpochMilli(e.getValue()[1])));
    }
    out.sort(Comparator.comparing(DeniedFlow::lastSeen).reversed());
    return out;
  }
}
