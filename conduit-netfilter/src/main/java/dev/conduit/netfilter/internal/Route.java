package dev.conduit.netfilter.internal;

import dev.conduit.netfilter.CapturePlan;
import dev.conduit.netfilter.Command;
import dev.conduit.netfilter.IpFamily;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * TPROXY policy routing: {@code ip rule fwmark M/K lookup T priority P} and {@code local default dev
 * lo table T}. Routes carry no tag, so its parameters are recorded in a marker comment next to the
 * rules ({@link #marker()}) and read back by {@link #parse} to remove them after a crash.
 *
 * @param mark the fwmark
 * @param mask the fwmark mask
 * @param table the routing table
 * @param priority the rule priority
 */
record Route(int mark, int mask, int table, int priority) {

  private static final Pattern MARKER =
      Pattern.compile("route fwmark=0x([0-9a-f]+)/0x([0-9a-f]+) table=(\\d+) priority=(\\d+)");

  static Optional<Route> of(CapturePlan plan) {
    return plan.mode() == dev.conduit.netfilter.CaptureMode.TPROXY
        ? Optional.of(new Route(plan.tproxyMark(), plan.tproxyMask(), plan.routingTable(),
            plan.routingRulePriority()))
        : Optional.empty();
  }

  static Optional<Route> parse(String text) {
    Matcher m = MARKER.matcher(text);
    if (!m.find()) {
      return Optional.empty();
    }
    return Optional.of(new Route(Integer.parseUnsignedInt(m.group(1), 16),
        Integer.parseUnsignedInt(m.group(2), 16), Integer.parseInt(m.group(3)),
        Integer.parseInt(m.group(4))));
  }

  String marker() {
    return "route fwmark=" + Names.hex(mark) + "/" + Names.hex(mask) + " table=" + table
        + " priority=" + priority;
  }

  private String[] rule(IpFamily family, String verb) {
    return new String[] {"ip", flag(family), "rule", verb, "fwmark",
        Names.hex(mark) + "/" + Names.hex(mask), "lookup", Integer.toString(table), "priority",
        Integer.toString(priority)};
  }

  private String[] localRoute(IpFamily family, String verb) {
    return new String[] {"ip", flag(family), "route", verb, "local",
        family == IpFamily.IPV4 ? "0.0.0.0/0" : "::/0", "dev", "lo", "table",
        Integer.toString(table)};
  }

  /** The rule deletion; run repeatedly until it fails, since rules can be duplicated. */
  Command deleteRule(IpFamily family) {
    return Command.ignoringFailure(rule(family, "del"));
  }

  List<Command> install(IpFamily family) {
    List<Command> out = new ArrayList<>();
    out.add(deleteRule(family));
    out.add(Command.of(rule(family, "add")));
    out.add(Command.of(localRoute(family, "replace")));
    return out;
  }

  List<Command> remove(IpFamily family) {
    return List.of(deleteRule(family), Command.ignoringFailure(localRoute(family, "del")));
  }

  static String flag(IpFamily family) {
    return family == IpFamily.IPV4 ? "-4" : "-6";
  }
}
