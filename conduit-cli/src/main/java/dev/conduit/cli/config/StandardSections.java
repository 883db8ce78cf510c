package dev.conduit.cli.config;

import dev.conduit.core.ConduitResources;
import dev.conduit.core.Credentials;
import dev.conduit.core.Destination;
import dev.conduit.core.TcpKeepAlive;
import dev.conduit.core.Timeouts;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Rule;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.File;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import javax.net.ssl.SSLException;

/** The sections of {@code conduit.yaml} this build reads. */
final class StandardSections {

  private StandardSections() {}

  static List<ConfigSection> all() {
    return List.of(
        section("log", StandardSections::readLog),
        section("listeners", StandardSections::readListeners),
        section("outbounds", StandardSections::readOutbounds),
        section("rules", StandardSections::readRules),
        section("default", (node, config) -> config.defaultDecision(decision(node, "default"))),
        section("timeouts", StandardSections::readTimeouts),
        section("tcp_keepalive", StandardSections::readKeepAlive),
        section("splice", (node, config) -> config.splice(node.bool())),
        section("dns", StandardSections::readDns),
        MeshSections.client(),
        MeshSections.server(),
        ConfigSection.typed(AdminConfig.SECTION, (node, config) -> readAdmin(node)),
        MeshNodeConfig.section(),
        EgressServerSection.section(),
        // known from the seeds, not runnable by this build yet
        ConfigSection.typed(CacheConfig.SECTION, (node, config) -> readCache(node)),
        ConfigSection.unsupported("transparent", "the transparent listener"),
        section("overload", StandardSections::readOverload));
  }

