package dev.conduit.cli.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.snakeyaml.engine.v2.api.Dump;
import org.snakeyaml.engine.v2.api.DumpSettings;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * The key reference and the JSON Schema cannot drift from the loader: each mapping's keys are the ones
 * the loader accepts there, a configuration with every key loads, the schema validates the README's
 * configurations, and the committed files are what the code generates.
 */
class ConfigReferenceTest {

  private static final Path ROOT = Path.of(System.getProperty("user.dir")).resolve("..").normalize();
  private static final Path MARKDOWN = ROOT.resolve("docs/config-reference.md");
  private static final Path SCHEMA = ROOT.resolve("docs/conduit.schema.json");

  /** Every key of the reference (but the two refused sections), each with a value the loader accepts. */
  static final String EVERY_KEY = """
      version: 1
      log: {level: info, format: text, file: /tmp/conduit-reference.log, maxsize: 10, maxrolls: 3, access: logfmt}
      listeners:
        - name: mixed
          type: mixed
          listen: 127.0.0.1:0
          auth: {users: [{username: alice, password: s3cret}, "bob:hunter2"]}
          allow_sources: [127.0.0.0/8]
          udp: true
        - {name: t, type: transparent, mode: tproxy, listen: 127.0.0.1:0}
      outbounds:
        - name: corp
          hops:
            - protocol: https
              endpoints: [proxy.corp.example:3128]
              credentials: {username: svc, password: pw}
              tls: {server_name: proxy.corp.example}
              forward_client_address: true
            - socks5://10.0.0.3:1080
      rules:
        - name: corp
          match:
            domains: [intranet]
            domain_suffixes: [corp.example]
            cidrs: [10.0.0.0/8]
            ports: [443, "8000-8100"]
            source_cidrs: [127.0.0.0/8]
            listeners: [mixed]
            principals: [alice]
          action: {via: corp}
      default: direct
      timeouts: {dial: 10s, negotiation: 10s, http_idle: 4m, http_response: 2m, relay_idle: 0, drain: 30s}
      tcp_keepalive: on
      splice: false
      dns: {servers: ["127.0.0.1:5353"], search: [corp.example], ndots: 1}
      client:
        enable: false
        network: tcp
        listen: 127.0.0.1:0
        check_time: 10
        forward_table: [{dst: ":80", dst_as: "10.0.0.9:8080", peer_index: 0}]
        peers:
          - index: 0
            network: tcp
            addresses: ["10.0.0.2:15053"]
            tls: {enable: false, mtls: false, cas: [ca.crt], certs: [{cert: a.crt, key: a.key}],
                  insecure_skip_verify: false, multiplex: false}
        capture: false
        multiplex: false
      server:
        enable: false
        listen:
          network: tcp
          addr: "127.0.0.1:0"
          tls: {enable: false, mtls: false, cas: [ca.crt], certs: [{cert: s.crt, key: s.key}],
                insecure_skip_verify: false, multiplex: false}
        allow: [{peer: "*", cidrs: [10.0.0.0/8], ports: [80], domains: [intranet]}]
        enforce: {ports: ["3306", "8000-8099"], allow_sources: [10.0.0.0/8]}
      admin: {listen: 127.0.0.1:0, token_file: /etc/conduit/token}
      manager:
        enable: false
        dial: {network: tcp, addresses: ["10.0.0.17:5051"]}
        name: host-a
        token_file: /etc/conduit/join-token
        ca_pin: "sha256:0000000000000000000000000000000000000000000000000000000000000000"
        state_dir: /var/lib/conduit/mesh
        push: ["10.0.0.17:5052"]
        addresses: [10.0.0.11]
      egress_server:
        listen: 127.0.0.1:0
        store: /tmp/egress.db
        store_user: egress
        store_password_file: /etc/conduit/egress-db-password
        admin_token_file: /etc/conduit/admin-tokens
        http_tls_cert: /etc/conduit/egress-https.crt
        http_tls_key: /etc/conduit/egress-https.key
        admin_ca: /etc/conduit/admins-ca.crt
        max_request_bytes: 65536
        push_listen: 127.0.0.1:0
        tls_cert: /etc/conduit/push.crt
        tls_key: /etc/conduit/push.key
        tls_ca: /etc/conduit/gateways-ca.crt
        gateway_token_file: /etc/conduit/gateway-tokens
        dns_servers: ["127.0.0.1:53"]
        resolve_interval: 5m
        grace_period: 15m
        allow_special: [198.18.0.0/15]
        expose_seed_api: false
      cache: {cert_dir: /tmp/certs, cache_dir: /tmp/cache, listen: 127.0.0.1:0, tls_listen: 127.0.0.1:0,
              tls_names: [localhost], intercept: [quay.io], filters: ['\\.deb$'], trust_upstream_cas: [],
              max_cache_size: 1000000}
      overload: {memory_budget: 192m, fd_budget: 4000, enabled: true}
      """;

