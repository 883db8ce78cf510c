package dev.conduit.cli.config;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitBuilder;
import dev.conduit.core.Credentials;
import dev.conduit.core.TcpKeepAlive;
import dev.conduit.core.Timeouts;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The effective configuration of a conduit process, from a YAML file ({@link ConfigLoader}) or from
 * the {@code conduit proxy} flags. Immutable; {@link #toConduitBuilder()} turns it into a core
 * {@link ConduitBuilder} and {@link #describe()} prints it with secrets masked.
 */
public final class ConduitConfig {

  /** The start of the reason of a plain {@code reject} action ({@code rejected by rule NAME}). */
  static final String REJECT_REASON_PREFIX = "rejected by ";

  private final List<ListenerConfig> listeners;
  private final List<OutboundConfig> outbounds;
  private final List<RuleConfig> rules;
  private final RouteDecision defaultDecision;
  private final Timeouts timeouts;
  private final TcpKeepAlive tcpKeepAlive;
  private final LogConfig log;

  private ConduitConfig(Builder b) {
    this.listeners = List.copyOf(b.listeners);
    this.outbounds = List.copyOf(b.outbounds);
    this.rules = List.copyOf(b.rules);
    this.defaultDecision = b.defaultDecision;
    this.timeouts = b.timeouts;
    this.tcpKeepAlive = b.tcpKeepAlive;
    this.log = b.log;
  }

  /** A builder with no listeners and the core defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** The listeners, in file order. */
  public List<ListenerConfig> listeners() {
    return listeners;
  }

  /** The outbounds, in file order. */
  public List<OutboundConfig> outbounds() {
    return outbounds;
  }

  /** The rules, in the order they are tried. */
  public List<RuleConfig> rules() {
    return rules;
  }

  /** The decision when no rule matches. */
  public RouteDecision defaultDecision() {
    return defaultDecision;
  }

  /** The time limits. */
  public Timeouts timeouts() {
    return timeouts;
  }

  /** TCP keepalive of accepted and dialed sockets. */
  public TcpKeepAlive tcpKeepAlive() {
    return tcpKeepAlive;
  }

  /** Logging. */
  public LogConfig log() {
    return log;
  }

  /** The router built from the rules and the default decision. */
  public Router router() {
    Router.Builder r = Router.builder().defaultDecision(defaultDecision);
    rules.forEach(rule -> r.rule(rule.toRule()));
    return r.build();
  }

  /** A core builder with every listener, outbound, rule and limit set; add observers, then build. */
  public ConduitBuilder toConduitBuilder() {
    ConduitBuilder b = Conduit.builder()
        .router(router())
        .timeouts(timeouts)
        .tcpKeepAlive(tcpKeepAlive);
    listeners.forEach(l -> b.listener(l.toListener()));
    outbounds.forEach(o -> b.outbound(o.toOutbound()));
    return b;
  }

  /** The effective configuration as YAML, defaults filled in, passwords masked. */
  public String describe() {
    StringBuilder s = new StringBuilder("version: 1\n");
    s.append("listeners:\n");
    for (ListenerConfig l : listeners) {
      s.append("  - name: ").append(l.name()).append('\n');
      s.append("    type: ").append(l.type()).append('\n');
      s.append("    listen: ").append(quote(l.listen())).append('\n');
      if (!l.users().isEmpty()) {
        s.append("    auth:\n      users:\n");
        for (Credentials c : l.users()) {
          s.append("        - {username: ").append(quote(c.username())).append(", password: \"****\"}\n");
        }
      }
      list(s, "    ", "allow_sources", l.allowSources());
    }
    s.append("outbounds:").append(outbounds.isEmpty() ? " []\n" : "\n");
    for (OutboundConfig o : outbounds) {
      s.append("  - name: ").append(o.name()).append('\n');
      s.append("    hops:").append(o.hops().isEmpty() ? " []  # direct\n" : "\n");
      for (HopConfig h : o.hops()) {
        s.append("      - ").append(quote(h.toString())).append('\n');
      }
    }
    s.append("rules:").append(rules.isEmpty() ? " []\n" : "\n");
    for (RuleConfig r : rules) {
      s.append("  - name: ").append(r.name()).append('\n');
      s.append("    match:");
      int before = s.length();
      s.append('\n');
      list(s, "      ", "domains", r.domains());
      list(s, "      ", "domain_suffixes", r.domainSuffixes());
      list(s, "      ", "cidrs", r.cidrs());
      list(s, "      ", "ports", r.ports());
      list(s, "      ", "source_cidrs", r.sourceCidrs());
      list(s, "      ", "listeners", r.listeners());
      list(s, "      ", "principals", r.principals());
      if (s.length() == before + 1) {
        s.setLength(before);
        s.append(" {}  # everything\n");
      }
      s.append("    action: ").append(decision(r.action())).append('\n');
    }
    s.append("default: ").append(decision(defaultDecision)).append('\n');
    s.append("timeouts:\n");
    s.append("  dial: ").append(Durations.format(timeouts.dial())).append('\n');
    s.append("  negotiation: ").append(Durations.format(timeouts.negotiation())).append('\n');
    s.append("  http_idle: ").append(Durations.format(timeouts.httpIdle())).append('\n');
    s.append("  relay_idle: ").append(Durations.format(timeouts.relayIdle())).append('\n');
    s.append("  drain: ").append(Durations.format(timeouts.drain())).append('\n');
    s.append("tcp_keepalive: ").append(quote(tcpKeepAlive.toString())).append('\n');
    s.append("log:\n");
    s.append("  level: ").append(log.level()).append('\n');
    s.append("  format: ").append(log.format()).append('\n');
    log.file().ifPresent(f -> s.append("  file: ").append(quote(f)).append('\n'));
    if (log.file().isPresent()) {
      s.append("  maxsize: ").append(log.maxSizeMegabytes()).append('\n');
      s.append("  maxrolls: ").append(log.maxBackups()).append('\n');
    }
    return s.toString();
  }

  static String decision(RouteDecision d) {
    if (d instanceof RouteDecision.Via via) {
      return "{via: " + quote(via.outbound()) + "}";
    }
    if (d instanceof RouteDecision.Reject r && !r.reason().startsWith(REJECT_REASON_PREFIX)) {
      return "{reject: " + quote(r.reason()) + "}";
    }
    return d instanceof RouteDecision.Reject ? "reject" : "direct";
  }

  private static void list(StringBuilder s, String indent, String key, List<String> values) {
    if (values.isEmpty()) {
      return;
    }
    List<String> quoted = new ArrayList<>();
    values.forEach(v -> quoted.add(quote(v)));
    s.append(indent).append(key).append(": [").append(String.join(", ", quoted)).append("]\n");
  }

  private static String quote(String v) {
    if (v.matches("[A-Za-z0-9_./-]+") && !v.matches("[0-9.]+") && !v.equals("true") && !v.equals("false")
        && !v.equals("null")) {
      return v;
    }
    return "\"" + v.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  @Override
  public String toString() {
    return "ConduitConfig[listeners=" + listeners.size() + ", outbounds=" + outbounds.size() + ", rules="
        + rules.size() + "]";
  }

  /** Builds a {@link ConduitConfig}; the sections of {@link ConfigLoader} fill it in. */
  public static final class Builder {
    private final List<ListenerConfig> listeners = new ArrayList<>();
    private final List<OutboundConfig> outbounds = new ArrayList<>();
    private final List<RuleConfig> rules = new ArrayList<>();
    private RouteDecision defaultDecision = RouteDecision.direct();
    private Timeouts timeouts = Timeouts.defaults();
    private TcpKeepAlive tcpKeepAlive = TcpKeepAlive.ON;
    private LogConfig log = LogConfig.defaults();

    private Builder() {}

    /** Adds a listener. */
    public Builder listener(ListenerConfig value) {
      listeners.add(requireNonNull(value, "listener"));
      return this;
    }

    /** The listener with this name, if added. */
    public Optional<ListenerConfig> listener(String name) {
      return listeners.stream().filter(l -> l.name().equals(name)).findFirst();
    }

    /** Adds an outbound. */
    public Builder outbound(OutboundConfig value) {
      outbounds.add(requireNonNull(value, "outbound"));
      return this;
    }

    /** The outbound with this name, if added. */
    public Optional<OutboundConfig> outbound(String name) {
      return outbounds.stream().filter(o -> o.name().equals(name)).findFirst();
    }

    /** Appends a rule. */
    public Builder rule(RuleConfig value) {
      rules.add(requireNonNull(value, "rule"));
      return this;
    }

    /** The decision when no rule matches (default: direct). */
    public Builder defaultDecision(RouteDecision value) {
      this.defaultDecision = requireNonNull(value, "defaultDecision");
      return this;
    }

    /** The time limits (default: {@link Timeouts#defaults()}). */
    public Builder timeouts(Timeouts value) {
      this.timeouts = requireNonNull(value, "timeouts");
      return this;
    }

    /** The current time limits, to change some of them. */
    public Timeouts timeouts() {
      return timeouts;
    }

    /** TCP keepalive (default on). */
    public Builder tcpKeepAlive(TcpKeepAlive value) {
      this.tcpKeepAlive = requireNonNull(value, "tcpKeepAlive");
      return this;
    }

    /** Logging (default info, text, standard error). */
    public Builder log(LogConfig value) {
      this.log = requireNonNull(value, "log");
      return this;
    }

    /** The current logging settings. */
    public LogConfig log() {
      return log;
    }

    public ConduitConfig build() {
      return new ConduitConfig(this);
    }
  }
}
