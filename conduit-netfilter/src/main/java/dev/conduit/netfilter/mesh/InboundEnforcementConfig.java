package dev.conduit.netfilter.mesh;

import static java.util.Objects.requireNonNull;

import dev.conduit.netfilter.IpNetwork;
import dev.conduit.netfilter.PortRange;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What {@link InboundEnforcement} enforces on a mesh server host: the local TCP ports that accept only connections
 * delivered by the host itself (loopback: the local conduit tunnel server dials them there), plus optional source
 * networks let through in clear (e.g. a management network), in its own nftables table.
 *
 * <pre>{@code
 * InboundEnforcementConfig config = InboundEnforcementConfig.builder()
 *     .port(PortRange.of(3306)).port(PortRange.parse("6379"))
 *     .build();
 * }</pre>
 */
public final class InboundEnforcementConfig {

  /** The default table name. */
  public static final String DEFAULT_TABLE = "conduit_enforce";

  private static final Pattern TABLE = Pattern.compile("[A-Za-z][A-Za-z0-9_]{0,31}");

  private final String table;
  private final List<PortRange> ports;
  private final List<IpNetwork> allowedSources;

  private InboundEnforcementConfig(Builder b) {
    this.table = b.table;
    this.ports = List.copyOf(b.ports);
    this.allowedSources = List.copyOf(b.allowedSources);
  }

  /** Returns a builder. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns the nftables table ({@code inet}, IPv4 and IPv6) the rules live in. */
  public String table() {
    return table;
  }

  /** Returns the enforced TCP ports. */
  public List<PortRange> ports() {
    return ports;
  }

  /** Returns the source networks that may still reach the enforced ports directly. */
  public List<IpNetwork> allowedSources() {
    return allowedSources;
  }

  @Override
  public String toString() {
    return "InboundEnforcementConfig{table " + table + ", ports " + ports + ", allowed sources " + allowedSources + "}";
  }

  /** Builds an {@link InboundEnforcementConfig}. */
  public static final class Builder {
    private String table = DEFAULT_TABLE;
    private final List<PortRange> ports = new ArrayList<>();
    private final List<IpNetwork> allowedSources = new ArrayList<>();

    private Builder() {}

    /**
     * Sets the table name (default {@value InboundEnforcementConfig#DEFAULT_TABLE}).
     *
     * @param name letters, digits and underscores, starting with a letter, at most 32
     * @return this builder
     */
    public Builder table(String name) {
      requireNonNull(name, "table");
      if (!TABLE.matcher(name).matches()) {
        throw new IllegalArgumentException("table: " + name + " (expected: a letter, then letters, digits or _, "
            + "at most 32)");
      }
      this.table = name;
      return this;
    }

    /**
     * Enforces a port or port range.
     *
     * @param range the ports
     * @return this builder
     */
    public Builder port(PortRange range) {
      ports.add(requireNonNull(range, "range"));
      return this;
    }

    /**
     * Lets a source network reach the enforced ports directly (outside the mesh, in clear).
     *
     * @param network the network
     * @return this builder
     */
    public Builder allowSource(IpNetwork network) {
      allowedSources.add(requireNonNull(network, "network"));
      return this;
    }

    /**
     * Builds the config.
     *
     * @return the config
     * @throws IllegalStateException when no port is given
     */
    public InboundEnforcementConfig build() {
      if (ports.isEmpty()) {
        throw new IllegalStateException("enforce: no port (expected: at least one port to accept only through the "
            + "mesh)");
      }
      return new InboundEnforcementConfig(this);
    }
  }
}
