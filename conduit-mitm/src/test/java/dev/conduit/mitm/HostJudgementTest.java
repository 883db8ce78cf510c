package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.Destination;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A routing rule and the interception list judge a host name the same way, whatever its spelling:
 * case, trailing dots, Unicode or punycode (IDN). Before they shared one normalisation, a rule for
 * {@code bücher.example} missed {@code xn--bcher-kva.example} that interception caught.
 */
class HostJudgementTest {
  private static final MitmProxy MITM = MitmProxy.builder()
      .certificateAuthority(Pki.ca("judgement-ca"))
      .interceptDomain("bücher.example")
      .interceptHost("Exact.Example.")
      .build();
  private static final Router ROUTER = Router.builder()
      .rule(Rule.builder("idn").domainSuffix("bücher.example").decision(RouteDecision.reject("x")).build())
      .rule(Rule.builder("exact").domain("Exact.Example.").decision(RouteDecision.reject("x")).build())
      .defaultDecision(RouteDecision.direct())
      .build();

  @ParameterizedTest
  @ValueSource(strings = {"bücher.example", "BÜCHER.example", "xn--bcher-kva.example", "XN--BCHER-KVA.EXAMPLE.",
      "www.bücher.example.", "cdn.xn--bcher-kva.example", "exact.example", "EXACT.EXAMPLE.", "exact.example..",
      "other.example", "bucher.example", "notexact.example"})
  void ruleAndInterceptionAgree(String host) throws Exception {
    boolean routed = !ROUTER.route(request(host)).rule().equals(Router.DEFAULT_RULE);
    assertThat(routed).as("rule matches %s", host).isEqualTo(MITM.intercepts(host));
  }

  @Test
  void unicodeAndPunycodeSpellingsAreOneHost() throws Exception {
    for (String host : List.of("bücher.example", "xn--bcher-kva.example", "Bücher.Example.")) {
      assertThat(MITM.intercepts(host)).as(host).isTrue();
      assertThat(ROUTER.route(request(host)).rule()).as(host).isEqualTo("idn");
    }
  }

  private static ConnectRequest request(String host) throws Exception {
    ConnectionInfo info = new ConnectionInfo("1", "http", "http", new InetSocketAddress(InetAddress.getLoopbackAddress(),
        40000), new InetSocketAddress(InetAddress.getLoopbackAddress(), 8080), Instant.now());
    return ConnectRequest.of(info, Destination.of(host, 443));
  }
}
