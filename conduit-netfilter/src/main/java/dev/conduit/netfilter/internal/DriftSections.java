package dev.conduit.netfilter.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Splits a backend's listing of a prefix ({@code NetfilterBackend.show}) into its tables and chains, so a
 * drift can be named where it happened: iptables/ip6tables rules by table and chain ({@code -A PREROUTING}
 * jumps count for {@code PREROUTING}), ipsets by name, nft chains and sets by name within their table, and the
 * policy routing ({@code ip rule}, the local route table) by family. Pure.
 */
public final class DriftSections {
  /** A table and a chain (or set, or routing part) of a listing. */
  public record Section(String table, String chain) {}

  private DriftSections() {}

  /** The listing's lines by section, in listing order. */
  public static Map<Section, List<String>> of(String listing) {
    Map<Section, List<String>> out = new LinkedHashMap<>();
    String family = "";
    String table = "";
    Section current = null;
    int depth = 0;
    for (String raw : listing.split("\n")) {
      String line = raw.strip();
      if (line.isEmpty()) {
        continue;
      }
      if (line.startsWith("# ")) { // a header of the listing: which tool's output follows
        String header = line.substring(2);
        current = null;
        depth = 0;
        if (header.equals("iptables-save") || header.equals("ip6tables-save")) {
          family = header.startsWith("ip6") ? "ip6" : "ip";
        } else if (header.startsWith("ipset ")) {
          current = new Section("ipset", header.substring(6).strip());
        } else if (header.startsWith("ip ")) { // "ip -4 rule (table 100)", "ip -4 route show table 100"
          String[] w = header.split(" ");
          current = new Section(w[0] + " " + w[1] + " " + w[2], header.contains("route") ? "table " + w[w.length - 1]
              : "fwmark");
        }
        if (current != null) { // listed, even when empty
          out.computeIfAbsent(current, s -> new ArrayList<>());
        }
        continue;
      }
      if (line.startsWith("*")) {
        table = family + "/" + line.substring(1);
        current = null;
      } else if (line.startsWith(":")) {
        current = new Section(table, line.substring(1).split(" ")[0]);
      } else if (line.startsWith("-A ")) {
        current = new Section(table, line.substring(3).split(" ")[0]);
      } else if (line.startsWith("table ") && line.endsWith("{")) { // nft
        table = line.substring(6, line.length() - 1).strip();
        current = null;
        depth = 1;
        continue;
      } else if (depth == 1 && (line.startsWith("chain ") || line.startsWith("set ")) && line.endsWith("{")) {
        String[] w = line.split(" ");
        current = new Section(table, (w[0].equals("set") ? "set " : "") + w[1]);
        depth = 2;
      } else if (line.equals("}") && depth > 0) {
        depth--;
        if (depth < 2) {
          current = null;
        }
        continue;
      }
      if (current != null) {
        out.computeIfAbsent(current, s -> new ArrayList<>()).add(line);
      }
    }
    return out;
  }

  /**
   * What differs between the installed listing and the current one, by section: {@code missing} (the section
   * is gone) or {@code altered} (its lines differ, or it is new). The policy routing counts only as altered: a
   * backend lists it only while the rules that name it are there.
   */
  public static Map<Section, String> changes(String installed, String now) {
    Map<Section, List<String>> before = of(installed);
    Map<Section, List<String>> after = of(now);
    Set<Section> all = new LinkedHashSet<>(before.keySet());
    all.addAll(after.keySet());
    Map<Section, String> out = new LinkedHashMap<>();
    for (Section s : all) {
      if (!after.containsKey(s) && s.table().startsWith("ip -")) {
        continue; // the routing is listed only while the rules that name it are: its absence says nothing
      }
      if (!after.containsKey(s)) {
        out.put(s, "missing");
      } else if (!Objects.equals(before.get(s), after.get(s))) {
        out.put(s, "altered");
      }
    }
    return out;
  }
}
