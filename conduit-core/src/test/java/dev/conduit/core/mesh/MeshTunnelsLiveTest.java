package dev.conduit.core.mesh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.Destination;
import dev.conduit.core.Listener;
import dev.conduit.core.control.store.NodeRole;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.observe.ConnectionObserver;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.outbound.SocketCustomizer;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.testing.Poll;
import dev.conduit.core.testing.TestOrigin;
import dev.conduit.core.tunnel.MeshPlan;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link MeshTunnels} following the membership on live conduits, real mutual TLS with certificates from a test CA
 * on loopback: the tunnels' client options (HTTP/2 multiplexing, health checks), a policy change closing the
 * tunnels it no longer allows on the server, and a denied member getting no outbound on its peers. Clients speak
 * SOCKS5 on a listener named as the mesh client listener, so the test picks each destination.
 */
class MeshTunnelsLiveTest {

  private static final String A_ADDRESS = "198.18.0.90";
  private static final String C_ADDRESS = "198.18.0.92";

  private final List<AutoCloseable> closing = new ArrayList<>();
  private CertificateAuthority ca;
  private TestOrigin origin;

  @BeforeEach
  void start() throws IOException {
    ca = CertificateAuthority.builder().commonName("mesh test CA").build();
    origin = TestOrigin.start();
    closing.add(origin);
  }

  @AfterEach
  void close() throws Exception {
    for (int i = closing.size() - 1; i >= 0; i--) {
      closing.get(i).close();
    }
  }

  private TlsMaterial node(String name) {
    return TlsMaterial.of(ca.issue(CertificateRequest.builder().commonName(name).uri(identity(name))
        .ipAddress("127.0.0.1").usages(CertificateRequest.Usage.SERVER, CertificateRequest.Usage.CLIENT)
        .build()), ca.certificate());
  }

  private static String identity(String name) {
    return "spiffe://test.mesh/node/" + name;
  }

  private ConduitResources resources(int threads) {
    ConduitResources r = ConduitResources.builder().ioThreads(threads).build();
    closing.add(r);
    return r;
  }

  /** Host B: a tunnel server on 127.0.0.1 guarded by its tunnels' deny list; B's host address is 127.0.0.1. */
  private Conduit server(MeshTunnels tunnels, TlsMaterial tls, ConnectionObserver observer) throws IOException {
    Conduit b = Conduit.builder().resources(resources(2))
        .listener(MeshTunnels.serverListener("127.0.0.1:0", tls::tunnelServerContext, tunnels.denyList()))
        .router(Router.builder().defaultDecision(RouteDecision.reject("not a member yet")).build())
        .observer(observer).build().start();
    closing.add(b);
    tunnels.attach(b);
    return b;
  }

  /** A client host: SOCKS5 on the mesh client listener, so each connection names its destination. */
  private Conduit client(MeshTunnels tunnels, ConduitResources resources, ConnectionObserver observer)
      throws IOException {
    return client(tunnels, resources, observer, SocketCustomizer.NONE);
  }

  private Conduit client(MeshTunnels tunnels, ConduitResources resources, ConnectionObserver observer,
      SocketCustomizer customizer) throws IOException {
    Conduit a = Conduit.builder().resources(resources).outboundSocketCustomizer(customizer)
        .listener(Listener.builder(MeshPlan.CLIENT_LISTENER).bind("127.0.0.1:0").protocol(InboundProtocols.socks())
            .build())
        .router(Router.builder().defaultDecision(RouteDecision.reject("not a member yet")).build())
        .observer(observer).build().start();
    closing.add(a);
    tunnels.attach(a);
    return a;
  }

  private static MeshMember member(String name, NodeRole role, String address, String server) throws IOException {
    return new MeshMember(name, identity(name), role, List.of(InetAddress.getByName(address)),
        Optional.ofNullable(server));
  }

  private Map<String, MeshMember> members(Conduit b, MeshMember... more) throws IOException {
    Map<String, MeshMember> m = new java.util.LinkedHashMap<>();
    m.put("host-a", member("host-a", NodeRole.CLIENT, A_ADDRESS, null));
    m.put("host-b", member("host-b", NodeRole.BOTH, "127.0.0.1",
        "127.0.0.1:" + b.address(MeshPlan.SERVER_LISTENER).getPort()));
    m.put("host-c", member("host-c", NodeRole.CLIENT, C_ADDRESS, null));
    for (MeshMember x : more) {
      m.put(x.name(), x);
    }
    return m;
  }

