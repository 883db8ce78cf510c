package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.config.AdminConfig;
import dev.conduit.cli.config.ConduitConfig;
import dev.conduit.cli.config.ConfigLoader;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** What a reload applies (rules, outbounds) and what it reports as needing a restart (listeners). */
class ReloadPlanTest {

  static final String SERVER = """
      server:
        enable: true
        listen: {network: tcp, addr: "127.0.0.1:15053"}
      """;

  static ConduitConfig load(String yaml) {
    return ConfigLoader.standard().load(yaml, "conduit.yaml");
  }

  @Test
  void onlyListenerChangesNeedARestart() {
    ConduitConfig before = load(SERVER);
    ConduitConfig newAllow = load(SERVER + "  allow: [{cidrs: [127.0.0.1/32], ports: [\"80\"]}]\n");
    assertThat(ProxyRoutes.listenerChanges(before, newAllow)).isEmpty();
    ConduitConfig moved = load(SERVER.replace("15053", "15054"));
    assertThat(ProxyRoutes.listenerChanges(before, moved)).containsExactly("server.enable/listen");
    ConduitConfig withListener = load(SERVER + "listeners:\n  - {name: s, type: socks, listen: \"127.0.0.1:0\"}\n");
    assertThat(ProxyRoutes.listenerChanges(before, withListener)).containsExactly("listeners");
  }

  @Test
  void tunnelRulesComeFirstAndTheDefaultRejectsWhenOnlyTunnelsRun() throws Exception {
    ConduitConfig onlyServer = load(SERVER);
    try (var plan = onlyServer.mesh().orElseThrow().plan()) {
      var router = ProxyRoutes.router(onlyServer, plan);
      assertThat(router.rules()).extracting(r -> r.name()).containsExactly("tunnel-allow-local", "tunnel-deny");
      assertThat(router.defaultDecision()).isInstanceOf(dev.conduit.core.route.RouteDecision.Reject.class);
    }
    ConduitConfig both = load("version: 1\n" + SERVER + """
        listeners:
          - {name: s, type: socks, listen: "127.0.0.1:0"}
        rules:
          - {name: all, match: {}, action: direct}
        default: reject
        """);
    assertThat(both.runsMesh()).isTrue();
    try (var plan = both.mesh().orElseThrow().plan()) {
      var router = ProxyRoutes.router(both, plan);
      assertThat(router.rules()).extracting(r -> r.name()).containsExactly("tunnel-allow-local", "tunnel-deny", "all");
      assertThat(router.defaultDecision()).isEqualTo(both.defaultDecision());
    }
    assertThat(both.describe()).contains("server:").containsPattern("addr: '?127.0.0.1:15053").contains("name: s");
  }

  @Test
  void adminSectionDefaultsToLoopbackAndMasksTheToken() {
    ConduitConfig c = load("version: 1\nlisteners:\n  - {name: s, type: socks, listen: \"127.0.0.1:0\"}\nadmin:\n");
    assertThat(c.admin()).contains(AdminConfig.of(AdminConfig.DEFAULT_LISTEN));
    ConduitConfig t = load("version: 1\nlisteners:\n  - {name: s, type: socks, listen: \"127.0.0.1:0\"}\n"
        + "admin: {listen: \"127.0.0.1:0\", token: hunter2}\n");
    assertThat(t.admin().orElseThrow().token()).contains("hunter2");
    assertThat(t.admin().orElseThrow().toString()).doesNotContain("hunter2");
    assertThat(t.describe()).contains("token: '****'").doesNotContain("hunter2");
    assertThat(Optional.of(t.log().access())).contains("logfmt");
  }
}
