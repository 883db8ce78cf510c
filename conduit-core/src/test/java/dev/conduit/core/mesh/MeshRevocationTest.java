package dev.conduit.core.mesh;

import static dev.conduit.core.mesh.ManagerFixture.admin;
import static dev.conduit.core.mesh.ManagerFixture.node;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.Destination;
import dev.conduit.core.Listener;
import dev.conduit.core.control.enrol.MeshIdentity;
import dev.conduit.core.control.enrol.NodeEnrolment;
import dev.conduit.core.control.push.PushAuthorizer;
import dev.conduit.core.control.push.PushClient;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.pki.PeerDenyList;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import dev.conduit.core.testing.TestOrigin;
import dev.conduit.core.tunnel.Tunnel;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code conduit manager nodes revoke} end to end: a manager, three enrolled nodes with certificates from its CA,
 * node B's tunnel server guarded by a {@link PeerDenyList} that B's push agent feeds from the membership
 * ({@link MembershipDenials}). Revoking A closes A's open tunnel through B and refuses new ones, while C's tunnel
 * and new tunnels from C go on.
 */
class MeshRevocationTest {

  @TempDir
  Path dir;

  @Test
  void revokingANodeClosesItsTunnelsOnItsPeersAndRefusesNewOnes() throws Exception {
    ConduitResources resources = ConduitResources.create();
    List<AutoCloseable> closing = new ArrayList<>();
    try (MeshManager manager = ManagerFixture.start(dir.resolve("m"), b -> b.autoApprove(true));
         NodeEnrolment a = node(manager, dir.resolve("a"), "host-a", "198.18.0.90").caPin(manager.caPin()).build();
         NodeEnrolment b = node(manager, dir.resolve("b"), "host-b", "198.18.0.91").caPin(manager.caPin()).build();
         NodeEnrolment c = node(manager, dir.resolve("c"), "host-c", "198.18.0.92").caPin(manager.caPin()).build();
         TestOrigin origin = TestOrigin.start()) {
      TlsMaterial aTls = a.start();
      TlsMaterial bTls = b.start();
      TlsMaterial cTls = c.start();
      TlsMaterial serverTls = TlsMaterial.of(manager.enrolment().issueManagerCertificate(List.of("127.0.0.1"),
          Duration.ofDays(1)), manager.enrolment().certificateAuthority().certificate());
      PushServer push = PushServer.builder(resources).bind(new InetSocketAddress("127.0.0.1", 0)).tls(serverTls)
          .authorizer(PushAuthorizer.certificateIdentity()).build();
      InetSocketAddress pushAddress = push.start();
      closing.add(push);
      closing.add(MembershipPublisher.start(manager.store(), push, new MeshIdentity("test.mesh"),
          Duration.ofMillis(100)));

      // B: its agent applies every membership's deny list to the guard of its tunnel server
      PeerDenyList deniedOnB = PeerDenyList.create();
      CountDownLatch firstState = new CountDownLatch(1);
      PushClient agentB = PushClient.builder(resources)
          .addresses(List.of(URI.create("wss://127.0.0.1:" + pushAddress.getPort() + PushServer.DEFAULT_PATH)))
          .trustAnchors(List.of(manager.enrolment().certificateAuthority().certificate()))
          .clientCertificate(bTls).identity("host-b", "both").stateFile(dir.resolve("b/push-state.json"))
          .backoff(Duration.ofMillis(50), Duration.ofMillis(500))
          .applier(update -> {
            MembershipDenials.of(update.state()).applyTo(deniedOnB);
            firstState.countDown();
            return update.state().hash();
          }).build();
      agentB.start();
      closing.add(agentB::close);
      assertThat(firstState.await(30, TimeUnit.SECONDS)).as("B applied its first membership").isTrue();

      Conduit tunnelServer = Conduit.builder()
          .listener(Listener.builder("tunnel").bind("127.0.0.1:0").protocol(Tunnel.serverProtocol())
              .tls(bTls::tunnelServerContext).peerGuard(deniedOnB).build())
          .router(Router.builder().defaultDecision(RouteDecision.reject("no rule"))
              .rule(Rule.builder("origin").listener("tunnel").destinationCidr("127.0.0.1/32").port(origin.port())
                  .decision(RouteDecision.direct()).build()).build())
          .build().start();
      closing.add(tunnelServer);
      int tunnelPort = tunnelServer.address("tunnel").getPort();
      Conduit nodeA = client(aTls, tunnelPort);
      closing.add(nodeA);
      Conduit nodeC = client(cTls, tunnelPort);
      closing.add(nodeC);

      Socket fromA = httpThrough(nodeA, origin.port());
      Socket fromC = httpThrough(nodeC, origin.port());
      assertThat(get(fromA)).startsWith("HTTP/1.1 200");
      assertThat(get(fromC)).startsWith("HTTP/1.1 200");

      admin(manager).revoke("host-a");

      // the deny list reaches B, which closes A's open tunnel (bounded by the socket's 30 s read timeout)
      assertEndOfTunnel(fromA);
      assertThat(deniedOnB.deniedIdentities()).containsExactly("spiffe://test.mesh/node/host-a");
      assertThat(deniedOnB.deniedSerials()).contains(PeerDenyList.serialOf(aTls.certificate()));
      assertThat(TunnelSocks.connect(nodeA, origin.port())).as("a new tunnel from the revoked node").isNull();
      // C is not affected: its open tunnel works, and it opens new ones
      assertThat(get(fromC)).startsWith("HTTP/1.1 200");
      Socket again = httpThrough(nodeC, origin.port());
      assertThat(get(again)).startsWith("HTTP/1.1 200");
      again.close();
      fromA.close();
      fromC.close();
    } finally {
      for (int i = closing.size() - 1; i >= 0; i--) {
        closing.get(i).close();
      }
      resources.close();
    }
  }

