package dev.conduit.netfilter.egress.internal;

import dev.conduit.core.net.IpAddress;
import dev.conduit.core.net.IpPrefix;
import dev.conduit.netfilter.egress.AddressCounters;
import dev.conduit.netfilter.egress.DeniedDestination;
import dev.conduit.netfilter.egress.EgressGatewayConfig;
import dev.conduit.netfilter.egress.EgressMode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Renders the egress gateway's nftables table and parses its listings. One {@code inet} table holds
 * everything: per family, the protected networks, the allowlist twice (looked up by destination on the
 * way out and by source on the way back, so each element's counter counts one direction) and a
 * dynamic set of denied destinations. The allowlist is two sets per direction: prefixes allowed on every
 * port ({@code allow4_out}) and (prefix, port) pairs ({@code allow4p_out}, keyed
 * {@code ipv4_addr . inet_service}, matched against TCP and UDP destination ports), see
 * {@link AllowlistElements}.
 */
public final class EgressNft {

  /** The table comment that marks a table as conduit's. */
  public static final String OWNER = "conduit egress gateway";

  private static final Pattern ELEMENT = Pattern.compile(
      "([0-9a-fA-F:.]+(?:/\\d{1,3})?)(?: \\. (\\d{1,5}))?[^,{}]*?counter packets (\\d+) bytes (\\d+)");

  /** The bytes of a logged first payload packet handed to the flow log (a ClientHello's SNI is early). */
  public static final int PAYLOAD_SNAPLEN = 2048;

  // the first four bytes of HTTP/1 requests: "GET ", "POST", "HEAD", "PUT ", "DELE", "OPTI", "PATC", "CONN"
  private static final String HTTP_METHODS = "0x47455420, 0x504f5354, 0x48454144, 0x50555420, 0x44454c45,"
      + " 0x4f505449, 0x50415443, 0x434f4e4e";

  private EgressNft() {}

  /** The set names of one family. */
  private record Family(String ip, String type, String suffix) {
    boolean v4() {
      return suffix.equals("4");
    }
  }

  private static final Family V4 = new Family("ip", "ipv4_addr", "4");
  private static final Family V6 = new Family("ip6", "ipv6_addr", "6");

  /**
   * Returns the {@code nft -f} payload that replaces the table atomically, with prefixes allowed on every
   * port and no port elements.
   *
   * @param config the gateway config
   * @param anyPort the prefixes, none inside another
   * @return the payload
   */
  public static String replace(EgressGatewayConfig config, Collection<IpPrefix> anyPort) {
    return replace(config, new AllowlistElements(new TreeSet<>(anyPort), Set.of()));
  }

  /**
   * Returns the {@code nft -f} payload that replaces the table atomically (creating it first, so the
   * delete never fails), with the allowlist as its elements.
   *
   * @param config the gateway config
   * @param elements the allowlist's elements
   * @return the payload
   */
  public static String replace(EgressGatewayConfig config, AllowlistElements elements) {
    String t = config.table();
    StringBuilder s = new StringBuilder();
    s.append("table inet ").append(t).append(" {}\n");
    s.append("delete table inet ").append(t).append('\n');
    s.append("table inet ").append(t).append(" {\n");
    s.append("  comment \"").append(OWNER).append("\"\n");
    for (Family f : List.of(V4, V6)) {
      List<IpPrefix> clients = config.protectedNetworks().stream()
          .filter(p -> p.isIpv4() == (f == V4)).toList();
      s.append("  set clients").append(f.suffix).append(" { type ").append(f.type)
          .append("; flags interval;").append(elements(clients)).append(" }\n");
      AllowlistElements allowed = elements.family(f.v4());
      for (String direction : List.of("out", "in")) {
        s.append("  set allow").append(f.suffix).append('_').append(direction).append(" { type ")
            .append(f.type).append("; flags interval; counter;")
            .append(elements(List.copyOf(allowed.anyPort()))).append(" }\n");
      }
      for (String direction : List.of("out", "in")) {
        s.append("  set allow").append(f.suffix).append("p_").append(direction).append(" { type ")
            .append(f.type).append(" . inet_service; flags interval; counter;")
            .append(allowed.ports().isEmpty() ? "" : " elements = {" + list(allowed.ports()) + " };")
            .append(" }\n");
      }
      s.append("  set denied").append(f.suffix).append(" { type ").append(f.type)
          .append("; flags dynamic,timeout; timeout 1h; size 65536; counter; }\n");
    }
    s.append("  chain forward {\n");
    forwardRules(config, s);
    s.append("  }\n");
    s.append("  chain postrouting {\n");
    s.append("    type nat hook postrouting priority srcnat; policy accept;\n");
    if (config.masquerade()) {
      String out = config.outInterface().map(i -> "oifname \"" + i + "\" ").orElse("");
      for (Family f : List.of(V4, V6)) {
        s.append("    ").append(f.ip).append(" saddr @clients").append(f.suffix).append(' ')
            .append(f.ip).append(" daddr != @clients").append(f.suffix).append(' ').append(out)
            .append("masquerade\n");
      }
    }
    s.append("  }\n");
    s.append(L7DivertNft.countChains(config));
    s.append("}\n");
    return s.toString();
  }

  private static void forwardRules(EgressGatewayConfig config, StringBuilder s) {
    s.append("    type filter hook forward priority filter; policy accept;\n");
    for (Family f : List.of(V4, V6)) {
      // one allowlist lookup per packet; the matching element's counter counts it
      s.append("    ").append(f.ip).append(" saddr @clients").append(f.suffix).append(' ').append(f.ip)
          .append(" daddr @allow").append(f.suffix).append("_out accept\n");
      s.append("    ").append(f.ip).append(" daddr @clients").append(f.suffix).append(' ').append(f.ip)
          .append(" saddr @allow").append(f.suffix).append("_in accept\n");
      // entries with ports: the address and the TCP/UDP port, one lookup in a concatenated set
      s.append("    ").append(f.ip).append(" saddr @clients").append(f.suffix).append(" meta l4proto { tcp, udp } ")
          .append(f.ip).append(" daddr . th dport @allow").append(f.suffix).append("p_out accept\n");
      s.append("    ").append(f.ip).append(" daddr @clients").append(f.suffix).append(" meta l4proto { tcp, udp } ")
          .append(f.ip).append(" saddr . th sport @allow").append(f.suffix).append("p_in accept\n");
      s.append("    ").append(f.ip).append(" saddr @clients").append(f.suffix).append(' ').append(f.ip)
          .append(" daddr @clients").append(f.suffix).append(" accept\n");
    }
    boolean report = config.mode() == EgressMode.REPORT_ONLY;
    if (report && config.flowLogGroup().isPresent()) {
      // the first TLS record or HTTP request of a flow outside the allowlist names its server (SNI, Host)
      int group = config.flowLogGroup().getAsInt();
      for (Family f : List.of(V4, V6)) {
        s.append("    ").append(f.ip).append(" saddr @clients").append(f.suffix)
            .append(" meta l4proto tcp @ih,0,16 0x1603 limit rate 100/second burst 200 packets log group ")
            .append(group).append(" snaplen ").append(PAYLOAD_SNAPLEN).append('\n');
        s.append("    ").append(f.ip).append(" saddr @clients").append(f.suffix)
            .append(" meta l4proto tcp @ih,0,32 { ").append(HTTP_METHODS)
            .append(" } limit rate 100/second burst 200 packets log group ").append(group).append(" snaplen ")
            .append(PAYLOAD_SNAPLEN).append('\n');
      }
    }
    // flows that were allowed when they started go on after their address leaves the list
    s.append("    ct state established,related accept\n");
    String verdict = report ? "accept" : "drop";
    for (Family f : List.of(V4, V6)) {
      if (config.flowLogGroup().isPresent()) {
        // the first packet of a denied flow: its destination port (the set only keys the address)
        s.append("    ").append(f.ip).append(" saddr @clients").append(f.suffix)
            .append(" limit rate 200/second burst 400 packets log group ")
            .append(config.flowLogGroup().getAsInt()).append(" snaplen 128\n");
      }
      s.append("    ").append(f.ip).append(" saddr @clients").append(f.suffix).append(" update @denied")
          .append(f.suffix).append(" { ").append(f.ip).append(" daddr } ").append(verdict).append('\n');
    }
  }

  /**
   * Returns the payload that switches the mode: the forward chain is rewritten, the sets (and their
   * counters) stay.
   *
   * @param config the config with the new mode
   * @return the payload
   */
  public static String rewriteForward(EgressGatewayConfig config) {
    StringBuilder s = new StringBuilder();
    s.append("flush chain inet ").append(config.table()).append(" forward\n");
    s.append("table inet ").append(config.table()).append(" {\n  chain forward {\n");
    forwardRules(config, s);
    s.append("  }\n}\n");
    return s.toString();
  }

  /**
   * Returns the payload that turns one allowlist into another by deleting and adding elements, in one
   * transaction: elements that stay keep their counters. Empty when nothing changes.
   *
   * @param table the table
   * @param before the installed elements
   * @param after the wanted elements
   * @return the payload
   */
  public static String diff(String table, AllowlistElements before, AllowlistElements after) {
    StringBuilder s = new StringBuilder();
    // deletions first: an added prefix may cover removed ones, and interval sets refuse overlaps
    for (boolean delete : List.of(true, false)) {
      String verb = delete ? "delete element inet " : "add element inet ";
      AllowlistElements from = delete ? after : before;
      AllowlistElements to = delete ? before : after;
      for (Family f : List.of(V4, V6)) {
        List<IpPrefix> any = to.anyPort().stream().filter(p -> p.isIpv4() == f.v4() && !from.anyPort().contains(p))
            .toList();
        List<AllowlistElements.PortElement> ports = to.ports().stream()
            .filter(e -> e.prefix().isIpv4() == f.v4() && !from.ports().contains(e)).toList();
        for (String direction : List.of("out", "in")) {
          if (!any.isEmpty()) {
            s.append(verb).append(table).append(" allow").append(f.suffix).append('_').append(direction)
                .append(" {").append(list(any)).append(" }\n");
          }
          if (!ports.isEmpty()) {
            s.append(verb).append(table).append(" allow").append(f.suffix).append("p_").append(direction)
                .append(" {").append(list(ports)).append(" }\n");
          }
        }
      }
    }
    return s.toString();
  }

  private static String elements(List<IpPrefix> prefixes) {
    return prefixes.isEmpty() ? "" : " elements = {" + list(prefixes) + " };";
  }

  private static String list(Collection<?> elements) {
    StringBuilder s = new StringBuilder();
    for (Object e : elements) {
      s.append(s.length() == 0 ? " " : ", ").append(e instanceof IpPrefix p ? element(p) : e.toString());
    }
    return s.toString();
  }

  /**
   * Returns a prefix as nft writes it: the bare address for a single address.
   *
   * @param p the prefix
   * @return the element text
   */
  public static String element(IpPrefix p) {
    return p.length() == p.address().bits() ? p.address().toString() : p.toString();
  }

  /**
   * Parses the elements of an {@code nft list set} listing with their counters; the elements of a
   * (prefix, port) set are summed per prefix.
   *
   * @param listing the listing
   * @return packets and bytes per prefix
   */
  public static Map<IpPrefix, long[]> counters(String listing) {
    Map<IpPrefix, long[]> out = new TreeMap<>();
    int start = listing.indexOf("elements = {");
    if (start < 0) {
      return out;
    }
    Matcher m = ELEMENT.matcher(listing.substring(start + "elements = {".length()));
    while (m.find()) {
      long[] c = out.computeIfAbsent(IpPrefix.parse(m.group(1)), k -> new long[2]);
      c[0] += Long.parseLong(m.group(3));
      c[1] += Long.parseLong(m.group(4));
    }
    return out;
  }

  /**
   * Parses the elements of a (prefix, port) set listing with their counters, one per element.
   *
   * @param listing the listing
   * @return packets and bytes per element
   */
  public static Map<AllowlistElements.PortElement, long[]> portCounters(String listing) {
    Map<AllowlistElements.PortElement, long[]> out = new TreeMap<>();
    int start = listing.indexOf("elements = {");
    if (start < 0) {
      return out;
    }
    Matcher m = ELEMENT.matcher(listing.substring(start + "elements = {".length()));
    while (m.find()) {
      if (m.group(2) != null) {
        out.put(new AllowlistElements.PortElement(IpPrefix.parse(m.group(1)), Integer.parseInt(m.group(2))),
            new long[] {Long.parseLong(m.group(3)), Long.parseLong(m.group(4))});
      }
    }
    return out;
  }

  /**
   * Joins the two directions' listings of one family into counters per entry, summing the any-port
   * and the per-port elements of each prefix.
   *
   * @param out the listings of the {@code _out} sets
   * @param in the listings of the {@code _in} sets
   * @return the counters, in address order
   */
  public static List<AddressCounters> join(List<String> out, List<String> in) {
    Map<IpPrefix, long[]> o = sum(out);
    Map<IpPrefix, long[]> i = sum(in);
    List<AddressCounters> result = new ArrayList<>();
    for (Map.Entry<IpPrefix, long[]> e : o.entrySet()) {
      long[] back = i.getOrDefault(e.getKey(), new long[2]);
      result.add(new AddressCounters(e.getKey(), e.getValue()[0], e.getValue()[1], back[0], back[1]));
    }
    return result;
  }

  private static Map<IpPrefix, long[]> sum(List<String> listings) {
    Map<IpPrefix, long[]> out = new TreeMap<>();
    for (String listing : listings) {
      counters(listing).forEach((p, c) -> {
        long[] total = out.computeIfAbsent(p, k -> new long[2]);
        total[0] += c[0];
        total[1] += c[1];
      });
    }
    return out;
  }

  /**
   * Parses the denied-destination set.
   *
   * @param listing the listing
   * @return the destinations
   */
  public static List<DeniedDestination> denied(String listing) {
    List<DeniedDestination> out = new ArrayList<>();
    counters(listing).forEach((p, c) -> out.add(new DeniedDestination(p.address(), c[0], c[1])));
    return out;
  }

  /**
   * Returns the set names of a family for listings: {@code allow4_out}, {@code allow4_in}, {@code denied4},
   * {@code allow4p_out}, {@code allow4p_in}.
   *
   * @param ipv4 the family
   * @return the names
   */
  public static List<String> sets(boolean ipv4) {
    String f = ipv4 ? "4" : "6";
    return List.of("allow" + f + "_out", "allow" + f + "_in", "denied" + f, "allow" + f + "p_out",
        "allow" + f + "p_in");
  }

  /**
   * Returns whether an address text is an element of a listing (for tests and diagnostics).
   *
   * @param listing the listing
   * @param address the address
   * @return whether it is listed
   */
  public static boolean lists(String listing, IpAddress address) {
    return counters(listing).keySet().stream().anyMatch(p -> p.contains(address));
  }
}
