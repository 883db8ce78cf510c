package dev.conduit.netfilter.mesh;

import static java.util.Objects.requireNonNull;

import dev.conduit.netfilter.Command;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.IpFamily;
import dev.conduit.netfilter.IpNetwork;
import dev.conduit.netfilter.NetfilterException;
import dev.conduit.netfilter.PortRange;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Micro-segmentation for a mesh server host: the enforced local TCP ports accept only connections that arrive on
 * the loopback interface, that is, from the host itself, which is where the local conduit tunnel server delivers
 * what the mesh tunnelled to it (it dials the service on its own host). A host outside the mesh that connects to
 * such a port in clear, over IPv4 or IPv6, gets a TCP reset; connections the host opened itself (replies to them
 * come back with the port as destination) are not touched.
 *
 * <p>The rules live in one nftables table of their own ({@code inet}, marked as conduit's by its comment):
 * {@link #install} replaces in one transaction whatever a crashed conduit left in it, {@link #update} swaps the
 * ports atomically, {@link #close} removes the table, {@link #removeStale} cleans up after a crash. Blocking (runs
 * {@code nft}); thread-safe.
 */
public final class InboundEnforcement implements AutoCloseable {

  /** The table comment that marks a table as conduit's. */
  public static final String OWNER = "conduit mesh enforce";

  private final CommandRunner runner;
  private InboundEnforcementConfig config;
  private boolean closed;

  private InboundEnforcement(InboundEnforcementConfig config, CommandRunner runner) {
    this.config = config;
    this.runner = runner;
  }

  /**
   * Returns the {@code nft -f} payload that replaces the table atomically (creating it first, so the delete never
   * fails). Pure: for dry runs and tests.
   *
   * @param config what to enforce
   * @return the payload
   */
  public static String payload(InboundEnforcementConfig config) {
    requireNonNull(config, "config");
    String t = config.table();
    StringBuilder s = new StringBuilder();
    s.append("table inet ").append(t).append(" {}\n");
    s.append("delete table inet ").append(t).append('\n');
    s.append("table inet ").append(t).append(" {\n");
    s.append("  comment \"").append(OWNER).append("\"\n");
    s.append("  set ports { type inet_service; flags interval; auto-merge; elements = { ")
        .append(config.ports().stream().map(PortRange::toString).collect(Collectors.joining(", "))).append(" } }\n");
    for (IpFamily f : List.of(IpFamily.IPV4, IpFamily.IPV6)) {
      List<IpNetwork> nets = config.allowedSources().stream().filter(n -> n.family() == f).toList();
      s.append("  set allowed").append(f == IpFamily.IPV4 ? "4" : "6").append(" { type ")
          .append(f == IpFamily.IPV4 ? "ipv4_addr" : "ipv6_addr").append("; flags interval; auto-merge;");
      if (!nets.isEmpty()) {
        s.append(" elements = { ").append(nets.stream().map(IpNetwork::toString).collect(Collectors.joining(", ")))
            .append(" }");
      }
      s.append(" }\n");
    }
    s.append("  chain input {\n");
    s.append("    type filter hook input priority filter; policy accept;\n");
    // delivered by this host (the tunnel server dials its own services): loopback, whatever the address
    s.append("    iif \"lo\" accept\n");
    s.append("    ip saddr @allowed4 accept\n");
    s.append("    ip6 saddr @allowed6 accept\n");
    // only connections others open to the port: replies to this host's own connections go on
    s.append("    tcp dport @ports ct direction original reject with tcp reset\n");
    s.append("  }\n");
    s.append("}\n");
    return s.toString();
  }

  /**
   * Installs the enforcement, replacing in one transaction whatever a previous (crashed) conduit left in the table.
   * Connections from outside already open to an enforced port are reset at their next packet.
   *
   * @param config what to enforce
   * @param runner runs {@code nft}
   * @return the installed enforcement
   * @throws NetfilterException when nft fails, or a table of that name exists that is not conduit's
   */
  public static InboundEnforcement install(InboundEnforcementConfig config, CommandRunner runner)
      throws NetfilterException {
    requireNonNull(config, "config");
    requireNonNull(runner, "runner");
    requireOwnedOrAbsent(config.table(), runner);
    runner.run(Command.withInput(payload(config), "nft", "-f", "-"));
    return new InboundEnforcement(config, runner);
  }

  /**
   * Removes the table a crashed conduit left (nothing when there is none).
   *
   * @param table the table name
   * @param runner runs {@code nft}
   * @return whether a table was removed
   * @throws NetfilterException when nft fails, or the table is not conduit's
   */
  public static boolean removeStale(String table, CommandRunner runner) throws NetfilterException {
    requireNonNull(table, "table");
    requireNonNull(runner, "runner");
    if (!requireOwnedOrAbsent(table, runner)) {
      return false;
    }
    runner.run(Command.of("nft", "delete", "table", "inet", table));
    return true;
  }

  private static boolean requireOwnedOrAbsent(String table, CommandRunner runner) throws NetfilterException {
    CommandRunner.Result listing = runner.run(List.of("nft", "list", "table", "inet", table), "");
    if (!listing.ok()) {
      return false;
    }
    if (!listing.stdout().contains("comment \"" + OWNER + "\"")) {
      throw new NetfilterException("nft table inet " + table + " exists and is not conduit's (no comment \""
          + OWNER + "\"); choose another table name or remove it: nft delete table inet " + table);
    }
    return true;
  }

  /**
   * Enforces another set of ports and allowed sources from now on, in one transaction (the table is replaced
   * atomically: no moment without enforcement).
   *
   * @param next what to enforce; its table must be this one's
   * @throws NetfilterException when nft fails (the previous rules then stay in force)
   */
  public synchronized void update(InboundEnforcementConfig next) throws NetfilterException {
    requireNonNull(next, "next");
    ensureOpen();
    if (!next.table().equals(config.table())) {
      throw new IllegalArgumentException("table: " + next.table() + " (expected: " + config.table()
          + "; close this enforcement and install another)");
    }
    runner.run(Command.withInput(payload(next), "nft", "-f", "-"));
    config = next;
  }

  /** Returns what is enforced. */
  public synchronized InboundEnforcementConfig config() {
    return config;
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
      throw new IllegalStateException("inbound enforcement closed");
    }
  }

  /**
   * Removes the table: the ports are then reachable as the host's other rules allow.
   *
   * @throws NetfilterException when nft fails
   */
  @Override
  public synchronized void close() throws NetfilterException {
    if (closed) {
      return;
    }
    closed = true;
    runner.run(Command.ignoringFailure("nft", "delete", "table", "inet", config.table()));
  }

  @Override
  public String toString() {
    return "InboundEnforcement[" + config + "]";
  }
}
