package dev.conduit.cli.config;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Seed 000's {@code client} and {@code server} sections, read as written in its {@code conduit.yaml}
 * into {@link MeshConfig} records (as {@link MeshClientSection} and {@link MeshServerSection}), plus conduit's extensions
 * {@code client.capture}, {@code client.multiplex} and {@code server.allow}.
 */
final class MeshSections {

  private static final List<String> CLIENT_KEYS = List.of("enable", "network", "listen", "check_time",
      "forward_table", "peers", "capture", "multiplex");
  private static final List<String> FORWARD_KEYS = List.of("dst", "dst_as", "peer_index");
  private static final List<String> PEER_KEYS = List.of("index", "network", "addresses", "tls");
  private static final List<String> TLS_KEYS = List.of("enable", "mtls", "cas", "certs", "insecure_skip_verify",
      "multiplex");
  private static final List<String> CERT_KEYS = List.of("cert", "key");
  private static final List<String> SERVER_KEYS = List.of("enable", "listen", "allow", "enforce");
  private static final List<String> ENFORCE_KEYS = List.of("ports", "allow_sources");
  private static final List<String> LISTEN_KEYS = List.of("network", "addr", "tls");
  private static final List<String> ALLOW_KEYS = List.of("peer", "cidrs", "ports", "domains");

  private MeshSections() {}

  static ConfigSection client() {
    return ConfigSection.typed(MeshClientSection.SECTION, (node, config) -> {
      Map<String, ConfigNode> m = node.mapping(CLIENT_KEYS);
      List<MeshConfig.Forward> table = new ArrayList<>();
      for (ConfigNode f : sequence(m, "forward_table")) {
        Map<String, ConfigNode> fm = f.mapping(FORWARD_KEYS);
        table.add(new MeshConfig.Forward(string(fm, "dst"), string(fm, "dst_as"), integer(fm, "peer_index")));
      }
      List<MeshConfig.Peer> peers = new ArrayList<>();
      for (ConfigNode p : sequence(m, "peers")) {
        Map<String, ConfigNode> pm = p.mapping(PEER_KEYS);
        List<String> addresses = pm.containsKey("addresses") ? pm.get("addresses").strings() : List.of();
        peers.add(new MeshConfig.Peer(integer(pm, "index"), string(pm, "network"), addresses, tls(pm.get("tls"))));
      }
      MeshConfig.Client client = new MeshConfig.Client(bool(m, "enable"), string(m, "network"),
          string(m, "listen"), m.containsKey("check_time") ? m.get("check_time").integer(0, 86_400) : 0,
          table, peers);
      Optional<Boolean> capture = m.containsKey("capture") && !m.get("capture").isNull()
          ? Optional.of(m.get("capture").bool()) : Optional.empty();
      return new MeshClientSection(client, capture, bool(m, "multiplex"));
    });
  }

  static ConfigSection server() {
    return ConfigSection.typed(MeshServerSection.SECTION, (node, config) -> {
      Map<String, ConfigNode> m = node.mapping(SERVER_KEYS);
      MeshConfig.Listen listen = null;
      if (m.containsKey("listen") && !m.get("listen").isNull()) {
        Map<String, ConfigNode> lm = m.get("listen").mapping(LISTEN_KEYS);
        listen = new MeshConfig.Listen(string(lm, "network"), string(lm, "addr"), tls(lm.get("tls")));
      }
      List<MeshConfig.Allow> allow = new ArrayList<>();
      for (ConfigNode a : sequence(m, "allow")) {
        Map<String, ConfigNode> am = a.mapping(ALLOW_KEYS);
        allow.add(new MeshConfig.Allow(string(am, "peer"), strings(am, "cidrs"), strings(am, "ports"),
            strings(am, "domains")));
      }
      List<String> enforcePorts = List.of();
      List<String> enforceSources = List.of();
      if (m.containsKey("enforce") && !m.get("enforce").isNull()) {
        ConfigNode e = m.get("enforce");
        Map<String, ConfigNode> em = e.mapping(ENFORCE_KEYS);
        enforcePorts = strings(em, "ports");
        if (enforcePorts.isEmpty()) {
          throw e.error("no ports (expected: ports: [\"3306\", ...], the local TCP ports only the mesh reaches)");
        }
        for (String p : enforcePorts) {
          em.get("ports").convert(() -> dev.conduit.core.net.PortRange.parse(p));
        }
        enforceSources = strings(em, "allow_sources");
        for (String c : enforceSources) {
          em.get("allow_sources").convert(() -> dev.conduit.netfilter.IpNetwork.parse(c));
        }
      }
      return new MeshServerSection(new MeshConfig.Server(bool(m, "enable"), listen, allow), enforcePorts,
          enforceSources);
    });
  }

  private static MeshConfig.Tls tls(ConfigNode node) {
    if (node == null || node.isNull()) {
      return null;
    }
    Map<String, ConfigNode> m = node.mapping(TLS_KEYS);
    List<MeshConfig.CertKey> certs = new ArrayList<>();
    for (ConfigNode c : sequence(m, "certs")) {
      Map<String, ConfigNode> cm = c.mapping(CERT_KEYS);
      certs.add(new MeshConfig.CertKey(string(cm, "cert"), string(cm, "key")));
    }
    return new MeshConfig.Tls(bool(m, "enable"), bool(m, "mtls"), strings(m, "cas"), certs,
        bool(m, "insecure_skip_verify"), bool(m, "multiplex"));
  }

  private static List<ConfigNode> sequence(Map<String, ConfigNode> m, String key) {
    return m.containsKey(key) ? m.get(key).sequence() : List.of();
  }

  private static String string(Map<String, ConfigNode> m, String key) {
    ConfigNode n = m.get(key);
    return n == null || n.isNull() ? null : n.string();
  }

  private static List<String> strings(Map<String, ConfigNode> m, String key) {
    ConfigNode n = m.get(key);
    return n == null || n.isNull() ? List.of() : n.strings();
  }

  private static int integer(Map<String, ConfigNode> m, String key) {
    ConfigNode n = m.get(key);
    return n == null || n.isNull() ? 0 : n.integer(0, Integer.MAX_VALUE);
  }

  private static boolean bool(Map<String, ConfigNode> m, String key) {
    ConfigNode n = m.get(key);
    return n != null && !n.isNull() && n.bool();
  }
}
