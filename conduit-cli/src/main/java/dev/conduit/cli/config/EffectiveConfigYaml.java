package dev.conduit.cli.config;

import dev.conduit.core.Credentials;
import dev.conduit.core.Destination;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.route.RouteDecision;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.snakeyaml.engine.v2.api.Dump;
import org.snakeyaml.engine.v2.api.DumpSettings;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.StreamDataWriter;
import org.snakeyaml.engine.v2.common.FlowStyle;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.representer.StandardRepresenter;

/**
 * Writes a {@link ConduitConfig} as {@code conduit.yaml} text with the YAML library (so quoting is
 * always right), defaults filled in and secrets replaced by {@code "****"}: what {@code conduit check}
 * prints. The text loads back to the same configuration, secrets aside.
 */
final class EffectiveConfigYaml {

  /** What a masked secret reads as. */
  static final String MASK = "****";

  private EffectiveConfigYaml() {}

  static String write(ConduitConfig c) {
    Map<String, Object> y = new LinkedHashMap<>();
    y.put("version", ConfigLoader.VERSION);
    List<Object> listeners = new ArrayList<>();
    for (ListenerConfig l : c.listeners()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("name", l.name());
      if (l.type().isTransparent()) {
        m.put("type", "transparent");
        m.put("mode", l.type().toString());
      } else {
        m.put("type", l.type().toString());
      }
      m.put("listen", l.listen());
      if (!l.users().isEmpty()) {
        List<Object> users = new ArrayList<>();
        l.users().forEach(u -> users.add(credentials(u)));
        m.put("auth", Map.of("users", users));
      }
      putList(m, "allow_sources", l.allowSources());
      if (l.udp()) {
        m.put("udp", true);
      }
      listeners.add(m);
    }
    y.put("listeners", listeners);
    List<Object> outbounds = new ArrayList<>();
    for (OutboundConfig o : c.outbounds()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("name", o.name());
      List<Object> hops = new ArrayList<>();
      o.hops().forEach(h -> hops.add(hop(h)));
      m.put("hops", hops);
      outbounds.add(m);
    }
    y.put("outbounds", outbounds);
    List<Object> rules = new ArrayList<>();
    for (RuleConfig r : c.rules()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("name", r.name());
      Map<String, Object> match = new LinkedHashMap<>();
      putList(match, "domains", r.domains());
      putList(match, "domain_suffixes", r.domainSuffixes());
      putList(match, "cidrs", r.cidrs());
      putList(match, "ports", r.ports());
      putList(match, "source_cidrs", r.sourceCidrs());
      putList(match, "listeners", r.listeners());
      putList(match, "principals", r.principals());
      m.put("match", match);
      m.put("action", decision(r.action()));
      rules.add(m);
    }
    y.put("rules", rules);
    y.put("default", decision(c.defaultDecision()));
    Map<String, Object> timeouts = new LinkedHashMap<>();
    timeouts.put("dial", Durations.format(c.timeouts().dial()));
    timeouts.put("negotiation", Durations.format(c.timeouts().negotiation()));
    timeouts.put("http_idle", Durations.format(c.timeouts().httpIdle()));
    timeouts.put("relay_idle", Durations.format(c.timeouts().relayIdle()));
    timeouts.put("drain", Durations.format(c.timeouts().drain()));
    timeouts.put("http_response", Durations.format(c.timeouts().httpResponseHead()));
    y.put("timeouts", timeouts);
    y.put("tcp_keepalive", c.tcpKeepAlive().toString());
    y.put("splice", c.splice());
    Map<String, Object> overload = new LinkedHashMap<>();
    overload.put("memory_budget", c.overload().memoryBudget());
    overload.put("fd_budget", c.overload().fileBudget());
    overload.put("enabled", c.overload().enabled());
    y.put("overload", overload);
    c.dns().ifPresent(d -> {
      Map<String, Object> dns = new LinkedHashMap<>();
      putList(dns, "servers", d.servers());
      d.search().ifPresent(v -> dns.put("search", List.copyOf(v)));
      d.ndots().ifPresent(n -> dns.put("ndots", n));
      y.put("dns", dns);
    });
    // each role's section writes itself, in the order the loader read them; read back here, so what is
    // printed is always YAML the library wrote
    Load load = new Load(LoadSettings.builder().build());
    c.sections().keys().forEach(k -> c.sections().get(k).filter(YamlSection.class::isInstance).ifPresent(v -> {
      StringBuilder text = new StringBuilder();
      ((YamlSection) v).describeTo(text);
      if (load.loadFromString(text.toString()) instanceof Map<?, ?> section) {
        section.forEach((key, value) -> y.put(String.valueOf(key), value));
      }
    }));
    Map<String, Object> log = new LinkedHashMap<>();
    log.put("level", c.log().level());
    log.put("format", c.log().format());
    c.log().file().ifPresent(f -> log.put("file", f));
    log.put("access", c.log().access());
    if (c.log().file().isPresent()) {
      log.put("maxsize", c.log().maxSizeMegabytes());
      log.put("maxrolls", c.log().maxBackups());
    }
    y.put("log", log);
    DumpSettings settings = DumpSettings.builder().setDefaultFlowStyle(FlowStyle.BLOCK).setIndent(2)
        .setIndicatorIndent(2).setIndentWithIndicator(true).setWidth(1000).build();
    Node root = new StandardRepresenter(settings).represent(y);
    flowShortLists(root);
    StringWriter out = new StringWriter();
    new Dump(settings).dumpNode(root, new StreamDataWriter() {
      @Override
      public void write(String str) {
        out.write(str);
      }

      @Override
      public void write(String str, int off, int len) {
        out.write(str, off, len);
      }
    });
    return out.toString();
  }

