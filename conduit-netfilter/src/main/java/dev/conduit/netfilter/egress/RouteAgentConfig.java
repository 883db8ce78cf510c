package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.net.AddressClassifier;
import dev.conduit.core.net.IpAddress;
import dev.conduit.core.net.IpPrefix;
import dev.conduit.core.net.IpPrefixSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What a route agent routes via an egress gateway: every public prefix ({@link
 * AddressClassifier#routedPublicPrefixes()}) of each family that has a gateway, plus any extra
 * prefixes. Immutable; built with {@link #builder()}.
 */
public final class RouteAgentConfig {

  /** The default route protocol number that marks conduit's routes ({@code ip route show proto 193}). */
  public static final int DEFAULT_PROTOCOL = 193;

  private final Optional<IpAddress> gateway4;
  private final Optional<IpAddress> gateway6;
  private final List<IpPrefix> extraPrefixes;
  private final int protocol;
  private final Optional<String> device;
  private final Duration checkInterval;

  private RouteAgentConfig(Builder b) {
    this.gateway4 = b.gateway4;
    this.gateway6 = b.gateway6;
    this.extraPrefixes = List.copyOf(b.extraPrefixes);
    this.protocol = b.protocol;
    this.device = b.device;
    this.checkInterval = b.checkInterval;
    if (gateway4.isEmpty() && gateway6.isEmpty()) {
      throw new IllegalArgumentException("gateway: none (expected: an IPv4 and/or IPv6 gateway address)");
    }
    for (IpPrefix p : extraPrefixes) {
      if ((p.isIpv4() ? gateway4 : gateway6).isEmpty()) {
        throw new IllegalArgumentException("prefix: " + p + " (expected: a prefix of a family with a gateway)");
      }
    }
  }

  /** Returns a builder: protocol {@value #DEFAULT_PROTOCOL}, checks every 10 seconds. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns the IPv4 gateway, if IPv4 is routed. */
  public Optional<IpAddress> gateway4() {
    return gateway4;
  }

  /** Returns the IPv6 gateway, if IPv6 is routed. */
  public Optional<IpAddress> gateway6() {
    return gateway6;
  }

  /** Returns the prefixes routed beside the public ones. */
  public List<IpPrefix> extraPrefixes() {
    return extraPrefixes;
  }

  /** Returns the route protocol number that marks the agent's routes. */
  public int protocol() {
    return protocol;
  }

  /** Returns the device the routes go through, if set (otherwise the kernel picks the gateway's). */
  public Optional<String> device() {
    return device;
  }

  /** Returns how often the agent checks that its routes are still there. */
  public Duration checkInterval() {
    return checkInterval;
  }

  /**
   * Returns the prefixes routed via the gateway of a family, in address order.
   *
   * @param ipv4 the family
   * @return the prefixes; empty when the family has no gateway
   */
  public List<IpPrefix> prefixes(boolean ipv4) {
    if ((ipv4 ? gateway4 : gateway6).isEmpty()) {
      return List.of();
    }
    IpPrefixSet all = AddressClassifier.routedPublicPrefixes().union(IpPrefixSet.of(extraPrefixes));
    return (ipv4 ? all.ipv4() : all.ipv6()).prefixes();
  }

  @Override
  public String toString() {
    return "RouteAgentConfig[gateway4=" + gateway4.map(IpAddress::toString).orElse("none") + ", gateway6="
        + gateway6.map(IpAddress::toString).orElse("none") + ", extra=" + extraPrefixes + ", protocol="
        + protocol + ", device=" + device.orElse("auto") + ", checkInterval=" + checkInterval + "]";
  }

  /** Builds a {@link RouteAgentConfig}. */
  public static final class Builder {
    private Optional<IpAddress> gateway4 = Optional.empty();
    private Optional<IpAddress> gateway6 = Optional.empty();
    private final List<IpPrefix> extraPrefixes = new ArrayList<>();
    private int protocol = DEFAULT_PROTOCOL;
    private Optional<String> device = Optional.empty();
    private Duration checkInterval = Duration.ofSeconds(10);

    private Builder() {}

    /**
     * Sets the gateway of the address's family.
     *
     * @param address e.g. {@code 10.0.0.1} or {@code fd00::1}
     * @return this builder
     */
    public Builder gateway(String address) {
      IpAddress a = IpAddress.parse(requireNonNull(address, "address"));
      if (a.isIpv4()) {
        gateway4 = Optional.of(a);
      } else {
        gateway6 = Optional.of(a);
      }
      return this;
    }

    /**
     * Routes a prefix via the gateway too (say, a lab network or an address range outside the public
     * space).
     *
     * @param cidr e.g. {@code 198.18.2.0/24}
     * @return this builder
     */
    public Builder extraPrefix(String cidr) {
      extraPrefixes.add(IpPrefix.parse(requireNonNull(cidr, "cidr")));
      return this;
    }

    /**
     * The route protocol number that marks the agent's routes.
     *
     * @param value 5-254 (0-4 belong to the kernel and the boot protocols, 255 is reserved)
     * @return this builder
     */
    public Builder protocol(int value) {
      if (value < 5 || value > 254) {
        throw new IllegalArgumentException("protocol: " + value + " (expected: 5-254)");
      }
      this.protocol = value;
      return this;
    }

    /**
     * The device the routes go through.
     *
     * @param value the interface name
     * @return this builder
     */
    public Builder device(String value) {
      requireNonNull(value, "device");
      if (!value.matches("[A-Za-z0-9_.:@-]{1,15}")) {
        throw new IllegalArgumentException("device: " + value + " (expected: an interface name)");
      }
      this.device = Optional.of(value);
      return this;
    }

    /**
     * How often the agent checks its routes (and restores missing ones).
     *
     * @param value 100 ms or more
     * @return this builder
     */
    public Builder checkInterval(Duration value) {
      requireNonNull(value, "checkInterval");
      if (value.toMillis() < 100) {
        throw new IllegalArgumentException("checkInterval: " + value + " (expected: 100 ms or more)");
      }
      this.checkInterval = value;
      return this;
    }

    /** Returns the config. */
    public RouteAgentConfig build() {
      return new RouteAgentConfig(this);
    }
  }
}