  private static Conduit client(TlsMaterial tls, int tunnelPort) throws IOException {
    return Conduit.builder()
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
        // B's certificate names B's host address, which this test reaches on loopback
        .outbound(Outbound.builder("to-b").hop(Hop.builder(Hop.Protocol.HTTP).forwardClientAddress(true)
            .endpoint(Destination.of("127.0.0.1", tunnelPort)).sslContext(tls::clientContext)
            .tlsServerName("198.18.0.91").build()).build())
        .router(Router.builder().rule(Rule.builder("all").listener("socks").decision(RouteDecision.via("to-b"))
            .build()).build())
        .build().start();
  }

  private static Socket httpThrough(Conduit via, int port) throws IOException {
    Socket s = TunnelSocks.connect(via, port);
    assertThat(s).as("a tunnel through B").isNotNull();
    return s;
  }

  /** One keep-alive HTTP/1.1 request on the tunnel; returns the response head. */
  private static String get(Socket s) throws IOException {
    OutputStream out = s.getOutputStream();
    out.write("GET /hello HTTP/1.1\r\nHost: origin\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    out.flush();
    InputStream in = s.getInputStream();
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int ch = in.read();
      if (ch < 0) {
        throw new IOException("tunnel closed after " + head);
      }
      head.append((char) ch);
    }
    int length = 0;
    for (String line : head.toString().split("\r\n")) {
      if (line.toLowerCase().startsWith("content-length:")) {
        length = Integer.parseInt(line.substring(15).trim());
      }
    }
    in.readNBytes(length);
    return head.toString();
  }

  private static void assertEndOfTunnel(Socket s) throws IOException {
    try {
      assertThat(s.getInputStream().read()).as("end of stream on the revoked node's tunnel").isEqualTo(-1);
    } catch (SocketException reset) {
      assertThat(reset.getMessage()).containsIgnoringCase("reset");
    }
  }
}
