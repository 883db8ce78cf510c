package dev.conduit.netfilter;

import dev.conduit.netfilter.internal.IptablesBackend;
import dev.conduit.netfilter.internal.NftablesBackend;
import java.util.List;

/**
 * Installs, removes and lists the rules of a {@link CapturePlan}. Everything a backend installs is
 * named after the plan's prefix, so it finds its own objects again after a crash and never touches
 * another prefix's. All methods block (they run external tools): never call them on an event loop.
 *
 * <ul>
 *   <li>{@link #iptables(CommandRunner)}: ipsets ({@code ipset restore}, swapped in atomically),
 *       conduit's own chains in the nat (REDIRECT) or mangle (TPROXY) table with one tagged jump from
 *       each built-in chain, one {@code iptables-restore --noflush} / {@code ip6tables-restore
 *       --noflush} transaction per family, policy routing for TPROXY.
 *   <li>{@link #nftables(CommandRunner)}: one {@code table inet conduit_<prefix>} with its sets and
 *       chains, replaced in one {@code nft -f} transaction; policy routing for TPROXY.
 * </ul>
 */
public interface NetfilterBackend {

  /** Returns the backend's name: {@code iptables} or {@code nftables}. */
  String name();

  /**
   * Returns the exact commands (with their payloads) that {@link #apply} runs on a system where
   * nothing of the plan's prefix is installed; {@link Command#toString()} of each is the dry-run text.
   * Pure: runs nothing.
   *
   * @param plan the plan
   * @return the commands, in order
   */
  List<Command> plan(CapturePlan plan);

  /**
   * Installs the plan. Idempotent: first removes whatever of the same prefix is installed (a previous
   * apply, or the leftovers of a crashed conduit), in the same transaction where the tools allow, so
   * exactly one set of rules remains.
   *
   * @param plan the plan
   * @throws NetfilterException when a tool is missing or refuses; the message carries its stderr
   */
  void apply(CapturePlan plan) throws NetfilterException;

  /**
   * Removes every chain, rule, set, table and route installed under the prefix, and nothing else.
   * Does nothing when nothing is installed.
   *
   * @param prefix the plan prefix, e.g. {@code CONDUIT}
   * @throws NetfilterException when a tool is missing or refuses
   */
  void clear(String prefix) throws NetfilterException;

  /**
   * Lists what is installed under the prefix, in the tools' own syntax (empty when nothing is).
   *
   * @param prefix the plan prefix
   * @return the installed rules, sets and routes
   * @throws NetfilterException when a tool is missing or refuses
   */
  String show(String prefix) throws NetfilterException;

  /**
   * Returns whether anything of the prefix is installed with this backend (see {@link #show}).
   *
   * @param prefix the plan prefix
   * @return whether a rule, set, table or route of the prefix is installed
   * @throws NetfilterException when a tool is missing or refuses
   */
  default boolean holds(String prefix) throws NetfilterException {
    return !show(prefix).isEmpty();
  }

  /**
   * Finds the backends that hold something of the prefix, by the names and ownership tag
   * everything conduit installs carries, so {@code show} and {@code clear} need not be told which
   * backend applied the rules. A backend whose tools are not installed holds nothing.
   *
   * @param prefix the plan prefix
   * @param runner runs the tools
   * @return iptables and/or nftables, in that order; empty when nothing is installed
   * @throws NetfilterException when an installed tool refuses to list its state
   */
  static List<NetfilterBackend> holding(String prefix, CommandRunner runner) throws NetfilterException {
    CapturePlan.validatePrefix(prefix);
    java.util.ArrayList<NetfilterBackend> found = new java.util.ArrayList<>();
    for (NetfilterBackend backend : List.of(iptables(runner), nftables(runner))) {
      if (!backend.toolsInstalled() || !backend.holds(prefix)) {
        continue;
      }
      found.add(backend);
    }
    return List.copyOf(found);
  }

  /**
   * Returns whether the tools this backend lists its state with are installed.
   *
   * @return whether the backend's tools are on the PATH
   * @throws NetfilterException when the check cannot run
   */
  boolean toolsInstalled() throws NetfilterException;

  /**
   * The iptables + ipset backend.
   *
   * @param runner runs the tools
   * @return the backend
   */
  static NetfilterBackend iptables(CommandRunner runner) {
    return new IptablesBackend(runner);
  }

  /**
   * The nftables backend.
   *
   * @param runner runs the tools
   * @return the backend
   */
  static NetfilterBackend nftables(CommandRunner runner) {
    return new NftablesBackend(runner);
  }
}
