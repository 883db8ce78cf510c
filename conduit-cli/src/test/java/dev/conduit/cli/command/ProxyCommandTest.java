package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.ConduitCommand;
import dev.conduit.cli.config.ConduitConfig;
import dev.conduit.core.TcpKeepAlive;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.route.RouteDecision;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class ProxyCommandTest {

  private static ConduitConfig parse(String... args) {
    CommandLine cl = ConduitCommand.newCommandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()));
    CommandLine.ParseResult parsed = cl.parseArgs(ConduitCommand.expandShorthands(cl, args));
    ProxyCommand proxy = (ProxyCommand) parsed.subcommand().commandSpec().userObject();
    return proxy.toConfig();
  }

  @Test
  void transparentListenerFlags() throws Exception {
    ConduitConfig c = parse("--tproxy-listen", "127.0.0.1:0", "--redirect-listen", "127.0.0.1:0");
    assertThat(c.listeners()).extracting(l -> l.name() + ":" + l.type())
        .containsExactly("tproxy:tproxy", "redirect:redirect");
    boolean root = "root".equals(System.getProperty("user.name"));
    if (!root && !"true".equals(System.getenv("CI"))) {
      return; // IP_TRANSPARENT needs CAP_NET_ADMIN; the parse above is all a non-root run can check
    }
    // as root both listeners bind (IP_TRANSPARENT set before bind) and stop cleanly
    try (dev.conduit.core.Conduit conduit = c.toConduitBuilder().build().start()) {
      assertThat(conduit.address("tproxy").getPort()).isPositive();
      assertThat(conduit.address("redirect").getPort()).isPositive();
    }
  }

  @Test
  void upstreamUrlsFormAChain() {
    ConduitConfig c = parse("proxy", "--mixed-listen", "127.0.0.1:1080", "--upstream", "socks5://svc:p%40ss@10.0.0.3",
        "--upstream", "https://proxy.corp:8443", "--upstream", "http://u:p@[fd00::1]:3128");
    assertThat(c.defaultDecision()).isEqualTo(RouteDecision.via("upstream"));
    List<Hop> hops = c.outbounds().get(0).toOutbound().hops();
    assertThat(hops).extracting(Hop::protocol).containsExactly(Hop.Protocol.SOCKS5, Hop.Protocol.HTTP, Hop.Protocol.HTTP);
    assertThat(hops.get(0).endpoints().get(0).port()).isEqualTo(1080);
    assertThat(hops.get(0).credentials().get().password()).isEqualTo("p@ss");
    assertThat(hops.get(1).tls()).isTrue();
    assertThat(hops.get(2).endpoints().get(0).host()).isEqualTo("fd00::1");
    assertThat(c.describe()).doesNotContain("p@ss").contains("username: svc\n          password: '****'");
  }

  @Test
  void seed001FlagsAndDefaults() {
    ConduitConfig c = parse("--http-listen", ":8080", "--socks5-listen=127.0.0.1:1080", "--upstream-mode", "socks5",
        "--upstream-addr", "10.0.0.3:1080", "--dial-timeout", "3s", "--negotiation-timeout", "500ms",
        "--http-idle-timeout", "1h30m", "--tcp-keepalive", "45:45:3");
    assertThat(c.listeners()).extracting(l -> l.name() + "=" + l.listen())
        .containsExactly("http=0.0.0.0:8080", "socks5=127.0.0.1:1080");
    assertThat(c.outbounds().get(0).hops().get(0).hop().protocol()).isEqualTo(Hop.Protocol.SOCKS5);
    assertThat(c.timeouts().dial()).isEqualTo(Duration.ofSeconds(3));
    assertThat(c.timeouts().negotiation()).isEqualTo(Duration.ofMillis(500));
    assertThat(c.timeouts().httpIdle()).isEqualTo(Duration.ofMinutes(90));
    assertThat(c.tcpKeepAlive()).isEqualTo(TcpKeepAlive.of(45, 45, 3));
    assertThat(c.splice()).isFalse();
    assertThat(parse("--socks5-listen", "127.0.0.1:1080", "--splice").splice()).isTrue();
    ConduitConfig defaults = parse("--socks5-listen", "127.0.0.1:1080");
    assertThat(defaults.defaultDecision()).isEqualTo(RouteDecision.direct());
    assertThat(defaults.outbounds()).isEmpty();
    assertThat(defaults.timeouts().httpIdle()).isEqualTo(Duration.ofMinutes(4));
    assertThat(defaults.timeouts().drain()).isEqualTo(Duration.ofSeconds(30));
    assertThat(parse("--socks5-listen", "127.0.0.1:1080", "--upstream", "direct://").outbounds()).isEmpty();
  }

  @Test
  void emptyListenerFlagDisablesIt() {
    ConduitConfig c = parse("proxy", "--http-listen=", "--socks5-listen", "127.0.0.1:1080");
    assertThat(c.listeners()).extracting(l -> l.name()).containsExactly("socks5");
  }
}
