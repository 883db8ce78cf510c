package dev.conduit.netfilter.internal;

import static java.util.Objects.requireNonNull;

import dev.conduit.netfilter.CapturePlan;
import dev.conduit.netfilter.Command;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.IpFamily;
import dev.conduit.netfilter.NetfilterBackend;
import dev.conduit.netfilter.NetfilterException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The nftables backend; see {@link NetfilterBackend#nftables}. */
public final class NftablesBackend implements NetfilterBackend {

  private final CommandRunner runner;

  /**
   * Creates the backend.
   *
   * @param runner runs the tools
   */
  public NftablesBackend(CommandRunner runner) {
    this.runner = requireNonNull(runner, "runner");
  }

  @Override
  public String name() {
    return "nftables";
  }

  @Override
  public boolean toolsInstalled() throws NetfilterException {
    for (String tool : List.of("nft")) {
      if (!runner.run(List.of("sh", "-c", "command -v " + tool), "").ok()) {
        return false;
      }
    }
    return true;
  }

  @Override
  public List<Command> plan(CapturePlan plan) {
    requireNonNull(plan, "plan");
    return commands(plan, Optional.empty());
  }

  @Override
  public void apply(CapturePlan plan) throws NetfilterException {
    requireNonNull(plan, "plan");
    RouteRunner.run(runner, commands(plan, installed(plan.prefix())));
  }

  @Override
  public void clear(String prefix) throws NetfilterException {
    CapturePlan.validatePrefix(prefix);
    Optional<String> table = installed(prefix);
    if (table.isEmpty()) {
      return;
    }
    List<Command> commands = new ArrayList<>();
    commands.add(Command.withInput(NftRenderer.clearPayload(prefix), "nft", "-f", "-"));
    Optional<Route> old = Route.parse(table.get());
    for (IpFamily f : IpFamily.values()) {
      old.ifPresent(r -> commands.addAll(r.remove(f)));
    }
    RouteRunner.run(runner, commands);
  }

  @Override
  public String show(String prefix) throws NetfilterException {
    CapturePlan.validatePrefix(prefix);
    Optional<String> table = installed(prefix);
    if (table.isEmpty()) {
      return "";
    }
    StringBuilder out = new StringBuilder(table.get());
    Optional<Route> route = Route.parse(table.get());
    for (IpFamily f : IpFamily.values()) {
      if (route.isPresent()) {
        out.append(RouteShow.describe(runner, route.get(), f));
      }
    }
    return out.toString();
  }

  private List<Command> commands(CapturePlan plan, Optional<String> installedTable) {
    List<Command> commands = new ArrayList<>();
    commands.add(Command.withInput(NftRenderer.applyPayload(plan), "nft", "-f", "-"));
    List<Model.SetSpec> sets = Model.sets(plan);
    Optional<Route> old = installedTable.flatMap(Route::parse);
    for (IpFamily f : IpFamily.values()) {
      Optional<Route> wanted = Model.captures(plan, sets, f) ? Route.of(plan) : Optional.empty();
      if (old.isPresent() && !old.equals(wanted)) {
        commands.addAll(old.get().remove(f));
      }
      wanted.ifPresent(r -> commands.addAll(r.install(f)));
    }
    return commands;
  }

  /** The installed table's listing, if the table exists. */
  private Optional<String> installed(String prefix) throws NetfilterException {
    CommandRunner.Result r = runner.run(
        Command.ignoringFailure("nft", "list", "table", "inet", Names.nftTable(prefix)));
    return r.ok() ? Optional.of(r.stdout()) : Optional.empty();
  }
}
