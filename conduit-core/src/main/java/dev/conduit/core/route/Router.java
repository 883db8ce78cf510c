package dev.conduit.core.route;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.ConnectRequest;
import java.util.ArrayList;
import java.util.List;

/**
 * Chooses a {@link RouteDecision} for each request: the first matching {@link Rule} wins, else the
 * default decision. Immutable and safe for concurrent use.
 *
 * <pre>{@code
 * Router router = Router.builder()
 *     .rule(Rule.builder("no-metadata").destinationCidr("169.254.0.0/16").decision(RouteDecision.reject("metadata")).build())
 *     .rule(Rule.builder("corp").domainSuffix("corp.example.com").decision(RouteDecision.via("corp-proxy")).build())
 *     .defaultDecision(RouteDecision.direct())
 *     .build();
 * }</pre>
 */
public final class Router {

  /** The name reported when no rule matched. */
  public static final String DEFAULT_RULE = "default";

  private final List<Rule> rules;
  private final RouteDecision defaultDecision;

  private Router(List<Rule> rules, RouteDecision defaultDecision) {
    this.rules = List.copyOf(rules);
    this.defaultDecision = defaultDecision;
  }

  /** A router that sends everything direct. */
  public static Router direct() {
    return builder().build();
  }

  /** A builder with no rules and a direct default. */
  public static Builder builder() {
    return new Builder();
  }

  /** The rules in order. */
  public List<Rule> rules() {
    return rules;
  }

  /** The decision when no rule matches. */
  public RouteDecision defaultDecision() {
    return defaultDecision;
  }

  /** Routes a request. Fast and non-blocking. */
  public Match route(ConnectRequest request) {
    Rule.Subject subject = Rule.Subject.of(request);
    for (Rule rule : rules) {
      if (rule.matches(subject)) {
        return new Match(rule.name(), rule.decision());
      }
    }
    return new Match(DEFAULT_RULE, defaultDecision);
  }

  /**
   * The outcome of routing.
   *
   * @param rule the matching rule's name, or {@link #DEFAULT_RULE}
   * @param decision what to do
   */
  public record Match(String rule, RouteDecision decision) {
    /** Checks the components. */
    public Match {
      requireNonNull(rule, "rule");
      requireNonNull(decision, "decision");
    }
  }

  /** Builds a {@link Router}. */
  public static final class Builder {
    private final List<Rule> rules = new ArrayList<>();
    private RouteDecision defaultDecision = RouteDecision.direct();

    private Builder() {}

    /** Appends a rule; rules are tried in the order added. */
    public Builder rule(Rule rule) {
      rules.add(requireNonNull(rule, "rule"));
      return this;
    }

    /** The decision when no rule matches (default: direct). */
    public Builder defaultDecision(RouteDecision value) {
      this.defaultDecision = requireNonNull(value, "defaultDecision");
      return this;
    }

    /** Builds the immutable {@code Router}. */
    public Router build() {
      return new Router(rules, defaultDecision);
    }
  }
}
