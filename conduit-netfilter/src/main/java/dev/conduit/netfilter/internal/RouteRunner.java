package dev.conduit.netfilter.internal;

import dev.conduit.netfilter.Command;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.NetfilterException;
import java.util.List;

/** Runs command lists; rule deletions are repeated until they fail (rules can be duplicated). */
final class RouteRunner {

  private static final int MAX_DUPLICATES = 32;

  private RouteRunner() {}

  static void run(CommandRunner runner, List<Command> commands) throws NetfilterException {
    for (Command c : commands) {
      if (!c.checked() && c.argv().size() > 3 && c.argv().get(2).equals("rule")
          && c.argv().get(3).equals("del")) {
        for (int i = 0; i < MAX_DUPLICATES && runner.run(c).ok(); i++) {
          // delete the next duplicate
        }
      } else {
        runner.run(c);
      }
    }
  }
}
