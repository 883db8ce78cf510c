package dev.conduit.cli.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.Credentials;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Environment overrides, secrets read from files, and {@code check}'s output loading back. */
class ConfigOverridesTest {

  private static final String BASE = """
      version: 1
      listeners:
        - name: mixed
          type: mixed
          listen: 127.0.0.1:0
      log:
        level: info
      """;

  private static ConduitConfig load(String yaml, Map<String, String> env) {
    return ConfigLoader.standard().withEnvironment(env).load(yaml, "conduit.yaml");
  }

  private static String error(String yaml, Map<String, String> env) {
    try {
      load(yaml, env);
    } catch (ConfigException e) {
      return e.getMessage();
    }
    throw new AssertionError("loaded without error");
  }

  @Test
  void variablesOverrideKeysAndAddMissingOnes() {
    ConduitConfig c = load(BASE, Map.of(
        "CONDUIT_LOG__LEVEL", "debug",
        "CONDUIT_TIMEOUTS__HTTP_IDLE", "1m",
        "CONDUIT_LISTENERS__0__LISTEN", "127.0.0.1:18080",
        "CONDUIT_LISTENERS__0__ALLOW_SOURCES", "[10.0.0.0/8, 127.0.0.1/32]",
        "CONDUIT_LISTENERS__1__NAME", "http",
        "CONDUIT_LISTENERS__1__TYPE", "http",
        "CONDUIT_LISTENERS__1__LISTEN", "127.0.0.1:0",
        "CONDUIT_SPLICE", "true",
        "CONDUIT_JAVA_OPTS", "-Xmx64m", // the launcher's, not a key: ignored
        "CONDUIT_ADMIN__LISTEN", "127.0.0.1:0"));
    assertThat(c.log().level()).isEqualTo("debug");
    assertThat(c.timeouts().httpIdle()).isEqualTo(Duration.ofMinutes(1));
    assertThat(c.listeners()).extracting(ListenerConfig::name).containsExactly("mixed", "http");
    assertThat(c.listeners().get(0).listen()).isEqualTo("127.0.0.1:18080");
    assertThat(c.listeners().get(0).allowSources()).containsExactly("10.0.0.0/8", "127.0.0.1/32");
    assertThat(c.splice()).isTrue();
    assertThat(c.admin().orElseThrow().listen()).isEqualTo("127.0.0.1:0");
  }

  @Test
  void aBadVariableIsNamedInTheError() {
    assertThat(error(BASE, Map.of("CONDUIT_LOG__LEVEL", "loud")))
        .startsWith("$CONDUIT_LOG__LEVEL: log.level: ");
    assertThat(error(BASE, Map.of("CONDUIT_LOGG__LEVEL", "debug")))
        .startsWith("$CONDUIT_LOGG__LEVEL: unknown section 'logg' (expected one of: log, listeners,");
    assertThat(error(BASE, Map.of("CONDUIT_LOG__LEVL", "debug")))
        .startsWith("$CONDUIT_LOG__LEVL: unknown key 'levl' in log (expected one of: level,");
    assertThat(error(BASE, Map.of("CONDUIT_LISTENERS__5__LISTEN", "127.0.0.1:0")))
        .isEqualTo("$CONDUIT_LISTENERS__5__LISTEN: listeners: index 5 (expected: 0-1, 1 to add an item)");
    assertThat(error(BASE, Map.of("CONDUIT_LOG__LEVEL__X", "debug")))
        .isEqualTo("$CONDUIT_LOG__LEVEL__X: log.level: the file has a value here (expected: a mapping)");
  }

