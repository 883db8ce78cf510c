package dev.conduit.netfilter.internal;

import static java.util.Objects.requireNonNull;

import dev.conduit.netfilter.CapturePlan;
import dev.conduit.netfilter.Command;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.IpFamily;
import dev.conduit.netfilter.NetfilterBackend;
import dev.conduit.netfilter.NetfilterException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The iptables + ipset backend; see {@link NetfilterBackend#iptables}. */
public final class IptablesBackend implements NetfilterBackend {

  private final CommandRunner runner;

  /**
   * Creates the backend.
   *
   * @param runner runs the tools
   */
  public IptablesBackend(CommandRunner runner) {
    this.runner = requireNonNull(runner, "runner");
  }

  @Override
  public String name() {
    return "iptables";
  }

  @Override
  public boolean toolsInstalled() throws NetfilterException {
    for (String tool : List.of("iptables-save", "ip6tables-save", "ipset")) {
      if (!runner.run(List.of("sh", "-c", "command -v " + tool), "").ok()) {
        return false;
      }
    }
    return true;
  }

  @Override
  public List<Command> plan(CapturePlan plan) {
    requireNonNull(plan, "plan");
    Map<IpFamily, IptablesState> empty = new EnumMap<>(IpFamily.class);
    for (IpFamily f : IpFamily.values()) {
      empty.put(f, IptablesState.EMPTY);
    }
    return commands(plan.prefix(), plan, empty, List.of());
  }

  @Override
  public void apply(CapturePlan plan) throws NetfilterException {
    requireNonNull(plan, "plan");
    execute(commands(plan.prefix(), plan, states(plan.prefix()), sets(plan.prefix())));
  }

  @Override
  public void clear(String prefix) throws NetfilterException {
    CapturePlan.validatePrefix(prefix);
    execute(commands(prefix, null, states(prefix), sets(prefix)));
  }

  @Override
  public String show(String prefix) throws NetfilterException {
    CapturePlan.validatePrefix(prefix);
    StringBuilder out = new StringBuilder();
    Map<IpFamily, IptablesState> states = states(prefix);
    for (IpFamily f : IpFamily.values()) {
      String rules = states.get(f).describe(f);
      if (!rules.isEmpty()) {
        out.append("# ").append(save(f)).append('\n').append(rules);
      }
    }
    for (String set : sets(prefix)) {
      out.append("# ipset ").append(set).append('\n')
          .append(runner.run(Command.of("ipset", "save", set)).stdout());
    }
    for (IpFamily f : IpFamily.values()) {
      Optional<Route> route = states.get(f).route();
      if (route.isPresent()) {
        out.append(RouteShow.describe(runner, route.get(), f));
      }
    }
    return out.toString();
  }

  private List<Command> commands(String prefix, CapturePlan plan, Map<IpFamily, IptablesState> states,
      List<String> installedSets) {
    List<Command> commands = new ArrayList<>();
    List<Model.SetSpec> sets = plan == null ? List.of() : Model.sets(plan);
    if (!sets.isEmpty()) {
      commands.add(Command.withInput(IptablesRenderer.ipsetPayload(plan), "ipset", "restore"));
    }
    for (IpFamily f : IpFamily.values()) {
      String payload = IptablesRenderer.restorePayload(prefix, plan, f, states.get(f));
      if (!payload.isEmpty()) {
        commands.add(Command.withInput(payload, restore(f), "--noflush", "--wait"));
      }
    }
    // one marker suffices for both families: the deletions are harmless where nothing is installed
    Optional<Route> old = states.get(IpFamily.IPV4).route().or(() -> states.get(IpFamily.IPV6).route());
    for (IpFamily f : IpFamily.values()) {
      Optional<Route> wanted = plan == null || !Model.captures(plan, sets, f)
          ? Optional.empty() : Route.of(plan);
      if (old.isPresent() && !old.equals(wanted)) {
        commands.addAll(old.get().remove(f));
      }
      wanted.ifPresent(r -> commands.addAll(r.install(f)));
    }
    List<String> wantedSets = new ArrayList<>();
    for (Model.SetSpec s : sets) {
      wantedSets.add(s.ipsetName(prefix));
    }
    for (String set : installedSets) {
      if (!wantedSets.contains(set)) {
        commands.add(Command.of("ipset", "destroy", set));
      }
    }
    return commands;
  }

  private void execute(List<Command> commands) throws NetfilterException {
    RouteRunner.run(runner, commands);
  }

  private Map<IpFamily, IptablesState> states(String prefix) throws NetfilterException {
    Map<IpFamily, IptablesState> states = new EnumMap<>(IpFamily.class);
    for (IpFamily f : IpFamily.values()) {
      CommandRunner.Result r = runner.run(Command.of(save(f)));
      states.put(f, IptablesState.parse(prefix, r.stdout()));
    }
    return states;
  }

  private List<String> sets(String prefix) throws NetfilterException {
    List<String> own = new ArrayList<>();
    for (String name : runner.run(Command.of("ipset", "list", "-n")).stdout().split("\n")) {
      String n = name.strip();
      if (Names.isOwnSet(prefix, n)) {
        own.add(n);
      }
    }
    return own;
  }

  private static String save(IpFamily family) {
    return family == IpFamily.IPV4 ? "iptables-save" : "ip6tables-save";
  }

  private static String restore(IpFamily family) {
    return family == IpFamily.IPV4 ? "iptables-restore" : "ip6tables-restore";
  }
}