  private static ConduitConfig load(String yaml) {
    return ConfigLoader.standard().withEnvironment(Map.of()).load(yaml, "conduit.yaml");
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> everyKey() {
    return (Map<String, Object>) new Load(LoadSettings.builder().build()).loadFromString(EVERY_KEY);
  }

  /** The keys EVERY_KEY cannot hold with the others: one of two exclusive keys, a file that must exist. */
  private static String otherKeys() throws Exception {
    io.netty.handler.ssl.util.SelfSignedCertificate ca = new io.netty.handler.ssl.util.SelfSignedCertificate("ca.test");
    return "version: 1\nlisteners: [{name: m, type: mixed, mode: redirect, listen: 127.0.0.1:0}]\n"
        .replace("type: mixed, mode: redirect", "type: transparent, mode: redirect")
        + "outbounds: [{name: c, hops: [{protocol: https, endpoints: [h.test:443], tls: {ca_file: \""
        + ca.certificate().getPath() + "\"}}]}]\n"
        + "admin: {token: t0ken, tls_cert: \"" + ca.certificate().getPath() + "\", tls_key: \""
        + ca.privateKey().getPath() + "\", client_ca: \"" + ca.certificate().getPath()
        + "\", client_certificates: required}\n"
        + "manager: {token: ID.SECRET}\n";
  }

  @Test
  void aConfigurationWithEveryKeyLoads() throws Exception {
    load(EVERY_KEY);
    String other = otherKeys();
    load(other);
    List<String> missing = new ArrayList<>();
    Map<String, Object> merged = everyKey();
    @SuppressWarnings("unchecked")
    Map<String, Object> otherDoc = (Map<String, Object>) new Load(LoadSettings.builder().build()).loadFromString(other);
    covered(List.of(merged, otherDoc), ConfigReference.top(), "", missing);
    assertThat(missing).as("keys of the reference missing from EVERY_KEY and otherKeys()").isEmpty();
  }

  /** Whether each key is in one of the mappings, and its children in one of the mappings under it. */
  @SuppressWarnings("unchecked")
  private static void covered(List<Map<String, Object>> maps, List<ConfigReference.Key> keys, String path,
      List<String> missing) {
    for (ConfigReference.Key k : keys) {
      if (k.kind() == ConfigReference.Kind.UNSUPPORTED) {
        continue;
      }
      List<Map<String, Object>> children = new ArrayList<>();
      boolean present = false;
      for (Map<String, Object> map : maps) {
        if (map.containsKey(k.name())) {
          present = true;
          Object value = map.get(k.name());
          if (value instanceof Map<?, ?> m) {
            children.add((Map<String, Object>) m);
          } else if (value instanceof List<?> l) {
            l.stream().filter(Map.class::isInstance).forEach(item -> children.add((Map<String, Object>) item));
          }
        }
      }
      if (!present) {
        missing.add(path + k.name());
      } else if (!k.children().isEmpty()) {
        covered(children, k.children(), path + k.name() + ".", missing);
      }
    }
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> firstMapping(Object value) {
    if (value instanceof Map<?, ?> m) {
      return (Map<String, Object>) m;
    }
    if (value instanceof List<?> l) {
      return (Map<String, Object>) l.stream().filter(Map.class::isInstance).findFirst().orElse(null);
    }
    return null;
  }

  /** For each mapping of the reference, an unknown key there makes the loader list the keys it accepts. */
  @Test
  void eachMappingsKeysAreTheLoaders() {
    checkKeys(List.of(), ConfigReference.top(), "");
  }

  @SuppressWarnings("unchecked")
  private static void checkKeys(List<String> where, List<ConfigReference.Key> keys, String label) {
    Map<String, Object> doc = everyKey();
    Map<String, Object> target = doc;
    for (String part : where) {
      target = firstMapping(target.get(part));
    }
    target.put("zz_unknown", 1);
    String yaml = new Dump(DumpSettings.builder().build()).dumpToString(doc);
    try {
      load(yaml);
      fail("no error for an unknown key in " + label);
    } catch (ConfigException e) {
      Matcher m = Pattern.compile("unknown key 'zz_unknown' .*\\(expected one of: (.*)\\)").matcher(e.getMessage());
      assertThat(m.find()).as(label + ": " + e.getMessage()).isTrue();
      assertThat(List.of(m.group(1).split(", "))).as("the keys of " + (label.isEmpty() ? "the top level" : label))
          .containsExactlyElementsOf(keys.stream().map(ConfigReference.Key::name).toList());
    }
    for (ConfigReference.Key k : keys) {
      if (!k.children().isEmpty()) {
        List<String> deeper = new ArrayList<>(where);
        deeper.add(k.name());
        checkKeys(deeper, k.children(), label.isEmpty() ? k.name() : label + "." + k.name());
      }
    }
  }

  @Test
  void theSchemaValidatesTheReadmesConfigurationsAndRefusesMistakes() throws Exception {
    Schema schema = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12)
        .getSchema(ConfigReference.jsonSchemaText());
    List<String> examples = new ArrayList<>();
    String readme = Files.readString(ROOT.resolve("README.md"), StandardCharsets.UTF_8);
    Matcher blocks = Pattern.compile("```yaml\n(.*?)```", Pattern.DOTALL).matcher(readme);
    while (blocks.find()) {
      // the manager's manager.yaml (conduit_manager, db, cert) has a format of its own
      if (!blocks.group(1).matches("(?s)(.*\n)?\\s*(conduit_manager|db|cert):.*")) {
        examples.add(blocks.group(1));
      }
    }
    assertThat(examples).as("the README's yaml blocks").hasSizeGreaterThanOrEqualTo(3);
    examples.add(Files.readString(ROOT.resolve("conduit-cli/src/dist/conf/conduit.yaml"), StandardCharsets.UTF_8));
    examples.add(EVERY_KEY);
    for (String yaml : examples) {
      assertThat(errors(schema, yaml)).as(yaml).isEmpty();
    }
    String base = "version: 1\nlisteners:\n  - {name: m, type: mixed, listen: 127.0.0.1:0}\n";
    assertThat(errors(schema, base + "log: {level: loud}\n")).isNotEmpty();
    assertThat(errors(schema, base + "timeouts: {dial: 5}\n")).isNotEmpty();
    assertThat(errors(schema, base + "listner: x\n")).isNotEmpty();
    assertThat(errors(schema, base.replace("type: mixed, ", "") )).isNotEmpty();
    assertThat(errors(schema, base + "transparent: {}\n")).isNotEmpty();
  }

  private static List<String> errors(Schema schema, String yaml) {
    Object doc = new Load(LoadSettings.builder().build()).loadFromString(yaml);
    JsonNode json = new ObjectMapper().valueToTree(doc);
    return schema.validate(json).stream().map(Error::toString).toList();
  }

  /** The committed reference and schema are what the code generates; -Dconduit.docs.update=true rewrites them. */
  @Test
  void theCommittedFilesAreGenerated() throws Exception {
    Map<Path, String> generated = new LinkedHashMap<>();
    generated.put(MARKDOWN, ConfigReference.markdown());
    generated.put(SCHEMA, ConfigReference.jsonSchemaText());
    if (Boolean.getBoolean("conduit.docs.update")) {
      for (Map.Entry<Path, String> e : generated.entrySet()) {
        Files.createDirectories(e.getKey().getParent());
        Files.writeString(e.getKey(), e.getValue(), StandardCharsets.UTF_8);
      }
    }
    for (Map.Entry<Path, String> e : generated.entrySet()) {
      assertThat(Files.exists(e.getKey())).as(e.getKey() + " exists (generate it with -Dconduit.docs.update=true)")
          .isTrue();
      assertThat(Files.readString(e.getKey(), StandardCharsets.UTF_8))
          .as(e.getKey() + " is what ConfigReference generates (regenerate with -Dconduit.docs.update=true)")
          .isEqualTo(e.getValue());
    }
  }
}
