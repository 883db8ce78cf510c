package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.net.IpPrefix;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * How an egress gateway enforces: the protected networks whose forwarded traffic it guards, the mode,
 * and the nftables table it owns. Immutable; built with {@link #builder()}.
 */
public final class EgressGatewayConfig {

  private final String table;
  private final List<IpPrefix> protectedNetworks;
  private final EgressMode mode;
  private final boolean masquerade;
  private final Optional<String> outInterface;
  private final OptionalInt flowLogGroup;
  private final OptionalInt l7CheckPort;
  private final List<Integer> l7Ports;

  private EgressGatewayConfig(Builder b) {
    this.table = b.table;
    this.protectedNetworks = List.copyOf(b.protectedNetworks);
    this.mode = b.mode;
    this.masquerade = b.masquerade;
    this.outInterface = b.outInterface;
    this.flowLogGroup = b.flowLogGroup;
    this.l7CheckPort = b.l7CheckPort;
    this.l7Ports = List.copyOf(new java.util.TreeSet<>(b.l7Ports));
    if (protectedNetworks.isEmpty()) {
      throw new IllegalArgumentException("protectedNetworks: [] (expected: at least one network, e.g."
          + " 10.0.0.0/8)");
    }
  }

  /** Returns a builder: table {@code conduit_egress}, enforce mode, masquerading on. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns the name of the {@code inet} nftables table the gateway owns. */
  public String table() {
    return table;
  }

  /** Returns the networks whose forwarded traffic is guarded (the sources the gateway forwards for). */
  public List<IpPrefix> protectedNetworks() {
    return protectedNetworks;
  }

  /** Returns the mode. */
  public EgressMode mode() {
    return mode;
  }

  /** Returns whether traffic that passes is masqueraded behind the gateway's address. */
  public boolean masquerade() {
    return masquerade;
  }

  /** Returns the interface masquerading is limited to, if any (empty: any but towards the protected networks). */
  public Optional<String> outInterface() {
    return outInterface;
  }

  /**
   * Returns the netlink log group (NFLOG) the gateway copies the first packets of denied flows to, if
   * any: the SYN of every new flow outside the allowlist (its destination and port) and, in report-only
   * mode, the first TLS ClientHello or HTTP request of such flows (their SNI or Host), each rate-limited.
   * {@link FlowLog} reads them.
   */
  public OptionalInt flowLogGroup() {
    return flowLogGroup;
  }

  /**
   * Returns the port of the gateway's L7 check listener that new TCP flows from the protected networks to
   * the {@linkplain #l7Ports() checked ports} are redirected to, if the L7 check is on ({@link EgressL7Check}).
   */
  public OptionalInt l7CheckPort() {
    return l7CheckPort;
  }

  /** Returns the destination ports whose flows the L7 check decides (default 80 and 443), in order. */
  public List<Integer> l7Ports() {
    return l7Ports;
  }

  /**
   * Returns a copy in another mode.
   *
   * @param other the mode
   * @return the copy
   */
  public EgressGatewayConfig withMode(EgressMode other) {
    Builder b = builder().table(table).mode(other).masquerade(masquerade);
    protectedNetworks.forEach(b::protectedNetwork);
    outInterface.ifPresent(b::outInterface);
    flowLogGroup.ifPresent(b::flowLogGroup);
    l7CheckPort.ifPresent(b::l7CheckPort);
    b.l7Ports(l7Ports);
    return b.build();
  }

  @Override
  public String toString() {
    return "EgressGatewayConfig[table=" + table + ", protectedNetworks=" + protectedNetworks + ", mode="
        + mode + ", masquerade=" + masquerade + ", outInterface=" + outInterface.orElse("any")
        + (flowLogGroup.isPresent() ? ", flowLogGroup=" + flowLogGroup.getAsInt() : "")
        + (l7CheckPort.isPresent() ? ", l7CheckPort=" + l7CheckPort.getAsInt() + ", l7Ports=" + l7Ports : "") + "]";
  }

  /** Builds an {@link EgressGatewayConfig}. */
  public static final class Builder {
    private String table = "conduit_egress";
    private final List<IpPrefix> protectedNetworks = new ArrayList<>();
    private EgressMode mode = EgressMode.ENFORCE;
    private boolean masquerade = true;
    private Optional<String> outInterface = Optional.empty();
    private OptionalInt flowLogGroup = OptionalInt.empty();
    private OptionalInt l7CheckPort = OptionalInt.empty();
    private List<Integer> l7Ports = List.of(80, 443);

    private Builder() {}

    /**
     * The nftables table name (letters, digits and {@code _}, up to 32 characters).
     *
     * @param value the name
     * @return this builder
     */
    public Builder table(String value) {
      requireNonNull(value, "table");
      if (!value.matches("[A-Za-z][A-Za-z0-9_]{0,31}")) {
        throw new IllegalArgumentException("table: " + value
            + " (expected: a letter, then up to 31 letters, digits or _)");
      }
      this.table = value;
      return this;
    }

    /**
     * Adds a protected network.
     *
     * @param value e.g. {@code 10.0.0.0/8} or {@code fd00:1::/64}
     * @return this builder
     */
    public Builder protectedNetwork(IpPrefix value) {
      protectedNetworks.add(requireNonNull(value, "protectedNetwork"));
      return this;
    }

    /**
     * Adds a protected network given as CIDR text.
     *
     * @param cidr e.g. {@code 10.0.0.0/8}
     * @return this builder
     */
    public Builder protectedNetwork(String cidr) {
      return protectedNetwork(IpPrefix.parse(requireNonNull(cidr, "cidr")));
    }

    /**
     * The mode.
     *
     * @param value enforce or report-only
     * @return this builder
     */
    public Builder mode(EgressMode value) {
      this.mode = requireNonNull(value, "mode");
      return this;
    }

    /**
     * Whether passing traffic is masqueraded (default true; off when another box NATs).
     *
     * @param value whether to masquerade
     * @return this builder
     */
    public Builder masquerade(boolean value) {
      this.masquerade = value;
      return this;
    }

    /**
     * Limits masquerading to traffic leaving through this interface.
     *
     * @param value the interface name
     * @return this builder
     */
    public Builder outInterface(String value) {
      requireNonNull(value, "outInterface");
      if (!value.matches("[A-Za-z0-9_.:@+-]{1,15}")) {
        throw new IllegalArgumentException("outInterface: " + value + " (expected: an interface name)");
      }
      this.outInterface = Optional.of(value);
      return this;
    }

    /**
     * Copies the first packets of denied flows to this NFLOG group (see
     * {@link EgressGatewayConfig#flowLogGroup()}; default: none).
     *
     * @param group the group, 1-65535
     * @return this builder
     */
    public Builder flowLogGroup(int group) {
      if (group < 1 || group > 65535) {
        throw new IllegalArgumentException("flowLogGroup: " + group + " (expected: 1-65535)");
      }
      this.flowLogGroup = OptionalInt.of(group);
      return this;
    }

    /**
     * Turns the L7 check on: new TCP flows from the protected networks to the {@linkplain #l7Ports checked
     * ports} are redirected to this port of the gateway, where {@link EgressL7Check} listens (default: off).
     *
     * @param port the listener's port, 1-65535
     * @return this builder
     */
    public Builder l7CheckPort(int port) {
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("l7CheckPort: " + port + " (expected: 1-65535)");
      }
      this.l7CheckPort = OptionalInt.of(port);
      return this;
    }

    /**
     * The destination ports whose flows the L7 check decides (default 80 and 443).
     *
     * @param ports 1 to 64 ports, each 1-65535
     * @return this builder
     */
    public Builder l7Ports(java.util.Collection<Integer> ports) {
      requireNonNull(ports, "l7Ports");
      if (ports.isEmpty() || ports.size() > 64) {
        throw new IllegalArgumentException("l7Ports: " + ports + " (expected: 1 to 64 ports)");
      }
      for (Integer p : ports) {
        if (p == null || p < 1 || p > 65535) {
          throw new IllegalArgumentException("l7Ports: " + p + " (expected: ports 1-65535)");
        }
      }
      this.l7Ports = List.copyOf(ports);
      return this;
    }

    /** Returns the config. */
    public EgressGatewayConfig build() {
      return new EgressGatewayConfig(this);
    }
  }
}