  /** Lists of plain values on one line ({@code cidrs: [10.0.0.0/8, 127.0.0.0/8]}), mappings as blocks. */
  private static void flowShortLists(Node node) {
    if (node instanceof SequenceNode s) {
      if (s.getValue().stream().allMatch(ScalarNode.class::isInstance)) {
        s.setFlowStyle(FlowStyle.FLOW);
      }
      s.getValue().forEach(EffectiveConfigYaml::flowShortLists);
    } else if (node instanceof MappingNode m) {
      if (m.getValue().isEmpty()) {
        m.setFlowStyle(FlowStyle.FLOW); // match: {}
      }
      m.getValue().forEach(t -> flowShortLists(t.getValueNode()));
    }
  }

  private static Map<String, Object> credentials(Credentials c) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("username", c.username());
    m.put("password", MASK);
    return m;
  }

  /** A hop in the mapping form (protocol, endpoints, credentials, tls), which every hop can be written in. */
  private static Map<String, Object> hop(HopConfig h) {
    Hop hop = h.hop();
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("protocol", hop.protocol() == Hop.Protocol.SOCKS5 ? "socks5" : hop.tls() ? "https" : "http");
    List<String> endpoints = new ArrayList<>();
    hop.endpoints().forEach(e -> endpoints.add(endpoint(e)));
    m.put("endpoints", endpoints);
    hop.credentials().ifPresent(c -> m.put("credentials", credentials(c)));
    if (hop.tls()) {
      Map<String, Object> tls = new LinkedHashMap<>();
      h.caFile().ifPresent(f -> tls.put("ca_file", f));
      hop.tlsServerName().ifPresent(n -> tls.put("server_name", n));
      m.put("tls", tls);
    }
    if (hop.forwardClientAddress()) {
      m.put("forward_client_address", true);
    }
    return m;
  }

  private static String endpoint(Destination d) {
    return d.toString();
  }

  private static Object decision(RouteDecision d) {
    if (d instanceof RouteDecision.Via via) {
      return Map.of("via", via.outbound());
    }
    if (d instanceof RouteDecision.Reject r && !r.reason().startsWith(ConduitConfig.REJECT_REASON_PREFIX)) {
      return Map.of("reject", r.reason());
    }
    return d instanceof RouteDecision.Reject ? "reject" : "direct";
  }

  private static void putList(Map<String, Object> m, String key, List<String> values) {
    if (!values.isEmpty()) {
      m.put(key, List.copyOf(values));
    }
  }
}
