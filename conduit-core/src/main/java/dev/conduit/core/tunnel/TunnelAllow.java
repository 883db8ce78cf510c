package dev.conduit.core.tunnel;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.net.PortRange;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Rule;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * What a peer may reach through a {@link MeshPlan}'s tunnel server: destinations in the listed networks or with the
 * listed names, on the listed ports (any port when none is listed), for one peer identity or for every peer.
 *
 * <pre>{@code
 * TunnelAllow allow = TunnelAllow.builder().principal("spiffe://mesh/a").cidr("127.0.0.1/32")
 *     .ports(PortRange.parse("3306")).build();
 * }</pre>
 */
public final class TunnelAllow {
  private final @Nullable String principal;
  private final List<String> cidrs;
  private final List<String> domains;
  private final List<String> domainSuffixes;
  private final List<PortRange> ports;

  private TunnelAllow(Builder b) {
    this.principal = b.principal;
    this.cidrs = List.copyOf(b.cidrs);
    this.domains = List.copyOf(b.domains);
    this.domainSuffixes = List.copyOf(b.domainSuffixes);
    this.ports = List.copyOf(b.ports);
  }

  /** Returns a builder; it allows nothing until a network or name is added. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * The peer identity this applies to (the client certificate's first URI SAN, else first DNS SAN, else CN); empty
   * for every peer (and, on a plain TCP server, anyone).
   */
  public Optional<String> principal() {
    return Optional.ofNullable(principal);
  }

  /** Destination networks ({@code 10.0.0.0/8}, {@code fd00::/8}, an address). */
  public List<String> cidrs() {
    return cidrs;
  }

  /** Exact destination names. */
  public List<String> domains() {
    return domains;
  }

  /** Destination domains, each with its subdomains. */
  public List<String> domainSuffixes() {
    return domainSuffixes;
  }

  /** Destination ports; empty for any port. */
  public List<PortRange> ports() {
    return ports;
  }

  /** Adds this entry's conditions to a rule. */
  void applyTo(Rule.Builder rule) {
    if (principal != null) {
      rule.principal(principal);
    }
    cidrs.forEach(rule::destinationCidr);
    domains.forEach(rule::domain);
    domainSuffixes.forEach(rule::domainSuffix);
    ports.forEach(p -> rule.portRange(p.first(), p.last()));
  }

  @Override
  public String toString() {
    return "TunnelAllow[" + (principal == null ? "*" : principal) + " cidrs=" + cidrs + " domains=" + domains
        + " suffixes=" + domainSuffixes + " ports=" + ports + "]";
  }

  /** Builds a {@link TunnelAllow}. */
  public static final class Builder {
    private @Nullable String principal;
    private final List<String> cidrs = new ArrayList<>();
    private final List<String> domains = new ArrayList<>();
    private final List<String> domainSuffixes = new ArrayList<>();
    private final List<PortRange> ports = new ArrayList<>();

    private Builder() {}

    /** Applies to this peer identity only (default: every peer). */
    public Builder principal(String identity) {
      this.principal = requireNonNull(identity, "identity");
      return this;
    }

    /** Adds a destination network ({@code 10.0.0.0/8}) or address. */
    public Builder cidr(String cidr) {
      cidrs.add(requireNonNull(cidr, "cidr"));
      return this;
    }

    /** Adds an exact destination name. */
    public Builder domain(String name) {
      domains.add(requireNonNull(name, "name"));
      return this;
    }

    /** Adds a destination domain with its subdomains. */
    public Builder domainSuffix(String domain) {
      domainSuffixes.add(requireNonNull(domain, "domain"));
      return this;
    }

    /** Adds destination ports (default: any port). */
    public Builder ports(PortRange range) {
      ports.add(requireNonNull(range, "range"));
      return this;
    }

    /**
     * Builds the entry.
     *
     * @throws IllegalArgumentException without a network or name, or naming a malformed one
     */
    public TunnelAllow build() {
      if (cidrs.isEmpty() && domains.isEmpty() && domainSuffixes.isEmpty()) {
        throw new IllegalArgumentException("allow: no cidrs and no domains (expected: at least one; "
            + "write cidrs [0.0.0.0/0, ::/0] to allow every address explicitly)");
      }
      TunnelAllow allow = new TunnelAllow(this);
      Rule.Builder check = Rule.builder("check").decision(RouteDecision.direct());
      allow.applyTo(check); // the rule's own parsing: malformed networks and names fail here, not at start-up
      check.build();
      return allow;
    }
  }
}