  @Test
  void aPolicyChangeClosesTheTunnelsItNoLongerAllowsAndKeepsTheOthers() throws Exception {
    TlsMaterial aTls = node("host-a");
    TlsMaterial bTls = node("host-b");
    TlsMaterial cTls = node("host-c");
    MeshTunnels onB = new MeshTunnels("host-b", bTls::clientContext, () -> List.of("127.0.0.1"));
    Conduit b = server(onB, bTls, ConnectionObserver.NONE);
    MeshTunnels onA = new MeshTunnels("host-a", aTls::clientContext, () -> List.of(A_ADDRESS));
    Conduit a = client(onA, resources(1), ConnectionObserver.NONE);
    MeshTunnels onC = new MeshTunnels("host-c", cTls::clientContext, () -> List.of(C_ADDRESS));
    Conduit c = client(onC, resources(1), ConnectionObserver.NONE);
    String port = Integer.toString(origin.port());
    MeshPolicy both = MeshPolicy.builder().group("apps", "host-a", "host-c").group("db", "host-b")
        .allow("apps-to-db", "apps", "db", port).build();
    MeshMembership v1 = new MeshMembership(1, members(b), Set.of(), Set.of(), both);
    for (MeshTunnels t : List.of(onA, onB, onC)) {
      t.membershipChanged(v1);
    }
    Socket fromA = socks(a, origin.port());
    Socket fromC = socks(c, origin.port());
    assertThat(fromA).as("A's tunnel under the first policy").isNotNull();
    assertThat(fromC).as("C's tunnel under the first policy").isNotNull();
    assertThat(get(fromA)).startsWith("HTTP/1.1 200");
    assertThat(get(fromC)).startsWith("HTTP/1.1 200");

    // the manager's policy now grants only C: B closes A's open tunnel at once
    MeshPolicy onlyC = MeshPolicy.builder().group("apps", "host-c").group("db", "host-b")
        .allow("apps-to-db", "apps", "db", port).build();
    onB.membershipChanged(new MeshMembership(2, members(b), Set.of(), Set.of(), onlyC));
    assertEndOfStream(fromA);
    assertThat(get(fromC)).as("C's open tunnel stays").startsWith("HTTP/1.1 200");
    assertThat(socks(a, origin.port())).as("a new tunnel from A").isNull();
    Socket again = socks(c, origin.port());
    assertThat(again).as("a new tunnel from C").isNotNull();
    assertThat(get(again)).startsWith("HTTP/1.1 200");

    // a grant narrowed to another port ends C's tunnels to this one too
    onB.membershipChanged(new MeshMembership(3, members(b), Set.of(), Set.of(), MeshPolicy.builder()
        .group("apps", "host-c").group("db", "host-b").allow("apps-to-db", "apps", "db", "1").build()));
    assertEndOfStream(fromC);
    assertEndOfStream(again);
    fromA.close();
    fromC.close();
    again.close();
  }

