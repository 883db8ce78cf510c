package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Renders an egress gateway's per-address counters in the Prometheus text format (version 0.0.4),
 * freshly read from the kernel at every scrape.
 *
 * <p>Metrics, each labelled with {@code hostname}:
 * <ul>
 * <li>{@code conduit_egress_bytes_total} and {@code conduit_egress_packets_total} (counters), labels
 *     {@code address} and {@code direction} = {@code out} (to the address) or {@code in} (from it);
 * <li>{@code iptables_bytes_count} and {@code iptables_packets_count} (untyped: cumulative counts under
 *     names without {@code _total}), labels {@code ip} and {@code type} = {@code OUTPUT} (to the
 *     address) or {@code INPUT} (from it): the same counts under the names older dashboards query;
 * <li>{@code conduit_egress_denied_packets_total}: first packets of flows to destinations outside the
 *     allowlist (dropped in enforce mode, let through in report-only mode);
 * <li>{@code conduit_egress_allowlist_entries}: the entries installed;
 * <li>{@code conduit_egress_report_only}: 1 in report-only mode;
 * <li>{@code conduit_egress_l7_denied_flows_total}: flows the L7 check refused (or, in report-only mode,
 *     would have), when the gateway has one ({@link #l7Denied}).
 * </ul>
 *
 * <p>At most {@code maxAddresses} addresses get a label of their own: the first ones seen keep it for
 * as long as they are allowlisted, so a series never jumps between labels; the counts of the others
 * are summed under {@code other}.
 */
public final class EgressMetrics {

  /** The label value that sums the addresses beyond the cap. */
  public static final String OTHER = "other";

  private final String hostname;
  private final int maxAddresses;
  private final Set<String> labelled = new HashSet<>();
  private volatile java.util.function.LongSupplier l7Denied;

  /**
   * Creates a renderer.
   *
   * @param hostname the {@code hostname} label
   * @param maxAddresses the most addresses with a label of their own, 1 or more
   */
  public EgressMetrics(String hostname, int maxAddresses) {
    this.hostname = requireNonNull(hostname, "hostname");
    if (maxAddresses < 1) {
      throw new IllegalArgumentException("maxAddresses: " + maxAddresses + " (expected: 1 or more)");
    }
    this.maxAddresses = maxAddresses;
  }

  /**
   * Adds {@code conduit_egress_l7_denied_flows_total}, read from the gateway's L7 check at every scrape (e.g.
   * {@code () -> service.check().deniedTotal()}).
   *
   * @param refusedFlows the flows the L7 check refused since it started
   * @return this renderer
   */
  public EgressMetrics l7Denied(java.util.function.LongSupplier refusedFlows) {
    this.l7Denied = requireNonNull(refusedFlows, "refusedFlows");
    return this;
  }

  /**
   * Reads the gateway's counters now and renders them.
   *
   * @param gateway the gateway
   * @return the exposition text
   * @throws dev.conduit.netfilter.NetfilterException when nft fails
   */
  public String scrape(EgressGateway gateway) throws dev.conduit.netfilter.NetfilterException {
    requireNonNull(gateway, "gateway");
    List<AddressCounters> counters = gateway.counters();
    long denied = gateway.denied().stream().mapToLong(DeniedDestination::packets).sum();
    return render(counters, denied, gateway.config().mode() == EgressMode.REPORT_ONLY);
  }

  /**
   * Renders counters.
   *
   * @param counters the per-address counters
   * @param deniedPackets the first packets of denied flows
   * @param reportOnly whether the gateway is in report-only mode
   * @return the exposition text
   */
  public synchronized String render(List<AddressCounters> counters, long deniedPackets,
      boolean reportOnly) {
    requireNonNull(counters, "counters");
    Map<String, long[]> byLabel = group(counters);
    StringBuilder s = new StringBuilder();
    String host = "hostname=\"" + escape(hostname) + "\"";
    family(s, "conduit_egress_bytes_total", "counter",
        "Bytes forwarded between the protected networks and an allowlisted address, IP headers included.");
    series(s, "conduit_egress_bytes_total", byLabel, "address", "direction", "out", "in", 1, host);
    family(s, "conduit_egress_packets_total", "counter",
        "Packets forwarded between the protected networks and an allowlisted address.");
    series(s, "conduit_egress_packets_total", byLabel, "address", "direction", "out", "in", 0, host);
    family(s, "iptables_bytes_count", "untyped",
        "Bytes per allowlisted ip: OUTPUT to it, INPUT from it (cumulative).");
    series(s, "iptables_bytes_count", byLabel, "ip", "type", "OUTPUT", "INPUT", 1, host);
    family(s, "iptables_packets_count", "untyped",
        "Packets per allowlisted ip: OUTPUT to it, INPUT from it (cumulative).");
    series(s, "iptables_packets_count", byLabel, "ip", "type", "OUTPUT", "INPUT", 0, host);
    family(s, "conduit_egress_denied_packets_total", "counter",
        "First packets of flows to destinations outside the allowlist in the last hour.");
    s.append("conduit_egress_denied_packets_total{").append(host).append("} ").append(deniedPackets)
        .append('\n');
    family(s, "conduit_egress_allowlist_entries", "gauge", "Allowlist entries installed.");
    s.append("conduit_egress_allowlist_entries{").append(host).append("} ").append(counters.size())
        .append('\n');
    family(s, "conduit_egress_report_only", "gauge", "1 when nothing is dropped (report-only mode).");
    s.append("conduit_egress_report_only{").append(host).append("} ").append(reportOnly ? 1 : 0)
        .append('\n');
    java.util.function.LongSupplier l7 = l7Denied;
    if (l7 != null) {
      family(s, "conduit_egress_l7_denied_flows_total", "counter",
          "Flows the L7 check refused: their server name or destination was not allowed.");
      s.append("conduit_egress_l7_denied_flows_total{").append(host).append("} ").append(l7.getAsLong())
          .append('\n');
    }
    return s.toString();
  }

  private Map<String, long[]> group(List<AddressCounters> counters) {
    Set<String> present = new HashSet<>();
    counters.forEach(c -> present.add(c.label()));
    labelled.retainAll(present);
    List<AddressCounters> fresh = new ArrayList<>();
    for (AddressCounters c : counters) {
      if (!labelled.contains(c.label())) {
        fresh.add(c);
      }
    }
    fresh.sort(Comparator.comparingLong((AddressCounters c) -> c.outBytes() + c.inBytes()).reversed());
    for (AddressCounters c : fresh) {
      if (labelled.size() >= maxAddresses) {
        break;
      }
      labelled.add(c.label());
    }
    Map<String, long[]> out = new LinkedHashMap<>();
    long[] other = null;
    for (AddressCounters c : counters) {
      long[] v = {c.outPackets(), c.outBytes(), c.inPackets(), c.inBytes()};
      if (labelled.contains(c.label())) {
        out.put(c.label(), v);
      } else {
        other = other == null ? new long[4] : other;
        for (int i = 0; i < 4; i++) {
          other[i] += v[i];
        }
      }
    }
    if (other != null) {
      out.put(OTHER, other);
    }
    return out;
  }

  private static void family(StringBuilder s, String name, String type, String help) {
    s.append("# HELP ").append(name).append(' ').append(help).append('\n');
    s.append("# TYPE ").append(name).append(' ').append(type).append('\n');
  }

  private static void series(StringBuilder s, String name, Map<String, long[]> byLabel, String key,
      String dirKey, String out, String in, int bytes, String host) {
    for (Map.Entry<String, long[]> e : byLabel.entrySet()) {
      long[] v = e.getValue();
      for (int dir = 0; dir < 2; dir++) {
        s.append(name).append('{').append(key).append("=\"").append(escape(e.getKey())).append("\",")
            .append(dirKey).append("=\"").append(dir == 0 ? out : in).append("\",").append(host)
            .append("} ").append(v[dir * 2 + bytes]).append('\n');
      }
    }
  }

  private static String escape(String value) {
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }
}
