package dev.conduit.cli.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.TcpKeepAlive;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.route.RouteDecision;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigLoaderTest {

  static final String FULL = """
      version: 1
      listeners:
        - name: http
          type: http
          listen: 127.0.0.1:0
          allow_sources: [127.0.0.0/8, "::1"]
        - name: socks
          type: socks
          listen: 127.0.0.1:0
          udp: true
          auth:
            users:
              - {username: alice, password: s3cret}
              - "bob:hunter2"
      outbounds:
        - name: corp
          hops:
            - socks5://svc:pw@10.0.0.3:1080
            - protocol: http
              endpoints: [proxy-a.corp:3128, proxy-b.corp:3128]
              credentials: {username: u, password: p}
        - name: nowhere
          hops: []
      rules:
        - name: metadata
          match: {cidrs: [169.254.0.0/16]}
          action: reject
        - name: corp
          match:
            domain_suffixes: [corp.example.com]
            domains: [intranet]
            ports: [443, "8000-8100"]
            source_cidrs: [10.0.0.0/8]
            listeners: [socks]
            principals: [alice]
          action: {via: corp}
        - name: rest
          action: direct
      default: {reject: not allowed}
      timeouts:
        dial: 5s
        negotiation: 1500ms
        http_idle: 1h30m
        relay_idle: 10m
        drain: 0
      tcp_keepalive: 45:45:3
      splice: true
      log:
        level: debug
        format: json
        file: /var/log/conduit.log
        maxsize: 10
      """;

  private static ConduitConfig load(String yaml) {
    return ConfigLoader.standard().load(yaml, "conduit.yaml");
  }

  private static String error(String yaml) {
    try {
      load(yaml);
    } catch (ConfigException e) {
      return e.getMessage();
    }
    throw new AssertionError("no error for:\n" + yaml);
  }

  @Test
  void readsEverySection() {
    ConduitConfig c = load(FULL);
    assertThat(c.listeners()).extracting(ListenerConfig::name).containsExactly("http", "socks");
    assertThat(c.listeners().get(0).allowSources()).containsExactly("127.0.0.0/8", "::1");
    assertThat(c.listeners().get(1).users()).extracting(u -> u.username()).containsExactly("alice", "bob");
    assertThat(c.listeners().get(1).users().get(1).password()).isEqualTo("hunter2");
    assertThat(c.listeners()).extracting(ListenerConfig::udp).containsExactly(false, true);
    assertThat(c.describe()).contains("    udp: true\n");
    assertThat(c.outbounds()).extracting(OutboundConfig::name).containsExactly("corp", "nowhere");
    Hop second = c.outbounds().get(0).hops().get(1).hop();
    assertThat(second.protocol()).isEqualTo(Hop.Protocol.HTTP);
    assertThat(second.endpoints()).hasSize(2);
    assertThat(second.credentials()).isPresent();
    assertThat(c.outbounds().get(1).toOutbound().isDirect()).isTrue();
    assertThat(c.rules()).extracting(RuleConfig::name).containsExactly("metadata", "corp", "rest");
    assertThat(c.rules().get(0).action()).isInstanceOf(RouteDecision.Reject.class);
    assertThat(c.rules().get(1).action()).isEqualTo(RouteDecision.via("corp"));
    assertThat(c.rules().get(1).ports()).containsExactly("443", "8000-8100");
    assertThat(c.rules().get(2).action()).isEqualTo(RouteDecision.direct());
    assertThat(c.defaultDecision()).isEqualTo(RouteDecision.reject("not allowed"));
    assertThat(c.timeouts().dial()).isEqualTo(Duration.ofSeconds(5));
    assertThat(c.timeouts().negotiation()).isEqualTo(Duration.ofMillis(1500));
    assertThat(c.timeouts().httpIdle()).isEqualTo(Duration.ofMinutes(90));
    assertThat(c.timeouts().relayIdle()).isEqualTo(Duration.ofMinutes(10));
    assertThat(c.timeouts().drain()).isZero();
    assertThat(c.tcpKeepAlive()).isEqualTo(TcpKeepAlive.of(45, 45, 3));
    assertThat(c.log()).isEqualTo(new LogConfig("debug", "json", java.util.Optional.of("/var/log/conduit.log"), 10, 3));
    assertThat(c.router().rules()).hasSize(3);
    assertThat(c.toConduitBuilder()).isNotNull();
  }

  /** The README's {@code conduit run} example is a configuration this build accepts, as it says. */
  @Test
  void readmeExampleLoads() throws Exception {
    String readme = java.nio.file.Files.readString(java.nio.file.Path.of("..", "README.md"));
    int section = readme.indexOf("### `conduit run -c conduit.yaml`");
    assertThat(section).as("the README's conduit run section").isNotNegative();
    int start = readme.indexOf("```yaml\n", section) + "```yaml\n".length();
    String yaml = readme.substring(start, readme.indexOf("```", start));
    ConduitConfig c = load(yaml);
    assertThat(c.listeners()).extracting(ListenerConfig::name).containsExactly("mixed", "http");
    assertThat(c.outbounds()).extracting(OutboundConfig::name).containsExactly("corp");
    assertThat(c.tcpKeepAlive()).isEqualTo(TcpKeepAlive.ON);
  }

  @Test
  void describeShowsTheEffectiveConfigWithSecretsMasked() {
    String d = load(FULL).describe();
    assertThat(d).contains("password: '****'", "username: svc\n          password: '****'",
        "username: u\n          password: '****'", "action:\n      via: corp", "dial: 5s",
        "http_idle: 1h30m", "negotiation: 1500ms", "default:\n  reject: not allowed", "tcp_keepalive: 45:45:3",
        "splice: true");
    assertThat(d).doesNotContain("s3cret", "hunter2", ":pw@", ":p@");
    // the description is itself a valid configuration minus the masked secrets' meaning
    assertThat(load("version: 1\nlisteners:\n  - {name: a, type: mixed, listen: \":0\"}\n").describe())
        .contains("listen: 0.0.0.0:0", "timeouts:\n  dial: 10s\n  negotiation: 10s\n  http_idle: 4m\n"
            + "  relay_idle: '0'\n  drain: 30s\n", "default: direct", "tcp_keepalive: on", "splice: false");
  }

  @Test
  void dnsSectionSetsTheResolver() {
    String base = "version: 1\nlisteners:\n  - {name: a, type: socks, listen: 127.0.0.1:0}\n";
    ConduitConfig c = load(base + "dns: {servers: [\"127.0.0.1:5353\", 10.0.0.2, \"[::1]:53\"], search: [corp.example], ndots: 2}\n");
    DnsConfig dns = c.dns().orElseThrow();
    assertThat(dns.servers()).containsExactly("127.0.0.1:5353", "10.0.0.2", "[::1]:53");
    assertThat(DnsConfig.server("127.0.0.1:5353")).isEqualTo(new java.net.InetSocketAddress("127.0.0.1", 5353));
    assertThat(DnsConfig.server("10.0.0.2")).isEqualTo(new java.net.InetSocketAddress("10.0.0.2", 53));
    assertThat(DnsConfig.server("[::1]:53")).isEqualTo(new java.net.InetSocketAddress("::1", 53));
    assertThat(dns.search()).contains(java.util.List.of("corp.example"));
    assertThat(dns.ndots()).hasValue(2);
    assertThat(c.describe()).contains("dns:\n  servers: ['127.0.0.1:5353', 10.0.0.2, '[::1]:53']\n"
        + "  search: [corp.example]\n  ndots: 2\n");
    dev.conduit.core.ConduitResources resources = c.toResourcesBuilder().ioThreads(1).build();
    resources.close();
    // the section is optional, and each key in it
    assertThat(load(base).dns()).isEmpty();
    assertThat(load(base).describe()).doesNotContain("dns:");
    DnsConfig searchOnly = load(base + "dns: {search: []}\n").dns().orElseThrow();
    assertThat(searchOnly.servers()).isEmpty();
    assertThat(searchOnly.search()).contains(java.util.List.of());
    assertThat(searchOnly.ndots()).isEmpty();
    assertThat(error(base + "dns:\n  servers: [127.0.0.1:5353, dns.example]\n"))
        .isEqualTo("conduit.yaml:5: dns.servers[1]: DNS server 'dns.example' is not an IP address (expected: ip or ip:port)");
    assertThat(error(base + "dns:\n  servers: []\n"))
        .isEqualTo("conduit.yaml:5: dns.servers: empty (expected: at least one ip or ip:port, or no 'servers' for resolv.conf's)");
    assertThat(error(base + "dns:\n  ndots: 16\n")).isEqualTo("conduit.yaml:5: dns.ndots: 16 (expected: 0-15)");
    assertThat(error(base + "dns:\n  search: [corp..example]\n")).isEqualTo("conduit.yaml:5: dns.search: searchDomains:"
        + " 'corp..example' is not a domain name (expected e.g. corp.example: no whitespace, no empty labels)");
    assertThat(error(base + "dns:\n  servrs: [127.0.0.1]\n")).startsWith("conduit.yaml:5: unknown key 'servrs' in dns"
        + " (expected one of: servers, search, ndots)");
  }

  @Test
  void seed000LogKeysAreAccepted() {
    ConduitConfig c = load("version: 1\nlisteners:\n  - {name: a, type: socks, listen: 127.0.0.1:0}\n"
        + "log:\n  maxsize: 10\n  level: debug\n  file: /opt/conduit/log/conduit.log\n  maxrolls: 5\n");
    assertThat(c.log().maxSizeMegabytes()).isEqualTo(10);
    assertThat(c.log().maxBackups()).isEqualTo(5);
  }

  @Test
  void transparentListenersTakeAMode() {
    ConduitConfig c = load("version: 1\nlisteners:\n  - {name: t, type: transparent, mode: tproxy, listen: 127.0.0.1:0}\n"
        + "  - {name: r, type: transparent, listen: 127.0.0.1:0}\n");
    assertThat(c.listeners()).extracting(ListenerConfig::type)
        .containsExactly(ListenerConfig.Type.TPROXY, ListenerConfig.Type.REDIRECT);
    assertThat(c.describe()).contains("type: transparent\n    mode: tproxy").contains("mode: redirect");
    assertThat(error("version: 1\nlisteners:\n  - {name: t, type: transparent, mode: tun, listen: 127.0.0.1:0}\n"))
        .isEqualTo("conduit.yaml:3: listeners[0].mode: 'tun' (expected: redirect or tproxy)");
    assertThat(error("version: 1\nlisteners:\n  - {name: h, type: http, mode: tproxy, listen: 127.0.0.1:0}\n"))
        .isEqualTo("conduit.yaml:3: listeners[0].mode: 'mode' applies to type: transparent only");
  }

  @Test
  void unknownKeyNamesTheLineAndTheExpectedKeys() {
    String yaml = "version: 1\nlisteners:\n  - name: a\n    type: socks\n    listner: 127.0.0.1:0\n";
    assertThat(error(yaml)).isEqualTo("conduit.yaml:5: unknown key 'listner' in listeners[0]"
        + " (expected one of: name, type, mode, listen, auth, allow_sources, udp)");
    assertThat(error("version: 1\nlistener: []\n")).startsWith("conduit.yaml:2: unknown key 'listener' at the top level"
        + " (expected one of: version, log, listeners, outbounds, rules, default, timeouts, tcp_keepalive, splice, dns,"
        + " client,");
  }

  @ParameterizedTest(name = "{1}")
  @CsvSource(delimiter = '|', value = {
      "listeners:\\n  - name: a\\n    type: socks\\n    listen: {ip: 1}|conduit.yaml:5: listeners[0].listen: expected a string, got a mapping",
      "listeners: x|conduit.yaml:2: listeners: expected a list (- item lines or [a, b]), got 'x'",
      "listeners:\\n  - {name: a, type: http, listen: 127.0.0.1:0, udp: true}|conduit.yaml:3: listeners[0].udp: 'udp' applies to type: socks, mixed and tproxy only",
      "listeners:\\n  - {name: a, type: socks, listen: 127.0.0.1:0, udp: yes}|conduit.yaml:3: listeners[0].udp: expected true or false, got 'yes'",
      "listeners:\\n  - name: a\\n    type: ftp\\n    listen: 127.0.0.1:0|conduit.yaml:4: listeners[0].type: 'ftp' (expected: http, socks, mixed or transparent)",
      "listeners:\\n  - name: a\\n    type: socks|conduit.yaml:3: listeners[0]: missing 'listen'",
      "listeners:\\n  - {name: a, type: socks, listen: 127.0.0.1:0}\\n  - {name: a, type: http, listen: 127.0.0.1:0}|conduit.yaml:4: listeners[1].name: listener name 'a' is already used at line 3 (expected: unique names)",
      "listeners:\\n  - {name: a, type: socks, listen: 127.0.0.1:0}\\nrules:\\n  - {name: r, action: {via: corp}}|conduit.yaml:5: rules[0].action: no outbound named 'corp'",
      "listeners:\\n  - {name: a, type: socks, listen: 127.0.0.1:0}\\nrules:\\n  - {name: r, match: {listeners: [b]}, action: direct}|conduit.yaml:5: rules[0].match.listeners: no listener named 'b'",
      "listeners:\\n  - {name: a, type: socks, listen: 127.0.0.1:0}\\nrules:\\n  - name: r\\n    match:\\n      ports:\\n        - 80\\n        - 70000\\n    action: direct|conduit.yaml:9: rules[0].match.ports[1]: port: 70000 (expected: 1-65535, or a range such as 8000-8100)",
      "listeners:\\n  - {name: a, type: socks, listen: 127.0.0.1:0}\\nrules:\\n  - {name: r, match: {cidrs: [10.0.0.0/33]}, action: direct}|conduit.yaml:5: rules[0].match.cidrs[0]:",
      "listeners:\\n  - {name: a, type: socks, listen: 127.0.0.1:0}\\noutbounds:\\n  - {name: o, hops: [ftp://x]}\\n  - {name: o, hops: []}|conduit.yaml:5: outbounds[0].hops[0]: upstream: ftp://x (expected scheme",
      "listeners:\\n  - {name: a, type: socks, listen: 127.0.0.1:0}\\noutbounds:\\n  - {name: o}\\n  - {name: o}|conduit.yaml:6: outbounds[1].name: outbound name 'o' is already used at line 5",
      "listeners:\\n  - {name: a, type: socks, listen: 127.0.0.1:0}\\ntimeouts:\\n  dial: 10|conduit.yaml:5: timeouts.dial: '10' has no unit (expected: a duration such as 10s or 10ms)",
      "listeners:\\n  - {name: a, type: socks, listen: 127.0.0.1:0}\\ntimeouts:\\n  dial: 0|conduit.yaml:5: timeouts.dial: 0 (expected: more than 0)",
      "listeners:\\n  - {name: a, type: socks, listen: 127.0.0.1:0}\\ntcp_keepalive: sometimes|conduit.yaml:4: tcp_keepalive: tcp keepalive: sometimes",
      "listeners:\\n  - {name: a, type: socks, listen: 127.0.0.1:0}\\nsplice: on|conduit.yaml:4: splice: expected true or false, got 'on'",
      "listeners:\\n  - {name: a, type: socks, listen: 127.0.0.1:0}\\ndefault: {via: x, reject: y}|conduit.yaml:4: default: expected one of direct, reject",
      "listeners:\\n  - {name: a, type: socks, listen: 127.0.0.1:0}\\nlog:\\n  maxsize: ten|conduit.yaml:5: log.maxsize: expected an integer, got 'ten'",
      "listeners:\\n  - {name: a, type: socks, listen: 127.0.0.1:0}\\nlisteners: []|conduit.yaml:4: duplicate key 'listeners' at the top level (first at line 2)",
      "listeners: []|conduit.yaml:2: no listener (expected: a listeners section with at least one listener, or a cache or egress_server section)",
      "listeners:\\n  - {name: a, type: socks, listen: [127.0.0.1:0|conduit.yaml:3: not valid YAML: expected ',' or ']'",
      "client:\\n  enable: true\\nlog: {level: debug}|conduit.yaml:3: client.listen: empty (expected: ip:port)",
      "client:\\n  enable: true\\n  capture: maybe|conduit.yaml:4: client.capture: expected true or false, got 'maybe'",
      "admin: {token: x, token_file: /t}|conduit.yaml:2: admin: token and token_file both set (expected: one of them)",
      "log: {access: xml}|conduit.yaml:2: log.access: access log: 'xml' (expected: logfmt, json or off)",
      "manager:\\n  enable: true|conduit.yaml:3: manager: dial.addresses: empty (expected: the manager's HOST:PORT",
      "manager: {enable: true, dial: {addresses: [10.0.0.1:5051]}}|conduit.yaml: nothing to run (expected: client.enable: true or server.enable: true)"})
  void badFilesNameTheLineAndWhatIsExpected(String body, String expected) {
    assertThat(error("version: 1\n" + body.replace("\\n", "\n"))).startsWith(expected);
  }

  @Test
  void seed000FilesNeedNoVersion() {
    String seed000 = "server:\n  enable: true\n  listen:\n    network: tcp\n    addr: 172.168.0.11:5053\n"
        + "log:\n  maxsize: 10\n  level: debug\n  file: /opt/conduit/log/conduit.log\n";
    ConduitConfig c = load(seed000);
    assertThat(c.runsMesh()).isTrue();
    assertThat(c.mesh().orElseThrow().server().listen().addr()).isEqualTo("172.168.0.11:5053");
    assertThat(c.log().file()).contains("/opt/conduit/log/conduit.log");
    assertThat(c.log().maxSizeMegabytes()).isEqualTo(10);
  }

  /** Seed 000's mesh conduit.yaml, as its README writes it. */
  static final String SEED_MESH_CONDUIT_YAML = """
      manager:
        enable: true
        dial:
          network: tcp
          addresses:
            - 172.168.0.17:5051

      server:
        enable: true
        listen:
          network: tcp
          addr: 172.168.0.11:5053

      client:
        enable: true
        network: tcp
        listen: 127.0.0.1:5052
        check_time: 60

      log:
        maxsize: 10
        level: debug
        file: /opt/conduit/log/conduit.log
      """;

  @Test
  void seed000MeshFileIsAMeshMember() {
    ConduitConfig c = load(SEED_MESH_CONDUIT_YAML);
    MeshNodeConfig node = c.meshNode().orElseThrow();
    assertThat(node.dial()).containsExactly("172.168.0.17:5051");
    assertThat(node.stateDirectory()).isEqualTo(MeshNodeConfig.DEFAULT_STATE_DIRECTORY);
    assertThat(node.token()).isEmpty();
    assertThat(c.mesh().orElseThrow().client().listen()).isEqualTo("127.0.0.1:5052");
    assertThat(c.mesh().orElseThrow().server().listen().addr()).isEqualTo("172.168.0.11:5053");

    ConduitConfig own = load(SEED_MESH_CONDUIT_YAML.replace("    network: tcp\n    addresses:",
        "    network: tcp\n    addresses:").replace("  enable: true\n  dial:", "  enable: true\n  name: host-a\n"
        + "  token: abcdef.0123456789abcdef\n  state_dir: /tmp/m\n  push: [172.168.0.17:6000]\n  dial:"));
    assertThat(own.meshNode().orElseThrow().name()).contains("host-a");
    assertThat(own.describe()).contains("token: '****'").doesNotContain("0123456789abcdef");
    assertThat(own.meshNode().orElseThrow().toString()).doesNotContain("0123456789abcdef");

    // the manager supplies peers and certificates: hand-written ones are refused, not ignored
    assertThat(error(SEED_MESH_CONDUIT_YAML.replace("  check_time: 60\n", "  check_time: 60\n  forward_table:\n"
        + "    - {dst: \":80\", peer_index: 1}\n"))).contains("client.forward_table/peers: set with manager.enable");
    assertThat(error(SEED_MESH_CONDUIT_YAML.replace("    addr: 172.168.0.11:5053\n",
        "    addr: 172.168.0.11:5053\n    tls: {enable: true}\n"))).contains("server.listen.tls: set with manager");
    assertThat(error(SEED_MESH_CONDUIT_YAML.replace("- 172.168.0.17:5051", "- nowhere"))).contains("dial.addresses");
    assertThat(error(SEED_MESH_CONDUIT_YAML.replace("  enable: true\n  dial:", "  enable: true\n  name: \"Not A"
        + " Label\"\n  dial:"))).contains("manager.name");
  }

  @Test
  void versionIsRequiredAndMustBe1() {
    assertThat(error("listeners: []\n")).isEqualTo("conduit.yaml:1: missing 'version: 1' (expected as the first line)");
    assertThat(error("version: 2\n")).isEqualTo("conduit.yaml:1: version: 2 (expected: 1, the only version this build reads)");
    assertThat(error("")).startsWith("conduit.yaml: empty");
  }

  @Test
  void sectionsCanBeAdded() {
    ConfigSection extra = new ConfigSection() {
      @Override
      public String name() {
        return "transparent";
      }

      @Override
      public void read(ConfigNode node, ConduitConfig.Builder config) {
        node.mapping(java.util.List.of("listen"));
      }
    };
    ConfigLoader loader = ConfigLoader.standard().withSection(extra);
    assertThat(loader.sectionNames()).contains("transparent");
    ConduitConfig c = loader.load("version: 1\nlisteners:\n  - {name: a, type: socks, listen: 127.0.0.1:0}\n"
        + "transparent: {listen: 127.0.0.1:15001}\n", "x.yaml");
    assertThat(c.listeners()).hasSize(1);
    assertThatThrownBy(() -> ConfigLoader.standard().load("version: 1\ntransparent: {}\n", "x.yaml"))
        .hasMessageContaining("not supported yet");
  }

  @Test
  void durations() {
    assertThat(Durations.parse("1h30m")).isEqualTo(Duration.ofMinutes(90));
    assertThat(Durations.parse("1.5h")).isEqualTo(Duration.ofMinutes(90));
    assertThat(Durations.parse("500ms")).isEqualTo(Duration.ofMillis(500));
    assertThat(Durations.parse("90d")).isEqualTo(Duration.ofDays(90));
    assertThat(Durations.parse("2us")).isEqualTo(Duration.ofNanos(2000));
    assertThat(Durations.parse("0")).isZero();
    for (String bad : new String[] {"", "10", "s", "10x", "1..5s", "-1s"}) {
      assertThatThrownBy(() -> Durations.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("expected: a number with a unit");
    }
    for (String s : new String[] {"1h30m", "500ms", "10s", "4m", "90d", "0", "1h0m5s"}) {
      assertThat(Durations.parse(Durations.format(Durations.parse(s)))).isEqualTo(Durations.parse(s));
    }
  }
}
