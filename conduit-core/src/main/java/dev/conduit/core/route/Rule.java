package dev.conduit.core.route;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.Destination;
import dev.conduit.core.internal.route.CidrSet;
import dev.conduit.core.internal.route.DomainSet;
import java.net.InetAddress;
import java.util.BitSet;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * A named routing rule: conditions and the decision taken when they all hold.
 *
 * <p>Conditions of different kinds must all hold; values of one kind are alternatives. The
 * destination conditions (CIDRs, exact domains and domain suffixes) form one kind: a destination
 * matches when its IP literal is in a CIDR or its name (or the host sniffed from the payload in
 * transparent mode) is one of the domains. Names are not resolved for CIDR matching, so a CIDR
 * rule matches IP destinations only. A rule without conditions matches everything.
 *
 * <pre>{@code
 * Rule corp = Rule.builder("corp")
 *     .domainSuffix("corp.example.com")
 *     .destinationCidr("10.0.0.0/8")
 *     .port(443).portRange(8000, 8099)
 *     .decision(RouteDecision.via("corp-proxy"))
 *     .build();
 * }</pre>
 */
public final class Rule {

  private final String name;
  private final CidrSet destinationCidrs;
  private final DomainSet domains;
  private final boolean hasDestination;
  private final BitSet ports;
  private final CidrSet sourceCidrs;
  private final Set<String> listeners;
  private final Set<String> principals;
  private final RouteDecision decision;

  private Rule(Builder b) {
    this.name = b.name;
    this.destinationCidrs = b.destinationCidrs.build();
    this.domains = b.domains.build();
    this.hasDestination = !destinationCidrs.isEmpty() || !domains.isEmpty();
    this.ports = b.ports.isEmpty() ? null : (BitSet) b.ports.clone();
    this.sourceCidrs = b.sourceCidrs.build();
    this.listeners = Set.copyOf(b.listeners);
    this.principals = Set.copyOf(b.principals);
    this.decision = requireNonNull(b.decision, "decision");
  }

  /** A builder for a rule with this name (used in logs, metrics and access logs). */
  public static Builder builder(String name) {
    return new Builder(name);
  }

  /** The rule's name. */
  public String name() {
    return name;
  }

  /** The decision taken when the rule matches. */
  public RouteDecision decision() {
    return decision;
  }
  /** The listeners the rule is scoped to; empty: every listener. */
  public java.util.Set<String> listeners() {
    return listeners;
  }


  /** Whether every condition holds for the request. */
  public boolean matches(ConnectRequest request) {
    return matches(Subject.of(request));
  }

  /** Matches a request whose addresses and names were parsed once for all rules (see {@link Router}). */
  boolean matches(Subject s) {
    if (ports != null && !ports.get(s.port)) {
      return false;
    }
    if (!listeners.isEmpty() && !listeners.contains(s.request.connection().listener())) {
      return false;
    }
    if (!principals.isEmpty()
        && (s.request.principal().isEmpty() || !principals.contains(s.request.principal().get()))) {
      return false;
    }
    if (!sourceCidrs.isEmpty() && (s.sourceIp == null || !sourceCidrs.contains(s.sourceIp))) {
      return false;
    }
    if (!hasDestination) {
      return true;
    }
    if (s.destinationIp != null && !destinationCidrs.isEmpty() && destinationCidrs.contains(s.destinationIp)) {
      return true;
    }
    if (!domains.isEmpty()) {
      if (domains.matchesNormalized(s.host)) {
        return true;
      }
      return s.sniffedHost != null && domains.matchesNormalized(s.sniffedHost);
    }
    return false;
  }

  /** A request with its destination IP parsed and its names normalised, once per routing decision. */
  static final class Subject {
    final ConnectRequest request;
    final int port;
    final InetAddress destinationIp;
    final InetAddress sourceIp;
    final String host;
    final String sniffedHost;

    private Subject(ConnectRequest request) {
      Destination dst = request.destination();
      this.request = request;
      this.port = dst.port();
      this.destinationIp = dst.ipAddress();
      this.sourceIp = request.connection().client().getAddress();
      this.host = destinationIp == null ? DomainSet.normalize(dst.host()) : dst.host();
      this.sniffedHost = request.sniffedHost().map(DomainSet::normalize).orElse(null);
    }

    static Subject of(ConnectRequest request) {
      return new Subject(request);
    }
  }

  @Override
  public String toString() {
    return "Rule[" + name + " -> " + decision + "]";
  }

  /** Builds a {@link Rule}. */
  public static final class Builder {
    private final String name;
    private final CidrSet.Builder destinationCidrs = CidrSet.builder();
    private final DomainSet.Builder domains = DomainSet.builder();
    private final BitSet ports = new BitSet();
    private final CidrSet.Builder sourceCidrs = CidrSet.builder();
    private final Set<String> listeners = new LinkedHashSet<>();
    private final Set<String> principals = new LinkedHashSet<>();
    private RouteDecision decision;

    private Builder(String name) {
      requireNonNull(name, "name");
      if (name.isBlank()) {
        throw new IllegalArgumentException("name: blank (expected: a rule name)");
      }
      this.name = name;
    }

    /** Matches destinations whose IP literal is in {@code cidr} ({@code 10.0.0.0/8}, {@code fd00::/8}, or a plain IP). */
    public Builder destinationCidr(String cidr) {
      destinationCidrs.add(cidr);
      return this;
    }

    /** Matches this exact domain (case-insensitive, a trailing dot ignored). */
    public Builder domain(String domain) {
      domains.addExact(domain);
      return this;
    }

    /** Matches this domain and its subdomains, at label boundaries ({@code quay.io} does not match {@code evilquay.io}). */
    public Builder domainSuffix(String suffix) {
      domains.addSuffix(suffix);
      return this;
    }

    /** Matches this destination port. */
    public Builder port(int port) {
      return portRange(port, port);
    }

    /** Matches destination ports {@code from..to}, inclusive. */
    public Builder portRange(int from, int to) {
      if (from < 1 || to > 65535 || from > to) {
        throw new IllegalArgumentException("port range: " + from + "-" + to + " (expected: 1 <= from <= to <= 65535)");
      }
      ports.set(from, to + 1);
      return this;
    }

    /** Matches clients whose address is in {@code cidr}. */
    public Builder sourceCidr(String cidr) {
      sourceCidrs.add(cidr);
      return this;
    }

    /** Matches connections accepted by the listener with this name. */
    public Builder listener(String listenerName) {
      listeners.add(requireNonNull(listenerName, "listenerName"));
      return this;
    }

    /** Matches requests authenticated as this principal. */
    public Builder principal(String principal) {
      principals.add(requireNonNull(principal, "principal"));
      return this;
    }

    /** The decision when the rule matches. */
    public Builder decision(RouteDecision value) {
      this.decision = requireNonNull(value, "decision");
      return this;
    }

    /** Builds the immutable {@code Rule}. */
    public Rule build() {
      if (decision == null) {
        throw new IllegalStateException("rule " + name + ": no decision (expected: direct, via or reject)");
      }
      return new Rule(this);
    }
  }
}
