package dev.conduit.netfilter.internal;

import dev.conduit.netfilter.Command;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.IpFamily;
import dev.conduit.netfilter.NetfilterException;

/** Lists the installed policy routing of a {@link Route}. */
final class RouteShow {

  private RouteShow() {}

  static String describe(CommandRunner runner, Route route, IpFamily family)
      throws NetfilterException {
    StringBuilder out = new StringBuilder();
    String flag = Route.flag(family);
    out.append("# ip ").append(flag).append(" rule (table ").append(route.table()).append(")\n");
    for (String line : runner.run(Command.of("ip", flag, "rule", "show")).stdout().split("\n")) {
      if (line.matches(".*\\blookup " + route.table() + "\\b.*")) {
        out.append(line.strip()).append('\n');
      }
    }
    out.append("# ip ").append(flag).append(" route show table ").append(route.table()).append('\n');
    out.append(runner.run(Command.ignoringFailure("ip", flag, "route", "show", "table",
        Integer.toString(route.table()))).stdout());
    return out.toString();
  }
}
