package dev.conduit.netfilter;

import static java.util.Objects.requireNonNull;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The half of {@link CapturePlan.Builder} that says which traffic is captured and which never is
 * (destinations, ports, exclusions); the plan's mode, hooks, marks and routing are set on the builder
 * itself.
 *
 * @param <B> the builder type returned by every setter
 */
abstract class CaptureSelection<B extends CaptureSelection<B>> {

  private static final Pattern INTERFACE = Pattern.compile("[A-Za-z0-9_.:@-]{1,15}\\+?");

  final Set<InetAddress> destinationAddresses = new LinkedHashSet<>();
  final Set<IpNetwork> destinationNetworks = new LinkedHashSet<>();
  final Set<InetSocketAddress> destinationEndpoints = new LinkedHashSet<>();
  final Set<PortRange> destinationPorts = new LinkedHashSet<>();
  boolean captureAllTcp;
  boolean captureLocalDestinations;
  boolean captureUdp;
  final Set<IpNetwork> excludedSources = new LinkedHashSet<>();
  final Set<IpNetwork> excludedDestinations = new LinkedHashSet<>();
  final Set<String> excludedInputInterfaces = new LinkedHashSet<>();
  final Set<String> excludedOutputInterfaces = new LinkedHashSet<>();

  CaptureSelection() {}

  /** Returns this builder as its own type. */
  abstract B self();


  /**
   * Captures connections to an address (any port).
   *
   * @param address an IP literal, e.g. {@code 198.18.0.2} or {@code fd00::2}
   * @return this builder
   */
  public final B captureAddress(String address) {
    return captureAddress(Addresses.parse(requireNonNull(address, "address")));
  }

  /**
   * Captures connections to an address (any port).
   *
   * @param address the address
   * @return this builder
   */
  public final B captureAddress(InetAddress address) {
    destinationAddresses.add(requireNonNull(address, "address"));
    return self();
  }

  /**
   * Captures connections to a network (any port).
   *
   * @param cidr e.g. {@code 198.18.0.0/24}
   * @return this builder
   */
  public final B captureNetwork(String cidr) {
    return captureNetwork(IpNetwork.parse(cidr));
  }

  /**
   * Captures connections to a network (any port).
   *
   * @param network the network
   * @return this builder
   */
  public final B captureNetwork(IpNetwork network) {
    destinationNetworks.add(requireNonNull(network, "network"));
    return self();
  }

  /**
   * Captures connections to one address and port.
   *
   * @param endpoint {@code 198.18.0.2:80} or {@code [fd00::2]:80}
   * @return this builder
   */
  public final B captureEndpoint(String endpoint) {
    requireNonNull(endpoint, "endpoint");
    int colon = endpoint.lastIndexOf(':');
    if (colon <= 0 || (endpoint.indexOf(':') != colon && !endpoint.startsWith("["))) {
      throw new IllegalArgumentException(
          "endpoint: " + endpoint + " (expected: ip:port or [ipv6]:port)");
    }
    int port;
    try {
      port = Integer.parseInt(endpoint.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "endpoint: " + endpoint + " (expected: ip:port or [ipv6]:port)", e);
    }
    return captureEndpoint(Addresses.parse(endpoint.substring(0, colon)), port);
  }

  /**
   * Captures connections to one address and port.
   *
   * @param address the address
   * @param port 1-65535
   * @return this builder
   */
  public final B captureEndpoint(InetAddress address, int port) {
    requireNonNull(address, "address");
    destinationEndpoints.add(new InetSocketAddress(address, PortRange.of(port).first()));
    return self();
  }

  /**
   * Captures connections to a port on any address.
   *
   * @param port 1-65535
   * @return this builder
   */
  public final B capturePort(int port) {
    destinationPorts.add(PortRange.of(port));
    return self();
  }

  /**
   * Captures connections to a port range on any address.
   *
   * @param range the ports
   * @return this builder
   */
  public final B capturePorts(PortRange range) {
    destinationPorts.add(requireNonNull(range, "range"));
    return self();
  }

