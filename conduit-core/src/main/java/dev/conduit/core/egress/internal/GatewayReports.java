package dev.conduit.core.egress.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.net.IpAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The latest report of each gateway (over the push channel): per-address counters, the destinations with an
 * established flow through it, and the flows report-only mode would have dropped. Bounded: a report holds at most
 * {@value #MAX_ITEMS} items of each kind, the rest is ignored. Thread-safe.
 */
public final class GatewayReports {

  private static final Logger log = LoggerFactory.getLogger("dev.conduit.core.egress");
  static final int MAX_ITEMS = 100_000;
  private static final int MAX_DENIED = 1_000;
  private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

  /** One gateway's latest report. */
  public record Report(String gateway, String mode, Instant at, Map<IpAddress, long[]> counters,
      Set<IpAddress> activeFlows, List<JsonNode> denied) {}

  private final Clock clock;
  private final Duration staleAfter;
  private final Map<String, Report> latest = new ConcurrentHashMap<>();

  /**
   * Creates the reports.
   *
   * @param staleAfter how long a gateway's active flows count after its last report
   */
  public GatewayReports(Clock clock, Duration staleAfter) {
    this.clock = clock;
    this.staleAfter = staleAfter;
  }

  /** Takes a report; a malformed one is logged and ignored (the gateway keeps its previous one). */
  public void ingest(String gateway, JsonNode payload) {
    if (!payload.isObject() || !"egress-gateway".equals(payload.path("type").asText())) {
      log.warn("egress: gateway {} sent a report that is not an egress-gateway report; ignored", gateway);
      return;
    }
    Map<IpAddress, long[]> counters = new LinkedHashMap<>();
    Set<IpAddress> flows = new HashSet<>();
    List<JsonNode> denied = new java.util.ArrayList<>();
    int bad = 0;
    for (JsonNode c : limit(payload.path("counters"), MAX_ITEMS)) {
      try {
        counters.put(IpAddress.parse(c.path("address").asText()), new long[] {c.path("bytesIn").asLong(),
            c.path("bytesOut").asLong(), c.path("packetsIn").asLong(), c.path("packetsOut").asLong()});
      } catch (IllegalArgumentException e) {
        bad++;
      }
    }
    for (JsonNode f : limit(payload.path("activeFlows"), MAX_ITEMS)) {
      try {
        flows.add(IpAddress.parse(f.asText()));
      } catch (IllegalArgumentException e) {
        bad++;
      }
    }
    for (JsonNode d : limit(payload.path("denied"), MAX_DENIED)) {
      if (d.isObject() && d.path("destination").isTextual()) {
        denied.add(d);
      } else {
        bad++;
      }
    }
    if (bad > 0) {
      log.warn("egress: gateway {} reported {} malformed item(s); they are ignored", gateway, bad);
    }
    String mode = payload.path("mode").asText("enforce");
    latest.put(gateway, new Report(gateway, mode.equals("report") ? "report" : "enforce", clock.instant(),
        counters, flows, denied));
  }

  /** Returns the destinations with an established flow through a gateway that reported recently. */
  public Set<IpAddress> activeFlows() {
    Instant horizon = clock.instant().minus(staleAfter);
    Set<IpAddress> out = new HashSet<>();
    latest.values().stream().filter(r -> r.at().isAfter(horizon)).forEach(r -> out.addAll(r.activeFlows()));
    return out;
  }

  /** Returns every gateway's latest report. */
  public List<Report> reports() {
    return List.copyOf(latest.values());
  }

  /** Returns bytes and packets both ways to {@code address}, summed over the gateways. */
  public long[] totals(IpAddress address) {
    long[] sum = new long[4];
    for (Report r : latest.values()) {
      long[] c = r.counters().get(address);
      if (c != null) {
        for (int i = 0; i < 4; i++) {
          sum[i] += c[i];
        }
      }
    }
    return sum;
  }

  /** Returns the denied flows of every gateway, each with the gateway's name. */
  public ArrayNode learned() {
    ArrayNode out = JSON.arrayNode();
    for (Report r : latest.values()) {
      for (JsonNode d : r.denied()) {
        ObjectNode o = JSON.objectNode();
        o.put("destination", d.path("destination").asText());
        o.put("port", d.path("port").asInt());
        o.set("sni", d.path("sni").isTextual() ? d.get("sni") : JSON.nullNode());
        o.set("host", d.path("host").isTextual() ? d.get("host") : JSON.nullNode());
        o.put("count", d.path("count").asLong());
        o.put("lastSeen", d.path("lastSeen").asText(r.at().toString()));
        o.put("gateway", r.gateway());
        out.add(o);
      }
    }
    return out;
  }

  /**
   * Returns the ports of the denied flows (every gateway's latest report) whose destination, SNI or Host is
   * {@code value} (case-insensitive, a trailing dot ignored), sorted; empty when none reported a port.
   */
  public java.util.SortedSet<Integer> learnedPorts(String value) {
    String wanted = normalize(value);
    java.util.SortedSet<Integer> ports = new java.util.TreeSet<>();
    for (Report r : latest.values()) {
      for (JsonNode d : r.denied()) {
        int port = d.path("port").asInt(0);
        if (port >= 1 && port <= 65_535 && (wanted.equals(normalize(d.path("destination").asText()))
            || wanted.equals(normalize(d.path("sni").asText())) || wanted.equals(normalize(d.path("host").asText())))) {
          ports.add(port);
        }
      }
    }
    return ports;
  }

  private static String normalize(String name) {
    String n = name.trim().toLowerCase(java.util.Locale.ROOT);
    return n.endsWith(".") ? n.substring(0, n.length() - 1) : n;
  }

  private static Iterable<JsonNode> limit(JsonNode array, int max) {
    if (!array.isArray()) {
      return List.of();
    }
    List<JsonNode> out = new java.util.ArrayList<>();
    for (int i = 0; i < Math.min(max, array.size()); i++) {
      out.add(array.get(i));
    }
    return out;
  }
}
