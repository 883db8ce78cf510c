package dev.conduit.cli.config;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Conduit;
import dev.conduit.netfilter.TransparentSockets;
import dev.conduit.core.ConduitBuilder;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.TcpKeepAlive;
import dev.conduit.core.overload.OverloadPolicy;
import dev.conduit.core.Timeouts;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.runtime.ConfigSections;
import dev.conduit.core.runtime.SectionKey;
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
  private final boolean splice;
  private final OverloadPolicy overload;
  private final LogConfig log;
  private final ConfigSections sections;
  private final Optional<DnsConfig> dns;

  private ConduitConfig(Builder b) {
    this.dns = b.dns;
    this.sections = b.sections.build();
    this.listeners = List.copyOf(b.listeners);
    this.outbounds = List.copyOf(b.outbounds);
    this.rules = List.copyOf(b.rules);
    this.defaultDecision = b.defaultDecision;
    this.timeouts = b.timeouts;
    this.tcpKeepAlive = b.tcpKeepAlive;
    this.splice = b.splice;
    this.overload = b.overload;
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

  /** Whether tunnels between two plain TCP sockets are relayed with {@code splice(2)} (see {@code ConduitBuilder.splice}). */
  public boolean splice() {
    return splice;
  }

  /** The overload manager's budgets (see {@code ConduitBuilder.overload}). */
  public OverloadPolicy overload() {
    return overload;
  }

  /** Logging. */
  public LogConfig log() {
    return log;
  }

  /**
   * Seed 000's {@code client} and {@code server} sections, when the file has either (enabled or not).
   */
  public Optional<MeshConfig> mesh() {
    Optional<MeshConfig.Client> client = section(MeshClientSection.SECTION).map(MeshClientSection::effectiveClient);
    Optional<MeshConfig.Server> server = section(MeshServerSection.SECTION).map(MeshServerSection::server);
    if (client.isEmpty() && server.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new MeshConfig(client.orElse(null), server.orElse(null)));
  }

  /**
   * A role's section, as the config loader read it (see {@link ConfigSection#typed}).
   *
   * @param key the role's section key
   * @param <T> the section's type
   * @return the section, if the configuration has it
   */
  public <T> Optional<T> section(SectionKey<T> key) {
    return sections.get(key);
  }

  /** The roles' sections ({@code client}, {@code server}, {@code admin}, {@code cache}, ...), typed. */
  public ConfigSections sections() {
    return sections;
  }

  /**
   * {@code client.capture} (conduit extension): whether to install the netfilter capture rules for the
   * forward table; empty means seed 000's behaviour, capture when running as root.
   */
  public Optional<Boolean> capture() {
    return section(MeshClientSection.SECTION).flatMap(MeshClientSection::capture);
  }

  /** The caching MITM proxy ({@code cache} section), if any. */
  public Optional<CacheConfig> cache() {
    return section(CacheConfig.SECTION);
  }

  /** The resolver's settings ({@code dns} section), if any; without one, {@code /etc/resolv.conf}'s. */
  public Optional<DnsConfig> dns() {
    return dns;
  }

  /** A resources builder with the {@code dns} section's resolver settings (resolv.conf's without one). */
  public ConduitResources.Builder toResourcesBuilder() {
    ConduitResources.Builder b = ConduitResources.builder();
    dns.ifPresent(d -> d.applyTo(b));
    return b;
  }

  /** The admin endpoint ({@code admin} section or {@code --admin-listen}), if any. */
  public Optional<AdminConfig> admin() {
    return section(AdminConfig.SECTION);
  }

  /** Seed 000's {@code manager} section (mesh mode), when it is enabled. */
  public Optional<MeshNodeConfig> meshNode() {
    return section(MeshNodeConfig.SECTION).filter(MeshNodeConfig::enable);
  }

  /** Whether seed 000's client or server runs. */
  public boolean runsMesh() {
    return runsMesh(sections);
  }

  static boolean runsMesh(ConfigSections sections) {
    return sections.get(MeshClientSection.SECTION).map(c -> c.client().enable()).orElse(false)
        || sections.get(MeshServerSection.SECTION).map(v -> v.server().enable()).orElse(false);
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
        .tcpKeepAlive(tcpKeepAlive)
        .splice(splice)
        .overload(overload);
    listeners.forEach(l -> b.listener(l.toListener()));
    outbounds.forEach(o -> b.outbound(o.toOutbound()));
    if (listeners.stream().anyMatch(l -> l.type().isTransparent())) {
      // conduit's own dials carry the bypass mark, so capture rules never take them back to conduit
      b.outboundSocketCustomizer(TransparentSockets.outboundMark(ListenerConfig.BYPASS_MARK));
    }
    return b;
  }

  /**
   * The effective configuration as YAML, defaults filled in, secrets masked as {@code "****"}; the
   * text loads back to the same configuration, secrets aside.
   */
  public String describe() {
    return EffectiveConfigYaml.write(this);
  }

  static void list(StringBuilder s, String indent, String key, List<String> values) {
    if (values.isEmpty()) {
      return;
    }
    List<String> quoted = new ArrayList<>();
    values.forEach(v -> quoted.add(quote(v)));
    s.append(indent).append(key).append(": [").append(String.join(", ", quoted)).append("]\n");
  }

  static String quote(String v) {
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
    private boolean splice;
    private OverloadPolicy overload = OverloadPolicy.defaults();
    private LogConfig log = LogConfig.defaults();
    private ConfigSections.Builder sections = ConfigSections.builder();
    private Optional<DnsConfig> dns = Optional.empty();

    private Builder() {}

    /** The resolver's settings (default: none, resolv.conf's). */
    public Builder dns(DnsConfig value) {
      this.dns = Optional.of(requireNonNull(value, "dns"));
      return this;
    }

    /**
     * Seed 000's {@code client} section and the {@code capture} extension (empty: capture when root).
     */
    public Builder meshClient(MeshConfig.Client value, Optional<Boolean> captureValue) {
      return section(MeshClientSection.SECTION, new MeshClientSection(value, captureValue));
    }

    /** Seed 000's {@code server} section. */
    public Builder meshServer(MeshConfig.Server value) {
      return section(MeshServerSection.SECTION, new MeshServerSection(value));
    }

    /** Whether seed 000's client or server runs. */
    public boolean runsMesh() {
      return ConduitConfig.runsMesh(sections.build());
    }

    /**
     * Sets a role's section (what {@link ConfigSection#typed} readers do).
     *
     * @param key the role's section key
     * @param value the section
     * @param <T> the section's type
     * @return this
     */
    public <T> Builder section(SectionKey<T> key, T value) {
      sections.section(key, value);
      return this;
    }

    /** A role's section set so far, e.g. for a later section to check against it. */
    public <T> Optional<T> section(SectionKey<T> key) {
      return sections.build().get(key);
    }

    /** The admin endpoint. */
    public Builder admin(AdminConfig value) {
      return section(AdminConfig.SECTION, value);
    }

    /** The caching MITM proxy. */
    public Builder cache(CacheConfig value) {
      return section(CacheConfig.SECTION, value);
    }

    /** Copies everything from another configuration. */
    public Builder from(ConduitConfig c) {
      requireNonNull(c, "config");
      c.listeners.forEach(this::listener);
      c.outbounds.forEach(this::outbound);
      c.rules.forEach(this::rule);
      defaultDecision = c.defaultDecision;
      timeouts = c.timeouts;
      tcpKeepAlive = c.tcpKeepAlive;
      splice = c.splice;
      overload = c.overload;
      log = c.log;
      sections = c.sections.toBuilder();
      dns = c.dns;
      return this;
    }

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

    /** The overload manager's budgets (default: derived from the JVM's and the process's limits). */
    public Builder overload(OverloadPolicy value) {
      this.overload = requireNonNull(value, "overload");
      return this;
    }

    /** Zero-copy {@code splice(2)} relaying of plain TCP tunnels on epoll (default off). */
    public Builder splice(boolean value) {
      this.splice = value;
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
