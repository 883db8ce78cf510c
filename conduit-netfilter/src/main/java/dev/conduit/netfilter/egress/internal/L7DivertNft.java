package dev.conduit.netfilter.egress.internal;

import dev.conduit.core.net.IpPrefix;
import dev.conduit.netfilter.egress.EgressGatewayConfig;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Renders the egress gateway's L7 divert rules: a table of their own ({@code inet <table>_l7}, marked as
 * conduit's by its comment) whose {@code nat} prerouting chain redirects new TCP flows from the protected
 * networks to the checked ports (80 and 443 by default) to the gateway's L7 check listener. Flows to the
 * gateway's own addresses and between protected networks are left alone. The redirected flows reach the
 * listener through the input path, so the forward chain's allowlist never sees them: the L7 check decides them.
 */
public final class L7DivertNft {

  /** The comment that marks the divert table as conduit's (it holds {@link EgressNft#OWNER}). */
  public static final String OWNER = EgressNft.OWNER + " l7 divert";

  private L7DivertNft() {}

  /**
   * The mark the L7 check's own connections to the original destinations carry ({@code SO_MARK}), so the
   * gateway's table counts their packets in the allowlist elements' counters, as it counts forwarded ones.
   */
  public static final int UPSTREAM_MARK = 0x4c37;

  /**
   * Returns the chains of the gateway's own table that count the L7 check's relayed traffic in the allowlist
   * sets' element counters (the flows it relays never reach the forward chain): packets the gateway sends on
   * its marked connections by destination, and their replies by source. Empty without the L7 check.
   *
   * @param config the gateway config
   * @return the chain definitions, to put inside the gateway's table
   */
  public static String countChains(EgressGatewayConfig config) {
    if (config.l7CheckPort().isEmpty()) {
      return "";
    }
    String mark = "0x" + Integer.toHexString(UPSTREAM_MARK);
    StringBuilder s = new StringBuilder();
    s.append("  chain l7_out {\n");
    s.append("    type filter hook output priority filter; policy accept;\n");
    s.append("    meta mark ").append(mark).append(" ct mark set ").append(mark).append('\n');
    s.append("    meta mark ").append(mark).append(" ip daddr @allow4_out\n");
    s.append("    meta mark ").append(mark).append(" ip6 daddr @allow6_out\n");
    // entries with ports: their concatenated sets, as the forward chain looks them up
    s.append("    meta mark ").append(mark).append(" meta l4proto tcp ip daddr . th dport @allow4p_out\n");
    s.append("    meta mark ").append(mark).append(" meta l4proto tcp ip6 daddr . th dport @allow6p_out\n");
    s.append("  }\n");
    s.append("  chain l7_in {\n");
    s.append("    type filter hook input priority filter; policy accept;\n");
    s.append("    ct mark ").append(mark).append(" ip saddr @allow4_in\n");
    s.append("    ct mark ").append(mark).append(" ip6 saddr @allow6_in\n");
    s.append("    ct mark ").append(mark).append(" meta l4proto tcp ip saddr . th sport @allow4p_in\n");
    s.append("    ct mark ").append(mark).append(" meta l4proto tcp ip6 saddr . th sport @allow6p_in\n");
    s.append("  }\n");
    return s.toString();
  }

  /**
   * Returns the divert table's name for a gateway table.
   *
   * @param table the gateway's table
   * @return {@code <table>_l7}
   */
  public static String table(String table) {
    return table + "_l7";
  }

  /**
   * Returns the {@code nft -f} payload that replaces the divert table atomically, or removes it (creating it
   * first, so the delete never fails) when the config has no L7 check.
   *
   * @param config the gateway config
   * @return the payload
   */
  public static String replace(EgressGatewayConfig config) {
    String t = table(config.table());
    StringBuilder s = new StringBuilder();
    s.append("table inet ").append(t).append(" {}\n");
    s.append("delete table inet ").append(t).append('\n');
    if (config.l7CheckPort().isEmpty()) {
      return s.toString();
    }
    int port = config.l7CheckPort().getAsInt();
    String ports = config.l7Ports().stream().map(String::valueOf).collect(Collectors.joining(", "));
    s.append("table inet ").append(t).append(" {\n");
    s.append("  comment \"").append(OWNER).append("\"\n");
    for (boolean v4 : List.of(true, false)) {
      List<IpPrefix> clients = config.protectedNetworks().stream().filter(p -> p.isIpv4() == v4).toList();
      s.append("  set clients").append(v4 ? '4' : '6').append(" { type ").append(v4 ? "ipv4_addr" : "ipv6_addr")
          .append("; flags interval;");
      if (!clients.isEmpty()) {
        s.append(" elements = { ").append(clients.stream().map(EgressNft::element)
            .collect(Collectors.joining(", "))).append(" };");
      }
      s.append(" }\n");
    }
    s.append("  chain prerouting {\n");
    s.append("    type nat hook prerouting priority dstnat; policy accept;\n");
    for (boolean v4 : List.of(true, false)) {
      String ip = v4 ? "ip" : "ip6";
      String set = "@clients" + (v4 ? '4' : '6');
      s.append("    ").append(ip).append(" saddr ").append(set).append(' ').append(ip).append(" daddr != ")
          .append(set).append(" fib daddr type != local tcp dport { ").append(ports).append(" } redirect to :")
          .append(port).append('\n');
    }
    s.append("  }\n");
    s.append("}\n");
    return s.toString();
  }
}
