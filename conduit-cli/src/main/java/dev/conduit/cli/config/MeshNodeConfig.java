package dev.conduit.cli.config;

import static dev.conduit.cli.config.ConduitConfig.list;
import static dev.conduit.cli.config.ConduitConfig.quote;
import static java.util.Objects.requireNonNull;

import dev.conduit.core.runtime.SectionKey;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Seed 000's {@code manager} section of a host's {@code conduit.yaml} (mesh mode: the host's conduit is a member
 * of the mesh the manager runs), with conduit's own keys.
 *
 * <pre>{@code
 * manager:
 *   enable: true
 *   dial:
 *     network: tcp
 *     addresses: [172.168.0.17:5051]   # the manager's API; tried in order
 *   # conduit's keys, all optional:
 *   name: host-a                       # default: the host name
 *   token_file: /etc/conduit/join-token   # or token: ID.SECRET, or env CONDUIT_JOIN_TOKEN; none: wait for approval
 *   ca_pin: sha256:...                 # default: trust on first use, pinned in state_dir
 *   state_dir: /var/lib/conduit/mesh
 *   push: [172.168.0.17:5052]          # default: each dial address's port + 1
 *   addresses: [172.168.0.11, fd00::11]   # default: the host's interfaces', re-checked
 * }</pre>
 *
 * @param enable YAML {@code enable}
 * @param network YAML {@code dial.network}: {@code tcp}
 * @param dial YAML {@code dial.addresses}: the managers' {@code host:port}
 * @param name YAML {@code name}: the node's name
 * @param token YAML {@code token}: a join token
 * @param tokenFile YAML {@code token_file}: a file holding the join token
 * @param caPin YAML {@code ca_pin}: the manager CA's fingerprint
 * @param stateDirectory YAML {@code state_dir}: key, certificates, CA pin and last membership
 * @param push YAML {@code push}: the managers' push channel {@code host:port}
 * @param addresses YAML {@code addresses}: the host addresses to report
 */
public record MeshNodeConfig(boolean enable, String network, List<String> dial, Optional<String> name,
    Optional<String> token, Optional<String> tokenFile, Optional<String> caPin, String stateDirectory,
    List<String> push, List<String> addresses) implements YamlSection {

  /** The section's key. */
  public static final SectionKey<MeshNodeConfig> SECTION = SectionKey.of("manager", MeshNodeConfig.class);
  /** The default state directory. */
  public static final String DEFAULT_STATE_DIRECTORY = "/var/lib/conduit/mesh";
  /** The environment variable a join token is read from when the file names none. */
  public static final String TOKEN_ENV = "CONDUIT_JOIN_TOKEN";

  private static final List<String> KEYS = List.of("enable", "dial", "name", "token", "token_file", "ca_pin",
      "state_dir", "push", "addresses");
  private static final List<String> DIAL_KEYS = List.of("network", "addresses");

  /** Checks and copies the components. */
  public MeshNodeConfig {
    requireNonNull(network, "network");
    dial = List.copyOf(dial);
    requireNonNull(name, "name");
    requireNonNull(token, "token");
    requireNonNull(tokenFile, "tokenFile");
    requireNonNull(caPin, "caPin");
    requireNonNull(stateDirectory, "stateDirectory");
    push = List.copyOf(push);
    addresses = List.copyOf(addresses);
  }

  /** Reads the section. */
  static ConfigSection section() {
    return ConfigSection.typed(SECTION, (node, config) -> read(node));
  }

  static MeshNodeConfig read(ConfigNode node) {
    Map<String, ConfigNode> m = node.mapping(KEYS);
    boolean enable = m.containsKey("enable") && !m.get("enable").isNull() && m.get("enable").bool();
    String network = "tcp";
    List<String> dial = List.of();
    if (m.containsKey("dial") && !m.get("dial").isNull()) {
      Map<String, ConfigNode> d = m.get("dial").mapping(DIAL_KEYS);
      if (d.containsKey("network") && !d.get("network").isNull()) {
        network = d.get("network").string();
        if (!List.of("tcp", "tcp4", "tcp6").contains(network)) {
          throw d.get("network").error(network + " (expected: tcp)");
        }
      }
      if (d.containsKey("addresses") && !d.get("addresses").isNull()) {
        ConfigNode a = d.get("addresses");
        dial = a.strings();
        for (String s : dial) {
          a.convert(() -> dev.conduit.core.Destination.parse(s, -1));
        }
      }
    }
    if (enable && dial.isEmpty()) {
      throw (m.containsKey("dial") ? m.get("dial") : node).error("dial.addresses: empty (expected: the manager's "
          + "HOST:PORT, e.g. [172.168.0.17:5051])");
    }
    Optional<String> name = optional(m, "name");
    name.ifPresent(n -> m.get("name").convert(() -> dev.conduit.core.control.enrol.MeshIdentity.checkName(n)));
    Optional<String> pin = optional(m, "ca_pin");
    pin.ifPresent(p -> m.get("ca_pin").convert(() -> dev.conduit.core.control.enrol.CaPin.parse(p)));
    List<String> push = strings(m, "push");
    for (String p : push) {
      m.get("push").convert(() -> dev.conduit.core.Destination.parse(p, -1));
    }
    List<String> addresses = strings(m, "addresses");
    for (String a : addresses) {
      if (!io.netty.util.NetUtil.isValidIpV4Address(a) && !io.netty.util.NetUtil.isValidIpV6Address(a)) {
        throw m.get("addresses").error(a + " (expected: IP addresses)");
      }
    }
    return new MeshNodeConfig(enable, network, dial, name, optional(m, "token"), optional(m, "token_file"), pin,
        optional(m, "state_dir").orElse(DEFAULT_STATE_DIRECTORY), push, addresses);
  }

  private static Optional<String> optional(Map<String, ConfigNode> m, String key) {
    ConfigNode n = m.get(key);
    return n == null || n.isNull() ? Optional.empty() : Optional.of(n.string());
  }

  private static List<String> strings(Map<String, ConfigNode> m, String key) {
    ConfigNode n = m.get(key);
    return n == null || n.isNull() ? List.of() : n.strings();
  }

  @Override
  public void describeTo(StringBuilder s) {
    s.append("manager:\n  enable: ").append(enable).append('\n');
    s.append("  dial:\n    network: ").append(network).append('\n');
    list(s, "    ", "addresses", dial);
    name.ifPresent(n -> s.append("  name: ").append(quote(n)).append('\n'));
    token.ifPresent(t -> s.append("  token: \"****\"\n"));
    tokenFile.ifPresent(f -> s.append("  token_file: ").append(quote(f)).append('\n'));
    caPin.ifPresent(p -> s.append("  ca_pin: ").append(quote(p)).append('\n'));
    s.append("  state_dir: ").append(quote(stateDirectory)).append('\n');
    if (!push.isEmpty()) {
      list(s, "  ", "push", push);
    }
    if (!addresses.isEmpty()) {
      list(s, "  ", "addresses", addresses);
    }
  }

  /** Describes the section with the token masked. */
  @Override
  public String toString() {
    return "MeshNodeConfig{enable=" + enable + ", dial=" + dial + ", name=" + name + ", token="
        + (token.isPresent() ? "****" : "none") + ", stateDirectory=" + stateDirectory + "}";
  }
}
