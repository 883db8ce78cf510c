package dev.conduit.core.mesh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.Conduit;
import dev.conduit.core.Destination;
import dev.conduit.core.Listener;
import dev.conduit.core.control.enrol.MeshIdentity;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.pki.CertificateRequest.Usage;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import dev.conduit.core.testing.TestOrigin;
import dev.conduit.core.tunnel.Tunnel;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A mesh policy pushed with the membership and enforced by tunnel server B on real mTLS tunnels: group {@code apps}
 * (host-a) may reach port P of group {@code db} (host-b); host-c, outside {@code apps}, is refused, and host-a is
 * refused on B's other ports.
 */
class MeshPolicyTest {
  static final CertificateAuthority CA = CertificateAuthority.builder().commonName("mesh CA").build();
  static final MeshIdentity IDENTITY = new MeshIdentity("test.mesh");

  static TlsMaterial node(String name, Usage... usages) {
    return TlsMaterial.of(CA.issue(CertificateRequest.builder().commonName(name).uri(IDENTITY.node(name))
        .ipAddress("127.0.0.1").usages(usages).build()), CA.certificate());
  }

  static Conduit client(TlsMaterial tls, int tunnelPort) throws java.io.IOException {
    return Conduit.builder()
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
        .outbound(Outbound.builder("to-b").hop(Tunnel.clientHop(List.of(Destination.of("127.0.0.1", tunnelPort)),
            tls::clientContext)).build())
        .router(Router.builder().rule(Rule.builder("all").listener("socks").decision(RouteDecision.via("to-b"))
            .build()).build())
        .build().start();
  }

  @Test
  void anAllowedPrincipalReachesItsPortsAndADeniedOneIsRefused() throws Exception {
    List<AutoCloseable> closing = new ArrayList<>();
    try (TestOrigin db = TestOrigin.start(); TestOrigin other = TestOrigin.start()) {
      TlsMaterial b = node("host-b", Usage.SERVER, Usage.CLIENT);
      // B's own rules before any policy: its host, any port, for any member
      Router own = Router.builder().defaultDecision(RouteDecision.reject("no rule"))
          .rule(Rule.builder("tunnel-allow-local").listener("tunnel").destinationCidr("127.0.0.0/8")
              .decision(RouteDecision.direct()).build())
          .rule(Rule.builder("tunnel-deny").listener("tunnel").decision(RouteDecision.reject("not allowed")).build())
          .build();
      Conduit server = Conduit.builder()
          .listener(Listener.builder("tunnel").bind("127.0.0.1:0").protocol(Tunnel.serverProtocol())
              .tls(b::tunnelServerContext).build())
          .router(own).build().start();
      closing.add(server);
      int port = server.address("tunnel").getPort();
      Conduit a = client(node("host-a", Usage.CLIENT), port);
      closing.add(a);
      Conduit c = client(node("host-c", Usage.CLIENT), port);
      closing.add(c);
      assertReaches(a, other.port());
      assertReaches(c, db.port());

      // the manager's policy, as the membership carries it to B
      MeshPolicy policy = MeshPolicy.builder().group("apps", "host-a").group("db", "host-b")
          .allow("apps-to-db", "apps", "db", String.valueOf(db.port())).build();
      PushState membership = PushState.of(7, policy.resources());
      MeshPolicy received = MeshPolicy.of(membership);
      assertThat(received.allows()).isEqualTo(policy.allows());
      server.update(received.serverRouter(own, "tunnel", "host-b", IDENTITY, List.of("198.18.0.91")), List.of());

      assertReaches(a, db.port());
      assertThat(TunnelSocks.connect(a, other.port())).as("host-a on a port the policy does not grant").isNull();
      assertThat(TunnelSocks.connect(c, db.port())).as("host-c, outside group apps").isNull();

      // an empty policy leaves the server's own rules
      assertThat(MeshPolicy.of(PushState.of(8, java.util.Map.of())).serverRouter(own, "tunnel", "host-b", IDENTITY,
          List.of())).isSameAs(own);
    } finally {
      for (int i = closing.size() - 1; i >= 0; i--) {
        closing.get(i).close();
      }
    }
  }

  private static void assertReaches(Conduit via, int port) throws Exception {
    try (Socket s = TunnelSocks.connect(via, port)) {
      assertThat(s).as("a tunnel to port " + port).isNotNull();
      s.getOutputStream().write("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes());
      String reply = new String(s.getInputStream().readAllBytes());
      assertThat(reply).startsWith("HTTP/1.1 200").endsWith("hello");
    }
  }

  @Test
  void theManagerPublishesThePolicyWithTheMembership(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    MeshPolicy policy = MeshPolicy.builder().group("apps", "host-a").group("db", "host-b")
        .allow("sql", "apps", "db", "3306").build();
    try (MeshManager manager = ManagerFixture.start(dir)) {
      PushState state = MembershipState.read(manager.store(), policy.resources());
      assertThat(state.resources()).containsKeys("group/apps", "group/db", "policy/sql");
      assertThat(MeshPolicy.of(state).allows()).isEqualTo(policy.allows());
      assertThat(MeshPolicy.of(state).groups()).isEqualTo(policy.groups());
    }
  }

  @Test
  void serverRulesAndBadPolicies() {
    MeshPolicy policy = MeshPolicy.builder().group("apps", "host-a", "host-c").group("db", "host-b")
        .allow("sql", "apps", "db", "3306", "33060-33062").build();
    List<Rule> onB = policy.serverRules("tunnel", "host-b", IDENTITY, List.of("198.18.0.91"));
    assertThat(onB).extracting(Rule::name).containsExactly("policy-sql", "policy-deny");
    assertThat(policy.serverRules("tunnel", "host-a", IDENTITY, List.of())).extracting(Rule::name)
        .containsExactly("policy-deny");
    assertThatThrownBy(() -> MeshPolicy.builder().group("apps", "host-a").allow("x", "apps", "nobody").build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("policy x: group nobody is not defined (expected one of [apps])");
    assertThatThrownBy(() -> MeshPolicy.builder().group("Apps!", "host-a"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("name: 'Apps!'");
    assertThatThrownBy(() -> MeshPolicy.builder().group("apps").allow("x", "apps", "apps", "70000"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("70000");
  }
}