  @Test
  void secretsAreReadFromFilesAndVariables(@TempDir Path dir) throws Exception {
    Path alice = dir.resolve("alice");
    Files.writeString(alice, "s3cret:with:colons\n"); // as `echo` writes it: the line break is no part of it
    String yaml = BASE + """
        outbounds:
          - name: corp
            hops:
              - protocol: socks5
                endpoints: [127.0.0.1:1080]
                credentials: {username: svc, password: "${env:SVC_PASSWORD}"}
        """;
    Map<String, String> env = Map.of("SVC_PASSWORD", "pw-from-env",
        "CONDUIT_LISTENERS__0__AUTH", "{users: [{username: alice, password: \"${file:" + alice + "}\"}]}");
    ConduitConfig c = load(yaml, env);
    assertThat(c.listeners().get(0).users()).containsExactly(new Credentials("alice", "s3cret:with:colons"));
    assertThat(c.outbounds().get(0).hops().get(0).hop().credentials()).contains(new Credentials("svc", "pw-from-env"));
    // neither the effective configuration nor an error shows a secret
    assertThat(c.describe()).doesNotContain("s3cret", "pw-from-env");
    assertThat(error(yaml, Map.of())).isEqualTo("conduit.yaml:13: outbounds[0].hops[0].credentials.password: "
        + "${env:SVC_PASSWORD}: the variable is not set");
    Path missing = dir.resolve("missing");
    assertThat(error(yaml.replace("${env:SVC_PASSWORD}", "${file:" + missing + "}"), Map.of()))
        .isEqualTo("conduit.yaml:13: outbounds[0].hops[0].credentials.password: ${file:" + missing + "}: no such file");
    Path big = dir.resolve("big");
    Files.write(big, new byte[ConfigValues.MAX_FILE_BYTES + 1]);
    assertThat(error(yaml.replace("${env:SVC_PASSWORD}", "${file:" + big + "}"), Map.of()))
        .endsWith("${file:" + big + "}: larger than 65536 bytes (expected: a secret)");
  }

  @Test
  void escapedReferencesAreKeptAsText() {
    assertThat(ConfigValues.of(Map.of("A", "x")).resolve("a$${env:A}b${env:A}")).isEqualTo("a${env:A}bx");
  }

  @Test
  void theEffectiveConfigIsYamlThatLoadsBackToTheSameConfig() {
    ConduitConfig original = ConfigLoader.standard().withEnvironment(Map.of())
        .load(ConfigLoaderTest.FULL.replace("file: /var/log/conduit.log", "file: \"/var/log/conduit: 1.log\"")
            + "admin: {listen: 127.0.0.1:0, token: hunter3}\n"
            + "dns: {servers: [\"10.0.0.2\", \"[::1]:53\"], search: [corp.example], ndots: 2}\n", "conduit.yaml");
    String printed = original.describe();
    assertThat(printed).doesNotContain("s3cret", "hunter2", "hunter3", ":pw", "password: p\n");
    ConduitConfig back = ConfigLoader.standard().withEnvironment(Map.of()).load(printed, "check output");
    // the same configuration, passwords aside
    assertThat(back.listeners()).hasSameSizeAs(original.listeners());
    for (int i = 0; i < original.listeners().size(); i++) {
      ListenerConfig a = original.listeners().get(i);
      ListenerConfig b = back.listeners().get(i);
      assertThat(List.of(b.name(), b.type(), b.allowSources(), b.udp(), usernames(b.users())))
          .isEqualTo(List.of(a.name(), a.type(), a.allowSources(), a.udp(), usernames(a.users())));
      assertThat(b.users()).allMatch(u -> u.password().equals(EffectiveConfigYaml.MASK));
    }
    assertThat(back.outbounds()).extracting(OutboundConfig::toString)
        .isEqualTo(original.outbounds().stream().map(OutboundConfig::toString).toList());
    assertThat(back.rules()).isEqualTo(original.rules());
    assertThat(back.defaultDecision()).isEqualTo(original.defaultDecision());
    assertThat(back.timeouts()).isEqualTo(original.timeouts());
    assertThat(back.tcpKeepAlive()).isEqualTo(original.tcpKeepAlive());
    assertThat(back.splice()).isEqualTo(original.splice());
    assertThat(back.log()).isEqualTo(original.log());
    assertThat(back.dns()).isEqualTo(original.dns());
    assertThat(back.admin().orElseThrow().listen()).isEqualTo(original.admin().orElseThrow().listen());
    // and printing it again gives the same text: nothing is lost on the way
    assertThat(back.describe()).isEqualTo(printed);
  }

  private static List<String> usernames(List<Credentials> users) {
    return users.stream().map(Credentials::username).toList();
  }
}
