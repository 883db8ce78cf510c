package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.config.ConduitConfig;
import dev.conduit.cli.config.ConfigLoader;
import org.junit.jupiter.api.Test;

/** When the proxy role installs the forward table's capture rules (the plan itself: ForwardTableCaptureTest). */
class CaptureWantedTest {

  @Test
  void captureIsOffWithCaptureFalseOrWithoutAClient() {
    String client = """
        client:
          enable: true
          listen: 127.0.0.1:0
          forward_table: [{dst: ":80", peer_index: 1}]
          peers: [{index: 1, addresses: ["127.0.0.1:5053"]}]
        """;
    ConduitConfig off = ConfigLoader.standard().load(client.replace("listen: 127.0.0.1:0",
        "listen: 127.0.0.1:0\n  capture: false"), "a.yaml");
    assertThat(ProxyRole.captureWanted(off)).isFalse();
    ConduitConfig on = ConfigLoader.standard().load(client.replace("listen: 127.0.0.1:0",
        "listen: 127.0.0.1:0\n  capture: true"), "a.yaml");
    assertThat(ProxyRole.captureWanted(on)).isTrue();
    // seed 000's default: capture when root
    assertThat(ProxyRole.captureWanted(ConfigLoader.standard().load(client, "a.yaml"))).isEqualTo(ProxyRole.isRoot());
    ConduitConfig serverOnly = ConfigLoader.standard().load(
        "server:\n  enable: true\n  listen: {addr: \"127.0.0.1:0\"}\n", "b.yaml");
    assertThat(ProxyRole.captureWanted(serverOnly)).isFalse();
  }
}