  /**
   * Captures every TCP connection that is not excluded (as Istio's sidecar does).
   *
   * @return this builder
   */
  public final B captureAllTcp() {
    captureAllTcp = true;
    return self();
  }

  /**
   * Never captures connections from this source network.
   *
   * @param cidr e.g. {@code 198.18.5.0/24}
   * @return this builder
   */
  public final B excludeSource(String cidr) {
    excludedSources.add(IpNetwork.parse(cidr));
    return self();
  }

  /**
   * Never captures connections to this destination network (wins over every match).
   *
   * @param cidr e.g. {@code 198.18.0.9/32}
   * @return this builder
   */
  public final B excludeDestination(String cidr) {
    excludedDestinations.add(IpNetwork.parse(cidr));
    return self();
  }

  /**
   * Never captures gateway traffic arriving on this interface.
   *
   * @param name an interface name, {@code +} suffix matches a prefix (e.g. {@code docker+})
   * @return this builder
   */
  public final B excludeInputInterface(String name) {
    excludedInputInterfaces.add(checkInterface(name));
    return self();
  }

  /**
   * Never captures local traffic leaving through this interface.
   *
   * @param name an interface name, {@code +} suffix matches a prefix (e.g. {@code br+})
   * @return this builder
   */
  public final B excludeOutputInterface(String name) {
    excludedOutputInterfaces.add(checkInterface(name));
    return self();
  }

  /**
   * Captures UDP too, by the same matches as TCP (TPROXY mode only; the listener needs a transparent
   * UDP socket on the target port, see {@code TransparentUdpRelay}). Default off.
   *
   * @param enabled whether UDP is captured
   * @return this builder
   */
  public final B captureUdp(boolean enabled) {
    captureUdp = enabled;
    return self();
  }

  /**
   * Also captures connections to this host's own addresses when they fall in a captured network,
   * port or {@link #captureAllTcp()} (default off: a capture network that contains the host's
   * addresses leaves connections to the host itself alone). Addresses and endpoints named with
   * {@link #captureAddress} or {@link #captureEndpoint} are captured either way.
   *
   * @param enabled whether connections to local addresses are captured too
   * @return this builder
   */
  public final B captureLocalDestinations(boolean enabled) {
    captureLocalDestinations = enabled;
    return self();
  }

  static String checkInterface(String name) {
    requireNonNull(name, "name");
    if (!INTERFACE.matcher(name).matches()) {
      throw new IllegalArgumentException("interface: " + name
          + " (expected: up to 15 of [A-Za-z0-9_.:@-], optionally ending in +)");
    }
    return name;
  }

  /** Checks that something is captured and that every address is of a covered family. */
  void checkSelection(Set<IpFamily> families) {
    if (!captureAllTcp && destinationAddresses.isEmpty() && destinationNetworks.isEmpty()
        && destinationEndpoints.isEmpty() && destinationPorts.isEmpty()) {
      throw new IllegalArgumentException("capture: nothing to capture (expected: an address,"
          + " network, endpoint or port, or captureAllTcp())");
    }
    for (InetAddress a : destinationAddresses) {
      checkFamily(families, "captureAddress", a.getHostAddress(), family(a));
    }
    for (IpNetwork n : destinationNetworks) {
      checkFamily(families, "captureNetwork", n.toString(), n.family());
    }
    for (InetSocketAddress e : destinationEndpoints) {
      checkFamily(families, "captureEndpoint", e.toString(), family(e.getAddress()));
    }
    for (IpNetwork n : excludedSources) {
      checkFamily(families, "excludeSource", n.toString(), n.family());
    }
    for (IpNetwork n : excludedDestinations) {
      checkFamily(families, "excludeDestination", n.toString(), n.family());
    }
  }

  private static void checkFamily(Set<IpFamily> families, String what, String value, IpFamily family) {
    if (!families.contains(family)) {
      throw new IllegalArgumentException(what + ": " + value + " is " + family
          + " but the plan covers only " + families);
    }
  }

  private static IpFamily family(InetAddress address) {
    return address instanceof Inet4Address ? IpFamily.IPV4 : IpFamily.IPV6;
  }
}
