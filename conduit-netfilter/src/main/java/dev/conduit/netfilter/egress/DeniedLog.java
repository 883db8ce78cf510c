package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.net.IpAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns successive readings of {@link EgressGateway#denied()} into log lines: one line per destination
 * with new attempts since the last reading, at most {@code maxLines} per reading (the rest summed in a
 * last line), so a scan of the internet cannot flood the log.
 */
public final class DeniedLog {

  private final int maxLines;
  private final Map<IpAddress, Long> seen = new HashMap<>();
  private final Map<String, Long> seenByName = new HashMap<>();

  /**
   * Creates the log.
   *
   * @param maxLines the most lines one reading produces, 1 or more
   */
  public DeniedLog(int maxLines) {
    if (maxLines < 1) {
      throw new IllegalArgumentException("maxLines: " + maxLines + " (expected: 1 or more)");
    }
    this.maxLines = maxLines;
  }

  /**
   * Returns the lines for a new reading.
   *
   * @param denied the reading
   * @param mode the gateway's mode (the lines say "dropped" or "would drop")
   * @return the lines, possibly none
   */
  public synchronized List<String> lines(List<DeniedDestination> denied, EgressMode mode) {
    requireNonNull(denied, "denied");
    requireNonNull(mode, "mode");
    String verb = mode == EgressMode.ENFORCE ? "dropped" : "report-only: would drop";
    List<String> lines = new ArrayList<>();
    int more = 0;
    long morePackets = 0;
    Map<IpAddress, Long> now = new HashMap<>();
    for (DeniedDestination d : denied) {
      now.put(d.destination(), d.packets());
      long before = seen.getOrDefault(d.destination(), 0L);
      long fresh = d.packets() >= before ? d.packets() - before : d.packets(); // expired and back
      if (fresh == 0) {
        continue;
      }
      if (lines.size() < maxLines) {
        lines.add("egress " + verb + " " + fresh + " new flow(s) to " + d.destination()
            + " (not allowlisted; " + d.packets() + " in the last hour)");
      } else {
        more++;
        morePackets += fresh;
      }
    }
    if (more > 0) {
      lines.add("egress " + verb + " " + morePackets + " new flow(s) to " + more
          + " more destination(s) not allowlisted (log limited to " + maxLines + " lines)");
    }
    seen.clear();
    seen.putAll(now);
    return lines;
  }

  /**
   * Returns the lines for a new reading of the L7 check's refusals ({@link EgressL7Check#denied()}): one per
   * destination, port and name with new flows since the last reading, at most {@code maxLines}.
   *
   * @param refused the reading
   * @param mode the gateway's mode (the lines say "refused" or "would refuse")
   * @return the lines, possibly none
   */
  public synchronized List<String> l7Lines(List<DeniedFlow> refused, EgressMode mode) {
    requireNonNull(refused, "refused");
    requireNonNull(mode, "mode");
    String verb = mode == EgressMode.ENFORCE ? "refused" : "report-only: would refuse";
    List<String> lines = new ArrayList<>();
    long more = 0;
    Map<String, Long> now = new HashMap<>();
    for (DeniedFlow d : refused) {
      String name = d.sni().map(n -> "SNI " + n).or(() -> d.host().map(n -> "Host " + n)).orElse("no server name");
      String key = d.destination() + " " + d.port() + " " + name;
      now.put(key, d.count());
      long before = seenByName.getOrDefault(key, 0L);
      long fresh = d.count() >= before ? d.count() - before : d.count();
      if (fresh == 0) {
        continue;
      }
      if (lines.size() < maxLines) {
        String destination = d.destination().toString();
        lines.add("egress L7 check " + verb + " " + fresh + " new flow(s) to "
            + (destination.contains(":") ? "[" + destination + "]" : destination) + ":" + d.port() + " (" + name
            + ")");
      } else {
        more += fresh;
      }
    }
    if (more > 0) {
      lines.add("egress L7 check " + verb + " " + more + " more new flow(s) (log limited to " + maxLines + " lines)");
    }
    seenByName.clear();
    seenByName.putAll(now);
    return lines;
  }
}
