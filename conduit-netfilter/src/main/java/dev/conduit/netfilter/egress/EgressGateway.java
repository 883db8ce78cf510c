package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.net.IpPrefix;
import dev.conduit.netfilter.Command;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.NetfilterException;
import dev.conduit.netfilter.Prerequisites.Problem;
import dev.conduit.netfilter.egress.internal.AllowlistElements;
import dev.conduit.netfilter.egress.internal.EgressNft;
import dev.conduit.netfilter.egress.internal.L7DivertNft;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Enforces an {@link Allowlist} on a Linux gateway with one nftables table of its own ({@code inet},
 * IPv4 and IPv6, marked as conduit's by its comment): forwarded traffic from the protected networks
 * passes only to allowlisted destinations (flows already established excepted) and is then
 * masqueraded; everything else from them is dropped (or, in report-only mode, counted per destination
 * and let through). An entry with ports allows only those TCP/UDP destination ports. Each packet is looked
 * up in at most two allowlist sets (prefixes on every port, then (prefix, port) pairs), whatever their size,
 * and the matching element's counter counts it, per direction. The gateway's own traffic and other forwarded
 * traffic are not touched.
 *
 * <p>{@link #install} replaces any table a crashed gateway left; {@link #update} applies only the
 * difference, in one transaction, so the counters of elements that stay survive; {@link #close}
 * removes the table. Blocking (runs {@code nft}); thread-safe.
 */
public final class EgressGateway implements AutoCloseable {

  private final CommandRunner runner;
  private final List<Consumer<EgressMode>> modeListeners = new CopyOnWriteArrayList<>();
  private EgressGatewayConfig config;
  private Allowlist allowlist;
  private AllowlistElements installed;
  private boolean closed;

  private EgressGateway(EgressGatewayConfig config, CommandRunner runner, Allowlist allowlist) {
    this.config = config;
    this.runner = runner;
    this.allowlist = allowlist;
    this.installed = AllowlistElements.of(allowlist);
  }

  /**
   * Checks what the gateway needs here: root, {@code nft}, and forwarding switched on for the
   * families of the protected networks.
   *
   * @param config the config
   * @param runner runs the probes
   * @return the problems, empty when the gateway can run
   * @throws NetfilterException when a probe cannot run
   */
  public static List<Problem> check(EgressGatewayConfig config, CommandRunner runner)
      throws NetfilterException {
    requireNonNull(config, "config");
    requireNonNull(runner, "runner");
    List<Problem> problems = new ArrayList<>();
    CommandRunner.Result uid = runner.run(List.of("id", "-u"), "");
    if (uid.ok() && !uid.stdout().strip().equals("0")) {
      problems.add(new Problem("not running as root: changing netfilter rules needs CAP_NET_ADMIN",
          "run conduit as root or grant it CAP_NET_ADMIN"));
    }
    if (!runner.run(List.of("sh", "-c", "command -v nft"), "").ok()) {
      problems.add(new Problem("nft is not installed", "apt-get install nftables"));
    }
    boolean v4 = config.protectedNetworks().stream().anyMatch(IpPrefix::isIpv4);
    boolean v6 = config.protectedNetworks().stream().anyMatch(p -> !p.isIpv4());
    if (v4 && !sysctl(runner, "net.ipv4.ip_forward").equals("1")) {
      problems.add(new Problem("net.ipv4.ip_forward=0: the gateway forwards nothing for "
          + "the protected IPv4 networks", "sysctl -w net.ipv4.ip_forward=1"));
    }
    if (v6 && !sysctl(runner, "net.ipv6.conf.all.forwarding").equals("1")) {
      problems.add(new Problem("net.ipv6.conf.all.forwarding=0: the gateway forwards nothing for "
          + "the protected IPv6 networks", "sysctl -w net.ipv6.conf.all.forwarding=1"));
    }
    return problems;
  }

  private static String sysctl(CommandRunner runner, String key) throws NetfilterException {
    CommandRunner.Result r = runner.run(List.of("sysctl", "-n", key), "");
    return r.ok() ? r.stdout().strip() : "";
  }

  /**
   * Installs the gateway's table with the allowlist, replacing in one transaction whatever a
   * previous (crashed) gateway of the same table left.
   *
   * @param config the config
   * @param allowlist the allowlist to enforce from the start
   * @param runner runs {@code nft}
   * @return the installed gateway
   * @throws NetfilterException when nft fails, or a table of that name exists that is not conduit's
   */
  public static EgressGateway install(EgressGatewayConfig config, Allowlist allowlist,
      CommandRunner runner) throws NetfilterException {
    requireNonNull(config, "config");
    requireNonNull(allowlist, "allowlist");
    requireNonNull(runner, "runner");
    requireOwnedOrAbsent(config.table(), runner);
    requireOwnedOrAbsent(L7DivertNft.table(config.table()), runner);
    EgressGateway gateway = new EgressGateway(config, runner, allowlist);
    // the L7 divert table (or its removal, when a crashed gateway left one) in the same transaction
    runner.run(Command.withInput(EgressNft.replace(config, gateway.installed) + L7DivertNft.replace(config),
        "nft", "-f", "-"));
    return gateway;
  }

  /**
   * Removes a gateway table a crashed gateway left (nothing when there is none).
   *
   * @param table the table name
   * @param runner runs {@code nft}
   * @return whether a table was removed
   * @throws NetfilterException when nft fails, or the table is not conduit's
   */
  public static boolean removeStale(String table, CommandRunner runner) throws NetfilterException {
    requireNonNull(table, "table");
    requireNonNull(runner, "runner");
    boolean removed = false;
    for (String t : List.of(table, L7DivertNft.table(table))) {
      if (requireOwnedOrAbsent(t, runner)) {
        runner.run(Command.of("nft", "delete", "table", "inet", t));
        removed = true;
      }
    }
    return removed;
  }

  private static boolean requireOwnedOrAbsent(String table, CommandRunner runner)
      throws NetfilterException {
    CommandRunner.Result listing = runner.run(List.of("nft", "list", "table", "inet", table), "");
    if (!listing.ok()) {
      return false;
    }
    if (!listing.stdout().contains("comment \"" + EgressNft.OWNER + "\"")) {
      throw new NetfilterException("nft table inet " + table + " exists and is not conduit's (no comment \""
          + EgressNft.OWNER + "\"); choose another table name or remove it: nft delete table inet " + table);
    }
    return true;
  }

  /**
   * Enforces another allowlist from now on: the elements that left are deleted and the new ones added,
   * in one transaction. Established flows to a removed address go on.
   *
   * @param next the allowlist
   * @throws NetfilterException when nft fails (the previous allowlist then stays in force)
   */
  public synchronized void update(Allowlist next) throws NetfilterException {
    requireNonNull(next, "next");
    ensureOpen();
    AllowlistElements wanted = AllowlistElements.of(next);
    String payload = EgressNft.diff(config.table(), installed, wanted);
    if (!payload.isEmpty()) {
      runner.run(Command.withInput(payload, "nft", "-f", "-"));
    }
    installed = wanted;
    allowlist = next;
  }

  /**
   * Switches between enforce and report-only; the allowlist and its counters stay.
   *
   * @param mode the mode
   * @throws NetfilterException when nft fails
   */
  public synchronized void mode(EgressMode mode) throws NetfilterException {
    requireNonNull(mode, "mode");
    ensureOpen();
    if (mode == config.mode()) {
      return;
    }
    EgressGatewayConfig next = config.withMode(mode);
    runner.run(Command.withInput(EgressNft.rewriteForward(next), "nft", "-f", "-"));
    config = next;
    for (Consumer<EgressMode> listener : modeListeners) {
      listener.accept(mode);
    }
  }

  /**
   * Calls a listener after each switch of {@link #mode(EgressMode)}, with the new mode (on the switching thread;
   * keep it short), e.g. to switch the L7 check along.
   *
   * @param listener the listener
   */
  public void onModeSwitch(Consumer<EgressMode> listener) {
    modeListeners.add(requireNonNull(listener, "listener"));
  }

  /** Returns the allowlist in force. */
  public synchronized Allowlist allowlist() {
    return allowlist;
  }

  /** Returns the config in force (its mode may have been switched). */
  public synchronized EgressGatewayConfig config() {
    return config;
  }

  /**
   * Reads the kernel's counters of every installed allowlist element now, both directions.
   *
   * @return the counters, IPv4 first, in address order
   * @throws NetfilterException when nft fails
   */
  public synchronized List<AddressCounters> counters() throws NetfilterException {
    ensureOpen();
    List<AddressCounters> out = new ArrayList<>();
    for (boolean v4 : List.of(true, false)) {
      List<String> sets = EgressNft.sets(v4);
      out.addAll(EgressNft.join(List.of(list(sets.get(0)), list(sets.get(3))),
          List.of(list(sets.get(1)), list(sets.get(4)))));
    }
    return out;
  }

  /**
   * Reads the destinations outside the allowlist that the protected networks tried to reach in the
   * last hour: dropped in enforce mode, let through (and so the allowlist to learn) in report-only mode.
   *
   * @return the destinations with their first-packet counts
   * @throws NetfilterException when nft fails
   */
  public synchronized List<DeniedDestination> denied() throws NetfilterException {
    ensureOpen();
    List<DeniedDestination> out = new ArrayList<>();
    for (boolean v4 : List.of(true, false)) {
      out.addAll(EgressNft.denied(list(EgressNft.sets(v4).get(2))));
    }
    return out;
  }

  private String list(String set) throws NetfilterException {
    return runner.run(Command.of("nft", "list", "set", "inet", config.table(), set)).stdout();
  }

  /**
   * Returns the table as nft lists it (for diagnostics).
   *
   * @return the listing
   * @throws NetfilterException when nft fails
   */
  public synchronized String show() throws NetfilterException {
    return runner.run(Command.of("nft", "list", "table", "inet", config.table())).stdout();
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("egress gateway closed");
    }
  }

  /**
   * Removes the gateway's table: the protected networks' traffic is then forwarded unguarded (and
   * not masqueraded) by whatever other rules the host has.
   *
   * @throws NetfilterException when nft fails
   */
  @Override
  public synchronized void close() throws NetfilterException {
    if (closed) {
      return;
    }
    closed = true;
    if (config.l7CheckPort().isPresent()) {
      runner.run(Command.ignoringFailure("nft", "delete", "table", "inet", L7DivertNft.table(config.table())));
    }
    runner.run(Command.ignoringFailure("nft", "delete", "table", "inet", config.table()));
  }

  @Override
  public String toString() {
    return "EgressGateway[" + config + "]";
  }
}
