package dev.conduit.core.tunnel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Conduit;
import dev.conduit.core.Destination;
import dev.conduit.core.Listener;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.pki.CertificateRequest.Usage;
import dev.conduit.core.pki.IssuedCertificate;
import dev.conduit.core.pki.PeerDenyList;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Revocation over real mTLS tunnels on loopback, certificates from a CA made by the test: tunnel server B guards its
 * listener with a {@link PeerDenyList}, clients A and C guard their hops with their own. Denying a peer (by
 * certificate serial or by identity) closes its open tunnels, refuses new ones, and leaves everyone else alone.
 */
class PeerRevocationTest {
  static final CertificateAuthority CA = CertificateAuthority.builder().commonName("mesh CA").build();
  static final String ID_A = "spiffe://mesh/node/a";
  static final String ID_B = "spiffe://mesh/node/b";
  static final String ID_C = "spiffe://mesh/node/c";

  EchoServer echo;
  IssuedCertificate certA;
  IssuedCertificate certB;
  IssuedCertificate certC;
  PeerDenyList deniedOnB;
  PeerDenyList deniedOnA;
  PeerDenyList deniedOnC;
  Conduit b;
  Conduit a;
  Conduit c;
  final List<Socket> sockets = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    echo = new EchoServer();
    certB = CA.issue(CertificateRequest.builder().commonName("b").uri(ID_B).ipAddress("127.0.0.1")
        .usages(Usage.SERVER, Usage.CLIENT).build());
    certA = CA.issue(CertificateRequest.builder().commonName("a").uri(ID_A).usages(Usage.CLIENT).build());
    certC = CA.issue(CertificateRequest.builder().commonName("c").uri(ID_C).usages(Usage.CLIENT).build());
    deniedOnB = PeerDenyList.create();
    deniedOnA = PeerDenyList.create();
    deniedOnC = PeerDenyList.create();
    TlsMaterial materialB = TlsMaterial.of(certB, CA.certificate());
    b = Conduit.builder()
        .listener(Listener.builder("tunnel").bind("127.0.0.1:0").protocol(Tunnel.serverProtocol())
            .tls(materialB::tunnelServerContext).peerGuard(deniedOnB).build())
        .router(Router.builder().defaultDecision(RouteDecision.reject("no rule"))
            .rule(Rule.builder("echo").listener("tunnel").destinationCidr("127.0.0.1/32").port(echo.port())
                .decision(RouteDecision.direct()).build())
            .build())
        .build().start();
  }

  /** A client conduit: SOCKS listener, everything through B with {@code cert}, hops judged by {@code denied}. */
  Conduit client(IssuedCertificate cert, PeerDenyList denied, boolean multiplex) throws Exception {
    TlsMaterial m = TlsMaterial.of(cert, CA.certificate());
    List<Destination> endpoints = List.of(Destination.of("127.0.0.1", b.address("tunnel").getPort()));
    Hop hop = multiplex ? Tunnel.multiplexedClientHop(endpoints, m::multiplexClientContext, denied)
        : Tunnel.clientHop(endpoints, m::clientContext, denied);
    return Conduit.builder()
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
        .outbound(Outbound.builder("to-b").hop(hop).build())
        .router(Router.builder().rule(Rule.builder("all").listener("socks").decision(RouteDecision.via("to-b"))
            .build()).build())
        .build().start();
  }

  @AfterEach
  void stop() throws Exception {
    for (Socket s : sockets) {
      s.close();
    }
    for (Conduit x : new Conduit[] {a, c, b}) {
      if (x != null) {
        x.close();
      }
    }
    echo.close();
  }

  /** Opens a tunnel to the echo server through {@code via} and checks it echoes. */
  Socket openTunnel(Conduit via) throws IOException {
    Object r = TunnelTest.socks5Connect(via, echo.port());
    assertThat(r).as("SOCKS reply").isInstanceOf(Socket.class);
    Socket s = (Socket) r;
    sockets.add(s);
    assertThat(TunnelTest.exchange(s, "hello\n")).isEqualTo("hello\n");
    return s;
  }

  /** Waits (bounded by the socket's 20 s read timeout) for the tunnel to end: end of stream or a reset. */
  static void assertClosed(Socket s) throws IOException {
    InputStream in = s.getInputStream();
    try {
      assertThat(in.read()).as("end of stream on the revoked tunnel").isEqualTo(-1);
    } catch (SocketException reset) {
      assertThat(reset.getMessage()).containsIgnoringCase("reset");
    }
  }

  @Test
  void revokedSerialClosesTheOpenTunnelsAndRefusesNewOnesOthersUnaffected() throws Exception {
    a = client(certA, deniedOnA, false);
    c = client(certC, deniedOnC, false);
    Socket fromA = openTunnel(a);
    Socket fromA2 = openTunnel(a);
    Socket fromC = openTunnel(c);

    int closed = deniedOnB.replace(Set.of(PeerDenyList.serialOf(certA.certificate()).toUpperCase()), Set.of());

    assertThat(closed).isEqualTo(2);
    assertClosed(fromA);
    assertClosed(fromA2);
    assertThat(TunnelTest.socks5Connect(a, echo.port())).as("a new tunnel from the revoked peer").isNotInstanceOf(
        Socket.class);
    assertThat(TunnelTest.exchange(fromC, "still here\n")).isEqualTo("still here\n");
    openTunnel(c);
  }

  @Test
  void deniedIdentityClosesEveryStreamOfAMultiplexedConnection() throws Exception {
    a = client(certA, deniedOnA, true);
    c = client(certC, deniedOnC, true);
    Socket one = openTunnel(a);
    Socket two = openTunnel(a);
    Socket fromC = openTunnel(c);

    deniedOnB.replace(Set.of(), Set.of(ID_A));

    assertClosed(one);
    assertClosed(two);
    assertThat(TunnelTest.socks5Connect(a, echo.port())).isNotInstanceOf(Socket.class);
    assertThat(TunnelTest.exchange(fromC, "c\n")).isEqualTo("c\n");
    openTunnel(c);

    deniedOnB.replace(Set.of(), Set.of()); // lifted: A gets in again
    openTunnel(a);
  }

  @Test
  void aClientRefusesARevokedServerAndClosesItsTunnelsToIt() throws Exception {
    a = client(certA, deniedOnA, false);
    c = client(certC, deniedOnC, false);
    Socket fromA = openTunnel(a);
    Socket fromC = openTunnel(c);

    deniedOnA.replace(Set.of(PeerDenyList.serialOf(certB.certificate())), Set.of());

    assertClosed(fromA);
    assertThat(TunnelTest.socks5Connect(a, echo.port())).isNotInstanceOf(Socket.class);
    assertThat(deniedOnA.openConnections()).isZero();
    // C does not deny B
    assertThat(TunnelTest.exchange(fromC, "c\n")).isEqualTo("c\n");
    openTunnel(c);
  }

  @Test
  void badSerialsAreRefusedAndTheListStaysAsItWas() {
    deniedOnB.replace(Set.of("0a"), Set.of(ID_C));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> deniedOnB.replace(Set.of("xyz"), Set.of()))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("serial: xyz (expected: hexadecimal)");
    assertThat(deniedOnB.deniedSerials()).containsExactly("a");
    assertThat(deniedOnB.deniedIdentities()).containsExactly(ID_C);
    assertThat(deniedOnB.denies(certC.certificate())).isTrue();
    assertThat(deniedOnB.denies(certA.certificate())).isFalse();
  }
}