  @Test
  void multiplexedMemberTunnelsShareOneTlsConnection() throws Exception {
    TlsMaterial aTls = node("host-a");
    TlsMaterial bTls = node("host-b");
    MeshTunnels onB = new MeshTunnels("host-b", bTls::clientContext, () -> List.of("127.0.0.1"));
    Conduit b = server(onB, bTls, ConnectionObserver.NONE);
    MeshTunnels onA = new MeshTunnels("host-a", aTls::clientContext, aTls::multiplexClientContext,
        () -> List.of(A_ADDRESS));
    onA.clientOptions(new MeshTunnels.ClientOptions(Duration.ZERO, Duration.ofSeconds(10), true));
    Conduit a = client(onA, resources(1), ConnectionObserver.NONE); // one event loop: one pool
    MeshMembership v1 = new MeshMembership(1, members(b), Set.of(), Set.of());
    onA.membershipChanged(v1);
    onB.membershipChanged(v1);

    int tunnels = 5;
    List<Socket> open = new ArrayList<>();
    for (int i = 0; i < tunnels; i++) {
      Socket s = socks(a, origin.port());
      assertThat(s).as("tunnel " + i).isNotNull();
      assertThat(get(s)).startsWith("HTTP/1.1 200");
      open.add(s);
    }
    // on B: the tunnels are streams (ids <connection>.<stream>) of one TLS connection from A
    List<ConnectionSummary> onServer = b.connections().stream()
        .filter(s -> s.connection().listener().equals(MeshPlan.SERVER_LISTENER)).toList();
    List<ConnectionSummary> connections = onServer.stream().filter(s -> !s.connection().id().contains("."))
        .toList();
    assertThat(connections).hasSize(1);
    assertThat(connections.get(0).requests()).isEqualTo(tunnels);
    assertThat(onServer.stream().filter(s -> s.connection().id().contains("."))).hasSize(tunnels)
        .allSatisfy(s -> assertThat(s.principal()).contains(identity("host-a")));
    for (Socket s : open) {
      s.close();
    }

    // multiplexing off again: the next tunnel is a TLS connection of its own
    onA.clientOptions(new MeshTunnels.ClientOptions(Duration.ZERO, Duration.ofSeconds(10), false));
    try (Socket own = socks(a, origin.port())) {
      assertThat(own).isNotNull();
      assertThat(get(own)).startsWith("HTTP/1.1 200");
      assertThat(b.connections().stream().filter(s -> s.connection().listener().equals(MeshPlan.SERVER_LISTENER)
          && !s.connection().id().contains(".") && s.requests() == 1 && s.destination().isPresent())).hasSize(1);
    }
    MeshTunnels plain = new MeshTunnels("host-a", aTls::clientContext, () -> List.of(A_ADDRESS));
    assertThatThrownBy(() -> plain.clientOptions(
        new MeshTunnels.ClientOptions(Duration.ZERO, Duration.ofSeconds(10), true)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiplex");
  }

  @Test
  void checkIntervalDrivesTheHealthCheckOfEachMembersServer() throws Exception {
    TlsMaterial aTls = node("host-a");
    TlsMaterial bTls = node("host-b");
    MeshTunnels onB = new MeshTunnels("host-b", bTls::clientContext, () -> List.of("127.0.0.1"));
    Conduit b = server(onB, bTls, ConnectionObserver.NONE);
    int deadPort;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      deadPort = s.getLocalPort(); // closed again: nothing answers there
    }
    MeshTunnels onA = new MeshTunnels("host-a", aTls::clientContext, () -> List.of(A_ADDRESS));
    AtomicInteger customized = new AtomicInteger(); // A's own sockets' options (the capture's bypass mark)
    Conduit a = client(onA, resources(1), ConnectionObserver.NONE, channel -> customized.incrementAndGet());
    MeshMembership v1 = new MeshMembership(1, members(b,
        member("host-d", NodeRole.SERVER, "198.18.0.93", "127.0.0.1:" + deadPort)), Set.of(), Set.of());
    onA.membershipChanged(v1);
    assertThat(onA.checkedMembers()).as("check_time 0: no checks").isEmpty();

    onA.clientOptions(new MeshTunnels.ClientOptions(Duration.ofMillis(100), Duration.ofSeconds(5), false));
    assertThat(onA.checkedMembers()).containsExactlyInAnyOrder("host-b", "host-d");
    // no tunnel was dialed: only the checks can mark D's server down, and B's up
    Destination dead = Destination.of("127.0.0.1", deadPort);
    Poll.until("host-d's server marked down by its health check", Duration.ofSeconds(30),
        () -> a.endpointHealth().isBackedOff(dead));
    assertThat(a.endpointHealth().isBackedOff(Destination.of("127.0.0.1",
        b.address(MeshPlan.SERVER_LISTENER).getPort()))).isFalse();
    assertThat(a.connections()).isEmpty();
    assertThat(customized.get()).as("check sockets with A's outbound socket options").isPositive();

    // a member that leaves is no longer checked; check_time 0 stops every check
    onA.membershipChanged(new MeshMembership(2, members(b), Set.of(), Set.of()));
    assertThat(onA.checkedMembers()).containsExactly("host-b");
    onA.clientOptions(new MeshTunnels.ClientOptions(Duration.ZERO, Duration.ofSeconds(5), false));
    assertThat(onA.checkedMembers()).isEmpty();
  }

  @Test
  void aDeniedMemberGetsNoOutboundSoNothingIsDialed() throws Exception {
    TlsMaterial aTls = node("host-a");
    TlsMaterial bTls = node("host-b");
    AtomicInteger acceptedOnB = new AtomicInteger();
    MeshTunnels onB = new MeshTunnels("host-b", bTls::clientContext, () -> List.of("127.0.0.1"));
    Conduit b = server(onB, bTls, new ConnectionObserver() {
      @Override
      public void accepted(dev.conduit.core.ConnectionInfo connection) {
        acceptedOnB.incrementAndGet();
      }
    });
    LinkedBlockingQueue<ConnectionSummary> closedOnA = new LinkedBlockingQueue<>();
    MeshTunnels onA = new MeshTunnels("host-a", aTls::clientContext, () -> List.of(A_ADDRESS));
    Conduit a = client(onA, resources(1), new ConnectionObserver() {
      @Override
      public void closed(ConnectionSummary summary) {
        closedOnA.add(summary);
      }
    });
    onA.membershipChanged(new MeshMembership(1, members(b), Set.of(), Set.of()));
    try (Socket ok = socks(a, origin.port())) {
      assertThat(ok).isNotNull();
      assertThat(get(ok)).startsWith("HTTP/1.1 200");
    }
    ConnectionSummary first = closedOnA.poll(30, TimeUnit.SECONDS);
    assertThat(first).isNotNull();
    assertThat(first.outbound()).contains(MeshTunnels.OUTBOUND_PREFIX + "host-b");
    int acceptedBefore = acceptedOnB.get();
    assertThat(acceptedBefore).isPositive();

    // B is still listed but its identity is denied: A refuses connections to it without dialing
    onA.membershipChanged(new MeshMembership(2, members(b), Set.of(identity("host-b")), Set.of()));
    assertThat(socks(a, origin.port())).as("a connection to the denied member").isNull();
    ConnectionSummary refused = closedOnA.poll(30, TimeUnit.SECONDS);
    assertThat(refused).isNotNull();
    assertThat(refused.rule()).contains(MeshTunnels.OUTBOUND_PREFIX + "host-b-denied");
    assertThat(refused.outbound()).isEmpty();
    assertThat(refused.dialed()).isEmpty();
    assertThat(acceptedOnB.get()).as("connections B accepted").isEqualTo(acceptedBefore);
    assertThat(onA.tunnelledAddresses(new MeshMembership(2, members(b), Set.of(identity("host-b")), Set.of())))
        .as("still diverted, so refused rather than sent in clear").contains(InetAddress.getByName("127.0.0.1"));
  }

  /** A SOCKS5 CONNECT to 127.0.0.1:port through the client listener; null when refused. */
  private static Socket socks(Conduit via, int port) throws IOException {
    Socket s = new Socket();
    s.connect(via.address(MeshPlan.CLIENT_LISTENER), 10_000);
    s.setSoTimeout(30_000);
    OutputStream out = s.getOutputStream();
    InputStream in = s.getInputStream();
    out.write(new byte[] {5, 1, 0});
    out.write(new byte[] {5, 1, 0, 1, 127, 0, 0, 1, (byte) (port >> 8), (byte) port});
    out.flush();
    byte[] greeting = in.readNBytes(2);
    byte[] reply = in.readNBytes(10);
    if (greeting.length != 2 || greeting[1] != 0 || reply.length != 10 || reply[1] != 0) {
      s.close();
      return null;
    }
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
      if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
        length = Integer.parseInt(line.substring(15).trim());
      }
    }
    in.readNBytes(length);
    return head.toString();
  }

  /** The tunnel ends: end of stream or a reset, within the socket's 30 s read timeout. */
  private static void assertEndOfStream(Socket s) throws IOException {
    try {
      assertThat(s.getInputStream().read()).as("end of stream on a tunnel the policy no longer allows").isEqualTo(-1);
    } catch (SocketException reset) {
      assertThat(reset.getMessage()).containsIgnoringCase("reset");
    }
  }
}
