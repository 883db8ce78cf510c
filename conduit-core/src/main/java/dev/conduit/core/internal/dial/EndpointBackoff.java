package dev.conduit.core.internal.dial;

import dev.conduit.core.Destination;
import dev.conduit.core.outbound.EndpointHealth;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Passive health of proxy endpoints: a failed endpoint is skipped for a back-off that doubles with
 * each consecutive failure (1 s up to 30 s), then tried again first in its configured order, so an
 * endpoint that comes back is used again.
 */
public final class EndpointBackoff implements EndpointHealth {
  private static final long BASE_NANOS = 1_000_000_000L;
  private static final long MAX_NANOS = 30_000_000_000L;

  private final ConcurrentHashMap<Destination, State> states = new ConcurrentHashMap<>();

  private record State(int failures, long retryAtNanos) {}

  /** The endpoints in the order to try them: available ones in configured order, then the rest by retry time. */
  public List<Destination> order(List<Destination> endpoints) {
    if (endpoints.size() == 1) {
      return endpoints;
    }
    long now = System.nanoTime();
    List<Destination> available = new ArrayList<>();
    List<Destination> backedOff = new ArrayList<>();
    for (Destination d : endpoints) {
      State s = states.get(d);
      if (s == null || now - s.retryAtNanos >= 0) {
        available.add(d);
      } else {
        backedOff.add(d);
      }
    }
    backedOff.sort(Comparator.comparingLong(d -> states.getOrDefault(d, new State(0, now)).retryAtNanos - now));
    available.addAll(backedOff);
    return available;
  }

  @Override
  public void failed(Destination endpoint) {
    states.compute(endpoint, (d, s) -> {
      int failures = s == null ? 1 : Math.min(s.failures + 1, 16);
      long backoff = Math.min(MAX_NANOS, BASE_NANOS << Math.min(failures - 1, 5));
      return new State(failures, System.nanoTime() + backoff);
    });
  }

  @Override
  public void succeeded(Destination endpoint) {
    states.remove(endpoint);
  }

  @Override
  public boolean isBackedOff(Destination endpoint) {
    State s = states.get(endpoint);
    return s != null && System.nanoTime() - s.retryAtNanos < 0;
  }
}
