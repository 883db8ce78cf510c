package dev.conduit.netfilter;

import static java.util.Objects.requireNonNull;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What conduit captures and how: an immutable description that the {@link NetfilterBackend}s turn
 * into iptables/ip6tables + ipset + policy-routing commands, or one nftables table.
 *
 * <h2>Semantics (there is one capture target, so priority is about exclusions)</h2>
 *
 * <ol>
 *   <li>Packets of conduit's own sockets are never captured, whatever the capture networks: a flow of
 *       a transparent socket goes straight to it ({@code -m socket --transparent} / {@code socket
 *       transparent}), packets carrying the {@linkplain #bypassMark() bypass mark} (conduit's own
 *       outbound sockets, see {@link SocketOptions#setMark}) return, and so does every packet in the
 *       reply direction of its connection (the origin's answer to conduit's dial).
 *   <li>Excluded interfaces, excluded sources and excluded destinations are never captured.
 *   <li>Otherwise a connection whose destination matches <em>any</em> of the match kinds (address,
 *       network, address:port, port or port range; or everything with {@link
 *       Builder#captureAllTcp()}) is diverted to {@link #targetPort()}, TCP and, with {@link
 *       Builder#captureUdp}, UDP. Destinations that are this host's own addresses are captured only
 *       when named as an address or endpoint, or with {@link Builder#captureLocalDestinations}. Each
 *       match rule ends in a terminating target (or sets the one capture mark and returns), so no
 *       match kind can overwrite another (unlike seed 000, whose non-terminating MARK rules let the
 *       last match win).
 * </ol>
 *
 * <h2>Hooks</h2>
 *
 * {@linkplain Builder#localCapture(boolean) Local capture} diverts connections made on this host
 * (OUTPUT); {@linkplain Builder#gatewayCapture(boolean) gateway capture} diverts connections arriving
 * on the {@linkplain Builder#gatewayInterfaces gateway interfaces} (PREROUTING, all interfaces but
 * {@code lo} when none are named).
 *
 * <h2>Names</h2>
 *
 * Everything conduit installs is named after the {@linkplain #prefix() prefix} (default {@code
 * CONDUIT}): chains {@code <prefix>_OUTPUT}, {@code <prefix>_PREROUTING}, {@code <prefix>_MATCH_OUT},
 * {@code <prefix>_MATCH_IN}, {@code <prefix>_DIVERT}; sets {@code <prefix>_IP4}, {@code
 * <prefix>_NET6}, {@code <prefix>_IPPORT4}, {@code <prefix>_PORT}, {@code <prefix>_SRC_EXCL4}, ...;
 * jump rules tagged {@code -m comment --comment "conduit:<prefix>"}; nftables table {@code inet
 * conduit_<prefix in lower case>}. Two conduits with different prefixes never touch each other's
 * objects (TPROXY instances must also use different marks and routing tables).
 *
 * <h2>Defaults</h2>
 *
 * prefix {@code CONDUIT}, mode {@link CaptureMode#REDIRECT}, both families, local capture on, gateway
 * capture off, bypass mark {@code 0x5a4/0xffffffff} (seed 000's value), TPROXY mark {@code 0x1/0x1},
 * routing table 100 with rule priority 100, {@code -m socket --transparent} divert on.
 */
public final class CapturePlan {

  private static final Pattern PREFIX = Pattern.compile("[A-Z][A-Z0-9_]{0,15}");

  private final String prefix;
  private final CaptureMode mode;
  private final Set<IpFamily> families;
  private final int targetPort;
  private final Inet4Address dnatAddress4;
  private final Inet6Address dnatAddress6;
  private final List<InetAddress> destinationAddresses;
  private final List<IpNetwork> destinationNetworks;
  private final List<InetSocketAddress> destinationEndpoints;
  private final List<PortRange> destinationPorts;
  private final boolean captureAllTcp;
  private final boolean captureUdp;
  private final boolean captureLocalDestinations;
  private final List<IpNetwork> excludedSources;
  private final List<IpNetwork> excludedDestinations;
  private final List<String> excludedInputInterfaces;
  private final List<String> excludedOutputInterfaces;
  private final int bypassMark;
  private final int bypassMask;
  private final boolean localCapture;
  private final boolean gatewayCapture;
  private final List<String> gatewayInterfaces;
  private final int tproxyMark;
  private final int tproxyMask;
  private final int routingTable;
  private final int routingRulePriority;
  private final boolean divertEstablished;

  private CapturePlan(Builder b) {
    prefix = b.prefix;
    mode = b.mode;
    families = Collections.unmodifiableSet(EnumSet.copyOf(b.families));
    targetPort = b.targetPort;
    dnatAddress4 = b.dnatAddress4;
    dnatAddress6 = b.dnatAddress6;
    destinationAddresses = List.copyOf(b.destinationAddresses);
    destinationNetworks = List.copyOf(b.destinationNetworks);
    destinationEndpoints = List.copyOf(b.destinationEndpoints);
    destinationPorts = List.copyOf(b.destinationPorts);
    captureAllTcp = b.captureAllTcp;
    captureUdp = b.captureUdp;
    captureLocalDestinations = b.captureLocalDestinations;
    excludedSources = List.copyOf(b.excludedSources);
    excludedDestinations = List.copyOf(b.excludedDestinations);
    excludedInputInterfaces = List.copyOf(b.excludedInputInterfaces);
    excludedOutputInterfaces = List.copyOf(b.excludedOutputInterfaces);
    bypassMark = b.bypassMark;
    bypassMask = b.bypassMask;
    localCapture = b.localCapture;
    gatewayCapture = b.gatewayCapture;
    gatewayInterfaces = List.copyOf(b.gatewayInterfaces);
    tproxyMark = b.tproxyMark;
    tproxyMask = b.tproxyMask;
    routingTable = b.routingTable;
    routingRulePriority = b.routingRulePriority;
    divertEstablished = b.divertEstablished;
  }

  /** Returns a builder with the defaults described in the class documentation. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Checks a prefix: an upper-case letter followed by up to 15 of {@code [A-Z0-9_]}, so derived chain
   * names stay within iptables' 28 characters and set names within ipset's 31.
   *
   * @param prefix the prefix
   * @return the prefix
   * @throws IllegalArgumentException when the prefix is not valid
   */
  public static String validatePrefix(String prefix) {
    requireNonNull(prefix, "prefix");
    if (!PREFIX.matcher(prefix).matches()) {
      throw new IllegalArgumentException(
          "prefix: " + prefix + " (expected: [A-Z][A-Z0-9_]*, at most 16 characters)");
    }
    return prefix;
  }

  /** Returns the instance prefix that names every chain, set and table of this plan. */
  public String prefix() {
    return prefix;
  }

  /** Returns the comment that tags conduit's rules in the built-in chains: {@code conduit:<prefix>}. */
  public String tag() {
    return "conduit:" + prefix;
  }

  /** Returns the capture mode. */
  public CaptureMode mode() {
    return mode;
  }

  /** Returns the families covered (never empty). */
  public Set<IpFamily> families() {
    return families;
  }

  /** Returns whether the plan covers the family. */
  public boolean covers(IpFamily family) {
    return families.contains(family);
  }

  /** Returns the port of the transparent listener that captured connections are diverted to. */
  public int targetPort() {
    return targetPort;
  }

  /**
   * Returns the address captured connections are DNATed to instead of REDIRECTed (REDIRECT mode only),
   * e.g. {@code 127.0.0.1} when the listener binds loopback only.
   *
   * @param family the family
   * @return the DNAT address of that family, if set
   */
  public Optional<InetAddress> dnatAddress(IpFamily family) {
    return Optional.ofNullable(family == IpFamily.IPV4 ? dnatAddress4 : dnatAddress6);
  }

  /** Returns the captured destination addresses (ipset {@code hash:ip}). */
  public List<InetAddress> destinationAddresses() {
    return destinationAddresses;
  }

  /** Returns the captured destination networks (ipset {@code hash:net}). */
  public List<IpNetwork> destinationNetworks() {
    return destinationNetworks;
  }

  /** Returns the captured destination address:port pairs (ipset {@code hash:ip,port}). */
  public List<InetSocketAddress> destinationEndpoints() {
    return destinationEndpoints;
  }

  /** Returns the captured destination ports and port ranges, any address (ipset {@code bitmap:port}). */
  public List<PortRange> destinationPorts() {
    return destinationPorts;
  }

  /** Returns whether every TCP connection (not excluded) is captured. */
  public boolean captureAllTcp() {
    return captureAllTcp;
  }

  /** Returns whether UDP is captured too, by the same matches as TCP (TPROXY mode only). */
  public boolean captureUdp() {
    return captureUdp;
  }

  /** Returns whether connections to this host's own addresses are captured by networks and ports. */
  public boolean captureLocalDestinations() {
    return captureLocalDestinations;
  }

  /** Returns the source networks that are never captured. */
  public List<IpNetwork> excludedSources() {
    return excludedSources;
  }

  /** Returns the destination networks that are never captured. */
  public List<IpNetwork> excludedDestinations() {
    return excludedDestinations;
  }

  /** Returns the input interfaces whose traffic is never captured (gateway capture). */
  public List<String> excludedInputInterfaces() {
    return excludedInputInterfaces;
  }

  /** Returns the output interfaces whose traffic is never captured (local capture). */
  public List<String> excludedOutputInterfaces() {
    return excludedOutputInterfaces;
  }

  /** Returns the mark of conduit's own outbound sockets; packets with it are never captured. */
  public int bypassMark() {
    return bypassMark;
  }

  /** Returns the mask applied before comparing with {@link #bypassMark()}. */
  public int bypassMask() {
    return bypassMask;
  }

  /** Returns whether connections made on this host are captured (OUTPUT). */
  public boolean localCapture() {
    return localCapture;
  }

  /** Returns whether connections routed through this host are captured (PREROUTING). */
  public boolean gatewayCapture() {
    return gatewayCapture;
  }

  /** Returns the interfaces gateway capture applies to ({@code +} suffix = prefix); empty = all. */
  public List<String> gatewayInterfaces() {
    return gatewayInterfaces;
  }

  /** Returns the TPROXY mark (TPROXY mode): packets with it are routed to the local table. */
  public int tproxyMark() {
    return tproxyMark;
  }

  /** Returns the mask of the TPROXY mark. */
  public int tproxyMask() {
    return tproxyMask;
  }

  /** Returns the policy routing table number (TPROXY mode). */
  public int routingTable() {
    return routingTable;
  }

  /** Returns the priority of the {@code ip rule} that sends marked packets to the table. */
  public int routingRulePriority() {
    return routingRulePriority;
  }

  /** Returns whether established flows of a transparent socket are diverted with {@code -m socket --transparent}. */
  public boolean divertEstablished() {
    return divertEstablished;
  }

  /** Returns a one-line description of the plan. */
  @Override
  public String toString() {
    StringBuilder s = new StringBuilder("CapturePlan{prefix=").append(prefix)
        .append(", mode=").append(mode)
        .append(", families=").append(families)
        .append(", targetPort=").append(targetPort);
    if (dnatAddress4 != null || dnatAddress6 != null) {
      s.append(", dnat=").append(dnatAddress4).append('/').append(dnatAddress6);
    }
    if (captureAllTcp) {
      s.append(", captureAllTcp");
    }
    if (captureUdp) {
      s.append(", udp");
    }
    if (captureLocalDestinations) {
      s.append(", localDestinations");
    }
    s.append(", addresses=").append(destinationAddresses.size())
        .append(", networks=").append(destinationNetworks.size())
        .append(", endpoints=").append(destinationEndpoints.size())
        .append(", ports=").append(destinationPorts)
        .append(", local=").append(localCapture)
        .append(", gateway=").append(gatewayCapture).append(gatewayInterfaces)
        .append(", bypassMark=").append(hex(bypassMark)).append('/').append(hex(bypassMask));
    if (mode == CaptureMode.TPROXY) {
      s.append(", tproxyMark=").append(hex(tproxyMark)).append('/').append(hex(tproxyMask))
          .append(", table=").append(routingTable)
          .append(", priority=").append(routingRulePriority);
    }
    return s.append('}').toString();
  }

  static String hex(int value) {
    return "0x" + Integer.toHexString(value);
  }

  /** Builds a {@link CapturePlan}; every method validates its argument immediately. */
  public static final class Builder extends CaptureMarks<Builder> {
    private String prefix = "CONDUIT";
    private CaptureMode mode = CaptureMode.REDIRECT;
    private Set<IpFamily> families = EnumSet.allOf(IpFamily.class);
    private int targetPort = -1;
    private Inet4Address dnatAddress4;
    private Inet6Address dnatAddress6;
    private boolean localCapture = true;
    private boolean gatewayCapture;
    private final Set<String> gatewayInterfaces = new LinkedHashSet<>();

    private Builder() {}

    @Override
    Builder self() {
      return this;
    }

    /**
     * Sets the instance prefix (default {@code CONDUIT}).
     *
     * @param prefix {@code [A-Z][A-Z0-9_]*}, at most 16 characters
     * @return this builder
     */
    public Builder prefix(String prefix) {
      this.prefix = validatePrefix(prefix);
      return this;
    }

    /**
     * Sets the capture mode (default {@link CaptureMode#REDIRECT}).
     *
     * @param mode the mode
     * @return this builder
     */
    public Builder mode(CaptureMode mode) {
      this.mode = requireNonNull(mode, "mode");
      return this;
    }

    /**
     * Sets the families covered (default both).
     *
     * @param families one or both families
     * @return this builder
     */
    public Builder families(IpFamily... families) {
      requireNonNull(families, "families");
      if (families.length == 0) {
        throw new IllegalArgumentException("families: [] (expected: IPV4, IPV6 or both)");
      }
      EnumSet<IpFamily> set = EnumSet.noneOf(IpFamily.class);
      for (IpFamily f : families) {
        set.add(requireNonNull(f, "family"));
      }
      this.families = set;
      return this;
    }

    /**
     * Sets the port of the transparent listener (required).
     *
     * @param port 1-65535
     * @return this builder
     */
    public Builder targetPort(int port) {
      this.targetPort = PortRange.of(port).first();
      return this;
    }

    /**
     * DNATs captured connections of the address's family to this address instead of REDIRECTing them
     * (REDIRECT mode only), e.g. {@code 127.0.0.1} for a listener bound to loopback. Gateway capture to
     * {@code 127.0.0.0/8} needs {@code net.ipv4.conf.all.route_localnet=1}; IPv6 cannot DNAT gateway
     * traffic to {@code ::1}.
     *
     * @param address an IPv4 or IPv6 address
     * @return this builder
     */
    public Builder dnatAddress(InetAddress address) {
      requireNonNull(address, "address");
      if (address instanceof Inet4Address) {
        dnatAddress4 = (Inet4Address) address;
      } else {
        dnatAddress6 = (Inet6Address) address;
      }
      return this;
    }

    /**
     * Captures connections made on this host (OUTPUT; default on).
     *
     * @param enabled whether to capture local connections
     * @return this builder
     */
    public Builder localCapture(boolean enabled) {
      localCapture = enabled;
      return this;
    }

    /**
     * Captures connections routed through this host (PREROUTING; default off).
     *
     * @param enabled whether to capture gateway connections
     * @return this builder
     */
    public Builder gatewayCapture(boolean enabled) {
      gatewayCapture = enabled;
      return this;
    }

    /**
     * Limits gateway capture to these interfaces (default: all but {@code lo}); enables gateway
     * capture.
     *
     * @param names interface names, {@code +} suffix matches a prefix
     * @return this builder
     */
    public Builder gatewayInterfaces(String... names) {
      requireNonNull(names, "names");
      for (String name : names) {
        gatewayInterfaces.add(checkInterface(name));
      }
      gatewayCapture = true;
      return this;
    }

    /**
     * Validates and builds the plan.
     *
     * @return the plan
     * @throws IllegalArgumentException when the plan is incomplete or inconsistent
     */
    public CapturePlan build() {
      if (targetPort < 0) {
        throw new IllegalArgumentException("targetPort: not set (expected: 1-65535)");
      }
      if (!localCapture && !gatewayCapture) {
        throw new IllegalArgumentException(
            "hooks: neither local nor gateway capture is enabled (expected: at least one)");
      }
      checkSelection(families);
      if (captureUdp && mode != CaptureMode.TPROXY) {
        throw new IllegalArgumentException("captureUdp: only for TPROXY mode (REDIRECT cannot tell"
            + " a UDP listener the original destination)");
      }
      if (mode == CaptureMode.TPROXY) {
        if (dnatAddress4 != null || dnatAddress6 != null) {
          throw new IllegalArgumentException("dnatAddress: only for REDIRECT mode (TPROXY does not"
              + " rewrite the destination)");
        }
        if ((bypassMark & tproxyMask) == tproxyMark) {
          throw new IllegalArgumentException("bypassMark: " + hex(bypassMark) + " contains the"
              + " TPROXY mark " + hex(tproxyMark) + "/" + hex(tproxyMask)
              + " (expected: disjoint bits, or conduit's own traffic would be routed to itself)");
        }
      }
      if (dnatAddress6 != null && gatewayCapture && dnatAddress6.isLoopbackAddress()) {
        throw new IllegalArgumentException("dnatAddress: " + dnatAddress6.getHostAddress()
            + " cannot receive gateway traffic (IPv6 has no route_localnet); bind the listener to a"
            + " routable address or use REDIRECT without dnatAddress");
      }
      return new CapturePlan(this);
    }
  }
}
