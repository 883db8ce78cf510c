package dev.conduit.netfilter.internal;

import dev.conduit.netfilter.IpFamily;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/** What of one prefix is installed in one family, parsed from {@code iptables-save}. */
final class IptablesState {

  static final IptablesState EMPTY = new IptablesState(Map.of(), Map.of(), Map.of(), Optional.empty());

  private final Map<String, List<String>> chains;
  private final Map<String, List<String>> jumps;
  private final Map<String, List<String>> lines;
  private final Optional<Route> route;

  private IptablesState(Map<String, List<String>> chains, Map<String, List<String>> jumps,
      Map<String, List<String>> lines, Optional<Route> route) {
    this.chains = chains;
    this.jumps = jumps;
    this.lines = lines;
    this.route = route;
  }

  /** Parses {@code iptables-save} output, keeping only the prefix's chains and tagged jump rules. */
  static IptablesState parse(String prefix, String save) {
    Pattern tag = Pattern.compile(
        "--comment (\"" + Pattern.quote(Names.tag(prefix)) + "\"|" + Pattern.quote(Names.tag(prefix))
            + ")(\\s|$)");
    Map<String, List<String>> chains = new HashMap<>();
    Map<String, List<String>> jumps = new HashMap<>();
    Map<String, List<String>> lines = new HashMap<>();
    Optional<Route> route = Optional.empty();
    String table = null;
    for (String raw : save.split("\n")) {
      String line = raw.strip();
      if (line.startsWith("*")) {
        table = line.substring(1);
      } else if (table == null) {
        continue;
      } else if (line.startsWith(":")) {
        String chain = line.substring(1).split(" ")[0];
        if (Names.isOwnChain(prefix, chain)) {
          chains.computeIfAbsent(table, t -> new ArrayList<>()).add(chain);
          lines.computeIfAbsent(table, t -> new ArrayList<>()).add(line);
        }
      } else if (line.startsWith("-A ")) {
        String chain = line.split(" ")[1];
        if (Names.isOwnChain(prefix, chain)) {
          lines.computeIfAbsent(table, t -> new ArrayList<>()).add(line);
          if (chain.equals(Names.divert(prefix)) && route.isEmpty()) {
            route = Route.parse(line);
          }
        } else if (tag.matcher(line).find()) {
          jumps.computeIfAbsent(table, t -> new ArrayList<>()).add(line.substring(3));
          lines.computeIfAbsent(table, t -> new ArrayList<>()).add(line);
        }
      }
    }
    return new IptablesState(chains, jumps, lines, route);
  }

  List<String> chains(String table) {
    return chains.getOrDefault(table, List.of());
  }

  List<String> jumps(String table) {
    return jumps.getOrDefault(table, List.of());
  }

  Optional<Route> route() {
    return route;
  }

  boolean isEmpty() {
    return chains.isEmpty() && jumps.isEmpty();
  }

  /** The installed lines, grouped by table, in {@code iptables-save} syntax. */
  String describe(IpFamily family) {
    StringBuilder out = new StringBuilder();
    for (String table : IptablesRenderer.TABLES) {
      List<String> l = lines.get(table);
      if (l != null) {
        out.append('*').append(table).append('\n');
        l.forEach(x -> out.append(x).append('\n'));
      }
    }
    return out.toString();
  }
}