  private static ConfigSection section(String name, java.util.function.BiConsumer<ConfigNode, ConduitConfig.Builder> reader) {
    return new ConfigSection() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public void read(ConfigNode node, ConduitConfig.Builder config) {
        reader.accept(node, config);
      }
    };
  }

  // ---- listeners

  private static final List<String> LISTENER_KEYS =
      List.of("name", "type", "mode", "listen", "auth", "allow_sources", "udp");

  private static void readListeners(ConfigNode node, ConduitConfig.Builder config) {
    Map<String, Integer> names = new HashMap<>();
    for (ConfigNode item : node.sequence()) {
      Map<String, ConfigNode> m = item.mapping(LISTENER_KEYS);
      String name = required(item, m, "name").string();
      unique(names, name, m.get("name"), "listener");
      ConfigNode typeNode = required(item, m, "type");
      ListenerConfig.Type type;
      String typeText = typeNode.string();
      if (typeText.equalsIgnoreCase("transparent")) {
        // type: transparent, mode: redirect (default) | tproxy
        typeText = m.containsKey("mode") ? m.get("mode").string() : "redirect";
        if (!typeText.equalsIgnoreCase("redirect") && !typeText.equalsIgnoreCase("tproxy")) {
          throw m.get("mode").error("'" + typeText + "' (expected: redirect or tproxy)");
        }
      } else if (m.containsKey("mode")) {
        throw m.get("mode").error("'mode' applies to type: transparent only");
      }
      try {
        type = ListenerConfig.Type.parse(typeText);
      } catch (IllegalArgumentException e) {
        throw typeNode.error("'" + typeNode.string() + "' (expected: http, socks, mixed or transparent)");
      }
      String listen = required(item, m, "listen").string();
      List<Credentials> users = m.containsKey("auth") ? readAuth(m.get("auth")) : List.of();
      List<String> allow = m.containsKey("allow_sources") ? m.get("allow_sources").strings() : List.of();
      boolean udp = m.containsKey("udp") && m.get("udp").bool();
      if (udp && type != ListenerConfig.Type.SOCKS && type != ListenerConfig.Type.MIXED
          && type != ListenerConfig.Type.TPROXY) {
        throw m.get("udp").error("'udp' applies to type: socks, mixed and tproxy only");
      }
      ListenerConfig l = new ListenerConfig(name, type, listen, users, allow, udp);
      item.convert(l::toListener); // validates the address and CIDRs with this line
      config.listener(l);
    }
  }

  private static List<Credentials> readAuth(ConfigNode auth) {
    Map<String, ConfigNode> m = auth.mapping(List.of("users"));
    List<Credentials> users = new ArrayList<>();
    if (m.containsKey("users")) {
      for (ConfigNode u : m.get("users").sequence()) {
        users.add(credentials(u));
      }
    }
    return users;
  }

  /** {@code {username: u, password: p}} or {@code "u:p"}. */
  private static Credentials credentials(ConfigNode node) {
    if (node.isScalar()) {
      String s = node.string();
      int colon = s.indexOf(':');
      if (colon <= 0) {
        throw node.error("expected user:password or {username: ..., password: ...}");
      }
      return node.convert(() -> new Credentials(s.substring(0, colon), s.substring(colon + 1)));
    }
    Map<String, ConfigNode> m = node.mapping(List.of("username", "password"));
    String user = required(node, m, "username").string();
    String pass = required(node, m, "password").string();
    return node.convert(() -> new Credentials(user, pass));
  }

  // ---- outbounds

  private static final List<String> OUTBOUND_KEYS = List.of("name", "hops");
  private static final List<String> HOP_KEYS = List.of("protocol", "endpoints", "credentials", "tls",
      "forward_client_address");

  private static void readOutbounds(ConfigNode node, ConduitConfig.Builder config) {
    Map<String, Integer> names = new HashMap<>();
    for (ConfigNode item : node.sequence()) {
      Map<String, ConfigNode> m = item.mapping(OUTBOUND_KEYS);
      String name = required(item, m, "name").string();
      if (name.equals(Outbound.DIRECT)) {
        throw m.get("name").error("'direct' is built in (expected: another name)");
      }
      unique(names, name, m.get("name"), "outbound");
      List<HopConfig> hops = new ArrayList<>();
      if (m.containsKey("hops")) {
        for (ConfigNode h : m.get("hops").sequence()) {
          hops.add(hop(h));
        }
      }
      config.outbound(new OutboundConfig(name, hops));
    }
  }

  private static HopConfig hop(ConfigNode node) {
    if (node.isScalar()) {
      String url = node.string();
      return new HopConfig(node.convert(() -> Hop.parse(url)), Optional.empty());
    }
    Map<String, ConfigNode> m = node.mapping(HOP_KEYS);
    String protocol = required(node, m, "protocol").string().toLowerCase(Locale.ROOT);
    Hop.Builder b;
    int defaultPort;
    switch (protocol) {
      case "http" -> {
        b = Hop.builder(Hop.Protocol.HTTP);
        defaultPort = 80;
      }
      case "https" -> {
        b = Hop.builder(Hop.Protocol.HTTP).tls(true);
        defaultPort = 443;
      }
      case "socks5" -> {
        b = Hop.builder(Hop.Protocol.SOCKS5);
        defaultPort = 1080;
      }
      default -> throw m.get("protocol").error("'" + protocol + "' (expected: http, https or socks5)");
    }
    ConfigNode endpoints = required(node, m, "endpoints");
    for (String e : endpoints.strings()) {
      b.endpoint(endpoints.convert(() -> Destination.parse(e, defaultPort)));
    }
    if (m.containsKey("credentials")) {
      b.credentials(credentials(m.get("credentials")));
    }
    if (m.containsKey("forward_client_address")) {
      b.forwardClientAddress(m.get("forward_client_address").bool());
    }
    Optional<String> caFile = Optional.empty();
    if (m.containsKey("tls")) {
      ConfigNode tlsNode = m.get("tls");
      Map<String, ConfigNode> tls = tlsNode.mapping(List.of("ca_file", "server_name"));
      if (protocol.equals("socks5")) {
        throw tlsNode.error("TLS is not supported for socks5 hops (expected: protocol https)");
      }
      if (tls.containsKey("server_name")) {
        b.tlsServerName(tls.get("server_name").string());
      }
      if (tls.containsKey("ca_file")) {
        ConfigNode ca = tls.get("ca_file");
        String file = ca.string();
        try {
          b.sslContext(SslContextBuilder.forClient().trustManager(new File(file)).build());
        } catch (SSLException | IllegalArgumentException e) {
          throw ca.error("cannot use CA file " + file + ": " + rootMessage(e));
        }
        caFile = Optional.of(file);
      } else {
        b.tls(true);
      }
    }
    return new HopConfig(node.convert(b::build), caFile);
  }

  // ---- rules

  private static final List<String> RULE_KEYS = List.of("name", "match", "action");
  private static final List<String> MATCH_KEYS = List.of("domains", "domain_suffixes", "cidrs", "ports",
      "source_cidrs", "listeners", "principals");

  private static void readRules(ConfigNode node, ConduitConfig.Builder config) {
    Map<String, Integer> names = new HashMap<>();
    for (ConfigNode item : node.sequence()) {
      Map<String, ConfigNode> m = item.mapping(RULE_KEYS);
      String name = required(item, m, "name").string();
      unique(names, name, m.get("name"), "rule");
      Map<String, ConfigNode> match = m.containsKey("match") && !m.get("match").isNull()
          ? m.get("match").mapping(MATCH_KEYS) : Map.of();
      List<String> listeners = strings(match, "listeners");
      if (match.containsKey("listeners")) {
        ConfigNode ln = match.get("listeners");
        for (String l : listeners) {
          if (config.listener(l).isEmpty()) {
            throw ln.error("no listener named '" + l + "'");
          }
        }
      }
      RouteDecision action = decision(required(item, m, "action"), "rule " + name);
      checkOutbound(m.get("action"), action, config);
      RuleConfig rule = new RuleConfig(name, strings(match, "domains"), strings(match, "domain_suffixes"),
          strings(match, "cidrs"), strings(match, "ports"), strings(match, "source_cidrs"), listeners,
          strings(match, "principals"), action);
      validate(match, "domains", (r, v) -> r.domain(v));
      validate(match, "domain_suffixes", (r, v) -> r.domainSuffix(v));
      validate(match, "cidrs", (r, v) -> r.destinationCidr(v));
      validate(match, "ports", (r, v) -> {
        int[] p = RuleConfig.parsePorts(v);
        r.portRange(p[0], p[1]);
      });
      validate(match, "source_cidrs", (r, v) -> r.sourceCidr(v));
      item.convert(rule::toRule);
      config.rule(rule);
    }
  }

  /** Checks each value on its own, so an error names the value's own line. */
  private static void validate(Map<String, ConfigNode> match, String key,
      java.util.function.BiConsumer<Rule.Builder, String> condition) {
    ConfigNode values = match.get(key);
    if (values == null) {
      return;
    }
    List<ConfigNode> items = values.isScalar() ? List.of(values) : values.sequence();
    for (ConfigNode item : items) {
      String v = item.string();
      item.convert(() -> {
        condition.accept(Rule.builder("check"), v);
        return null;
      });
    }
  }

  private static List<String> strings(Map<String, ConfigNode> m, String key) {
    return m.containsKey(key) ? m.get(key).strings() : List.of();
  }

  /** {@code direct}, {@code reject}, {@code {via: NAME}} or {@code {reject: reason}}. */
  static RouteDecision decision(ConfigNode node, String owner) {
    if (node.isScalar()) {
      String s = node.string().trim();
      if (s.equals("direct")) {
        return RouteDecision.direct();
      }
      if (s.equals("reject")) {
        return RouteDecision.reject(ConduitConfig.REJECT_REASON_PREFIX + owner);
      }
      throw node.error("'" + s + "' (expected: direct, reject or via: OUTBOUND)");
    }
    Map<String, ConfigNode> m = node.mapping(List.of("via", "reject"));
    if (m.size() != 1) {
      throw node.error("expected one of direct, reject, {via: OUTBOUND} or {reject: reason}");
    }
    if (m.containsKey("via")) {
      String via = m.get("via").string();
      return via.equals(Outbound.DIRECT) ? RouteDecision.direct() : RouteDecision.via(via);
    }
    return RouteDecision.reject(m.get("reject").string());
  }

  private static void checkOutbound(ConfigNode node, RouteDecision d, ConduitConfig.Builder config) {
    if (d instanceof RouteDecision.Via via && config.outbound(via.outbound()).isEmpty()) {
      throw node.error("no outbound named '" + via.outbound() + "'");
    }
  }

  // ---- timeouts, keepalive, log

  /** {@code overload: {memory_budget: 192m, fd_budget: 4000, enabled: true}}; 0 or absent derives a budget. */
  private static void readOverload(ConfigNode node, ConduitConfig.Builder config) {
    Map<String, ConfigNode> m = node.mapping(List.of("memory_budget", "fd_budget", "enabled"));
    try {
      dev.conduit.core.overload.OverloadPolicy.Builder o = dev.conduit.core.overload.OverloadPolicy.builder();
      if (m.containsKey("memory_budget")) {
        o.memoryBudget(ByteSizes.parse(m.get("memory_budget").string()));
      }
      if (m.containsKey("fd_budget")) {
        o.fileBudget(Long.parseLong(m.get("fd_budget").string().trim()));
      }
      if (m.containsKey("enabled")) {
        o.enabled(m.get("enabled").bool());
      }
      config.overload(o.build());
    } catch (IllegalArgumentException e) {
      throw node.error(e.getMessage());
    }
  }

  private static void readTimeouts(ConfigNode node, ConduitConfig.Builder config) {
    Map<String, ConfigNode> m = node.mapping(List.of("dial", "negotiation", "http_idle", "http_response", "relay_idle", "drain"));
    Timeouts.Builder t = config.timeouts().toBuilder();
    if (m.containsKey("dial")) {
      t.dial(positive(m.get("dial")));
    }
    if (m.containsKey("negotiation")) {
      t.negotiation(positive(m.get("negotiation")));
    }
    if (m.containsKey("http_idle")) {
      t.httpIdle(positive(m.get("http_idle")));
    }
    if (m.containsKey("http_response")) {
      t.httpResponseHead(positive(m.get("http_response")));
    }
    if (m.containsKey("relay_idle")) {
      t.relayIdle(m.get("relay_idle").duration());
    }
    if (m.containsKey("drain")) {
      t.drain(m.get("drain").duration());
    }
    config.timeouts(t.build());
  }

  private static java.time.Duration positive(ConfigNode node) {
    java.time.Duration d = node.duration();
    if (d.isZero()) {
      throw node.error("0 (expected: more than 0)");
    }
    return d;
  }

  private static void readDns(ConfigNode node, ConduitConfig.Builder config) {
    Map<String, ConfigNode> m = node.mapping(List.of("servers", "search", "ndots"));
    List<String> servers = list(m, "servers");
    if (m.containsKey("servers")) {
      ConfigNode serversNode = m.get("servers");
      if (servers.isEmpty()) {
        throw serversNode.error("empty (expected: at least one ip or ip:port, or no 'servers' for resolv.conf's)");
      }
      // each server on its own line
      List<ConfigNode> items = serversNode.isScalar() ? List.of(serversNode) : serversNode.sequence();
      for (ConfigNode item : items) {
        String text = item.string();
        item.convert(() -> DnsConfig.server(text));
      }
    }
    Optional<List<String>> search = m.containsKey("search") ? Optional.of(list(m, "search")) : Optional.empty();
    if (search.isPresent()) {
      ConfigNode searchNode = m.get("search");
      searchNode.convert(() -> ConduitResources.builder().searchDomains(search.get()));
    }
    OptionalInt ndots = m.containsKey("ndots") ? OptionalInt.of(m.get("ndots").integer(0, 15))
        : OptionalInt.empty();
    config.dns(node.convert(() -> new DnsConfig(servers, search, ndots)));
  }

  private static void readKeepAlive(ConfigNode node, ConduitConfig.Builder config) {
    String text = node.string();
    config.tcpKeepAlive(node.convert(() -> text.equals("true") ? TcpKeepAlive.ON
        : text.equals("false") ? TcpKeepAlive.OFF : TcpKeepAlive.parse(text)));
  }

  private static void readLog(ConfigNode node, ConduitConfig.Builder config) {
    // level, file and maxsize as in seed 000; maxrolls is seed 000's backup count
    Map<String, ConfigNode> m = node.mapping(List.of("level", "format", "file", "maxsize", "maxrolls", "access"));
    LogConfig log = config.log();
    String level = m.containsKey("level") ? m.get("level").convert(() -> LogConfig.checkLevel(m.get("level").string()))
        : log.level();
    String format = m.containsKey("format")
        ? m.get("format").convert(() -> LogConfig.checkFormat(m.get("format").string())) : log.format();
    Optional<String> file = m.containsKey("file") && !m.get("file").isNull()
        ? Optional.of(m.get("file").string()) : log.file();
    int maxSize = m.containsKey("maxsize") ? m.get("maxsize").integer(0, 1 << 20) : log.maxSizeMegabytes();
    int maxRolls = m.containsKey("maxrolls") ? m.get("maxrolls").integer(0, 1000) : log.maxBackups();
    String access = m.containsKey("access")
        ? m.get("access").convert(() -> LogConfig.checkAccess(m.get("access").string())) : log.access();
    config.log(new LogConfig(level, format, file, maxSize, maxRolls, access));
  }

  private static final List<String> CACHE_KEYS = List.of("cert_dir", "cache_dir", "listen", "tls_listen",
      "tls_names", "intercept", "filters", "trust_upstream_cas", "max_cache_size");

  private static CacheConfig readCache(ConfigNode node) {
    Map<String, ConfigNode> m = node.mapping(CACHE_KEYS);
    for (String required : List.of("cert_dir", "cache_dir")) {
      if (!m.containsKey(required) || m.get(required).isNull()) {
        throw node.error("cache." + required + " is required");
      }
    }
    String listen = m.containsKey("listen") ? m.get("listen").string() : CacheConfig.DEFAULT_LISTEN;
    Optional<String> tlsListen = m.containsKey("tls_listen") && !m.get("tls_listen").isNull()
        ? Optional.of(m.get("tls_listen").string()) : Optional.empty();
    long maxBytes = CacheConfig.DEFAULT_MAX_CACHE_BYTES;
    if (m.containsKey("max_cache_size")) {
      ConfigNode n = m.get("max_cache_size");
      maxBytes = n.convert(() -> {
        try {
          return Long.parseLong(n.string().trim());
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("max_cache_size: " + n.string() + " (expected: a number of bytes)");
        }
      });
    }
    for (String key : List.of("intercept", "filters")) {
      if (m.containsKey(key)) {
        for (String v : m.get(key).strings()) {
          if (key.equals("filters")) {
            m.get(key).convert(() -> java.util.regex.Pattern.compile(v));
          }
        }
      }
    }
    long max = maxBytes;
    return node.convert(() -> new CacheConfig(m.get("cert_dir").string(), m.get("cache_dir").string(), listen,
        tlsListen, list(m, "tls_names"), list(m, "intercept"), list(m, "filters"), list(m, "trust_upstream_cas"),
        max));
  }

  private static List<String> list(Map<String, ConfigNode> m, String key) {
    return m.containsKey(key) && !m.get(key).isNull() ? m.get(key).strings() : List.of();
  }

  private static AdminConfig readAdmin(ConfigNode node) {
    Map<String, ConfigNode> m = node.isNull() ? Map.of() : node.mapping(List.of("listen", "token", "token_file",
        "tls_cert", "tls_key", "client_ca", "client_certificates"));
    String listen = m.containsKey("listen") ? m.get("listen").string() : AdminConfig.DEFAULT_LISTEN;
    node.convert(() -> dev.conduit.core.admin.AdminServer.builder().bind(listen));
    Optional<String> token = m.containsKey("token") ? Optional.of(m.get("token").string()) : Optional.empty();
    Optional<String> tokenFile = m.containsKey("token_file") ? Optional.of(m.get("token_file").string())
        : Optional.empty();
    Optional<String> tlsCert = optionalString(m, "tls_cert");
    Optional<String> tlsKey = optionalString(m, "tls_key");
    Optional<String> clientCa = optionalString(m, "client_ca");
    String clientCertificates = optionalString(m, "client_certificates").orElse("");
    return node.convert(() -> new AdminConfig(listen, token, tokenFile, tlsCert, tlsKey, clientCa,
        clientCertificates));
  }

  private static Optional<String> optionalString(Map<String, ConfigNode> m, String key) {
    return m.containsKey(key) && !m.get(key).isNull() ? Optional.of(m.get(key).string()) : Optional.empty();
  }

  // ---- helpers

  private static ConfigNode required(ConfigNode owner, Map<String, ConfigNode> m, String key) {
    ConfigNode n = m.get(key);
    if (n == null || n.isNull()) {
      throw owner.error("missing '" + key + "'");
    }
    return n;
  }

  private static void unique(Map<String, Integer> names, String name, ConfigNode node, String what) {
    Integer first = names.putIfAbsent(name, node.line());
    if (first != null) {
      throw node.error(what + " name '" + name + "' is already used at line " + first + " (expected: unique names)");
    }
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null) {
      t = t.getCause();
    }
    return t.getMessage() == null ? t.toString() : t.getMessage();
  }
}
