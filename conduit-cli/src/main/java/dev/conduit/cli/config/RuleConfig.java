package dev.conduit.cli.config;

import dev.conduit.core.net.PortRange;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Rule;
import java.util.List;

/**
 * A routing rule of the configuration. Conditions of different kinds must all hold; values of one
 * kind are alternatives (see {@link Rule}).
 *
 * @param name the rule's name
 * @param domains exact destination domains
 * @param domainSuffixes destination domains and their subdomains
 * @param cidrs destination networks (IP destinations only)
 * @param ports destination ports, {@code 443} or {@code 8000-8100}
 * @param sourceCidrs client networks
 * @param listeners listener names
 * @param principals authenticated user names
 * @param action what to do when the rule matches
 */
public record RuleConfig(String name, List<String> domains, List<String> domainSuffixes, List<String> cidrs,
    List<String> ports, List<String> sourceCidrs, List<String> listeners, List<String> principals,
    RouteDecision action) {

  public RuleConfig {
    requireNonNull(name, "name");
    domains = List.copyOf(domains);
    domainSuffixes = List.copyOf(domainSuffixes);
    cidrs = List.copyOf(cidrs);
    ports = List.copyOf(ports);
    sourceCidrs = List.copyOf(sourceCidrs);
    listeners = List.copyOf(listeners);
    principals = List.copyOf(principals);
    requireNonNull(action, "action");
  }

  /**
   * Builds the core rule.
   *
   * @throws IllegalArgumentException naming a bad domain, CIDR or port
   */
  public Rule toRule() {
    Rule.Builder b = Rule.builder(name).decision(action);
    domains.forEach(b::domain);
    domainSuffixes.forEach(b::domainSuffix);
    cidrs.forEach(b::destinationCidr);
    for (String p : ports) {
      int[] range = parsePorts(p);
      b.portRange(range[0], range[1]);
    }
    sourceCidrs.forEach(b::sourceCidr);
    listeners.forEach(b::listener);
    principals.forEach(b::principal);
    return b.build();
  }

  /** Parses {@code 443} or {@code 8000-8100} into {@code [from, to]} ({@link PortRange#parse}). */
  static int[] parsePorts(String text) {
    PortRange r = PortRange.parse(text);
    return new int[] {r.first(), r.last()};
  }

}
