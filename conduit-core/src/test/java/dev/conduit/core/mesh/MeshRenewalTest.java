package dev.conduit.core.mesh;

import static dev.conduit.core.mesh.ManagerFixture.ADMIN_TOKEN;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.Destination;
import dev.conduit.core.Listener;
import dev.conduit.core.control.enrol.CertificateLifetime;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.control.store.NodeRole;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.pki.PeerGuard;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import dev.conduit.core.runtime.ConduitRuntime;
import dev.conduit.core.tunnel.MeshPlan;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Certificates that live seconds, renewed under a running transfer: a manager issuing node certificates for
 * {@link #LIFETIME}, node A and node B (real {@link MeshNode}s renewing at about 2/3 of it), B's tunnel server as
 * {@link MeshTunnels} builds it from B's membership, with B's TLS material; A tunnels to it with its own. A long
 * echo transfer runs through one tunnel while both certificates renew at least twice (the first ones expire
 * meanwhile); then a new tunnel opens with the new certificates on both sides, and the old transfer ends byte-exact,
 * neither reset nor short.
 *
 * <p>Members may not report loopback addresses, so B's membership names 198.18.0.x: A dials B's tunnel server on
 * 127.0.0.1 and verifies B's certificate for B's reported address, as a tunnel to that address would.
 */
class MeshRenewalTest {

  /** The node certificates' lifetime: short enough to renew twice in a test, long enough for a busy machine. */
  private static final Duration LIFETIME = Duration.ofSeconds(12);
  private static final int CHUNK = 32 * 1024;
  private static final long AT_LEAST = 4L * 1024 * 1024;

  @TempDir
  Path dir;

  @Test
  void bothNodesRenewTwiceUnderARunningTransferAndNothingIsLost() throws Exception {
    ConduitResources resources = ConduitResources.create();
    List<AutoCloseable> closing = new ArrayList<>();
    int pushPort = freePort();
    Path m = dir.resolve("m");
    MeshManagerService service = new MeshManagerService(MeshManager.builder(
        StoreConfig.sqlite(m.resolve("manager.db")).build(), m)
        .bind(new InetSocketAddress("127.0.0.1", 0)).trustDomain("test.mesh").adminToken(ADMIN_TOKEN)
        .nodeCertificates(CertificateLifetime.of(LIFETIME), "conduit tests"))
        .withPush(new InetSocketAddress("127.0.0.1", pushPort));
    ConduitRuntime managerRuntime = ConduitRuntime.builder().service(service).build().start();
    try (Echo echo = Echo.start()) {
      ManagerAdminClient admin = ManagerFixture.admin(service.manager());
      String mgr = ManagerFixture.address(service.manager());
      BlockingQueue<BigInteger> aRenewed = new LinkedBlockingQueue<>();
      BlockingQueue<BigInteger> bRenewed = new LinkedBlockingQueue<>();
      List<BigInteger> aAll = new java.util.concurrent.CopyOnWriteArrayList<>();
      List<BigInteger> bAll = new java.util.concurrent.CopyOnWriteArrayList<>();

      // B: a mesh node whose tunnel server follows its membership and its renewed certificate
      // B's own tunnels dial with B's renewed certificate: read lazily, the node is built after its listener
      BlockingQueue<MeshMembership> appliedOnB = new LinkedBlockingQueue<>();
      AtomicReference<MeshNode> nodeB = new AtomicReference<>();
      MeshTunnels tunnelsB = new MeshTunnels("host-b", () -> nodeB.get().tls().clientContext(),
          () -> List.of("198.18.0.31", "fd00::31"));
      MeshNode b = node(resources, mgr, pushPort, "host-b", "198.18.0.31", admin).listener(tunnelsB)
          .listener(appliedOnB::add).build(); // after tunnelsB: hears only what it applied without failing
      nodeB.set(b);
      b.onRenewed(t -> {
        bAll.add(t.certificate().getSerialNumber());
        bRenewed.add(t.certificate().getSerialNumber());
      });
      b.start();
      closing.add(b::close);
      List<BigInteger> clientsSeenByB = new java.util.concurrent.CopyOnWriteArrayList<>();
      PeerGuard recordingB = (certificate, channel) -> {
        clientsSeenByB.add(certificate.getSerialNumber());
        return tunnelsB.denyList().admit(certificate, channel);
      };
      Conduit serverB = Conduit.builder()
          .listener(MeshTunnels.serverListener("127.0.0.1:0", b.tls()::tunnelServerContext, recordingB))
          .router(Router.builder().defaultDecision(RouteDecision.reject("not attached yet")).build())
          .build().start();
      closing.add(serverB);
      tunnelsB.attach(serverB);

      // A: a mesh node dialling B's tunnel server with its own, renewed, certificate
      MeshNode a = node(resources, mgr, pushPort, "host-a", "198.18.0.30", admin).build();
      a.onRenewed(t -> {
        aAll.add(t.certificate().getSerialNumber());
        aRenewed.add(t.certificate().getSerialNumber());
      });
      a.start();
      closing.add(a::close);
      List<BigInteger> serversSeenByA = new java.util.concurrent.CopyOnWriteArrayList<>();
      Conduit clientA = Conduit.builder()
          .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
          .outbound(Outbound.builder("member-host-b").hop(Hop.builder(Hop.Protocol.HTTP).forwardClientAddress(true)
              .endpoint(Destination.of("127.0.0.1", serverB.address(MeshPlan.SERVER_LISTENER).getPort()))
              .sslContext(a.tls()::clientContext).tlsServerName("198.18.0.31")
              .peerGuard((certificate, channel) -> serversSeenByA.add(certificate.getSerialNumber())).build())
              .build())
          .router(Router.builder().rule(Rule.builder("all").listener("socks")
              .decision(RouteDecision.via("member-host-b")).build()).build())
          .build().start();
      closing.add(clientA);

      // B's tunnels applied the membership naming A (with an outbound to A dialling with B's certificate)
      while (true) {
        MeshMembership applied = appliedOnB.poll(30, TimeUnit.SECONDS);
        assertThat(applied).as("B applied a membership with host-a within 30 s").isNotNull();
        if (applied.members().containsKey("host-a")) {
          break;
        }
      }

      TlsMaterial firstA = a.tls().material();
      TlsMaterial firstB = b.tls().material();
      Socket longTunnel = TunnelSocks.connect(clientA, echo.port());
      assertThat(longTunnel).as("the first tunnel A -> B").isNotNull();
      closing.add(longTunnel);
      assertThat(clientsSeenByB).containsExactly(firstA.certificate().getSerialNumber());
      assertThat(serversSeenByA).containsExactly(firstB.certificate().getSerialNumber());

      CountDownLatch renewalsDone = new CountDownLatch(1);
      CompletableFuture<Long> transfer = CompletableFuture.supplyAsync(() -> stream(longTunnel, renewalsDone));

      // both certificates renew twice while the transfer runs: wait for the renewals themselves
      List<BigInteger> aSerials = awaitRenewals(aRenewed, 2, transfer);
      List<BigInteger> bSerials = awaitRenewals(bRenewed, 2, transfer);
      assertThat(transfer).as("the transfer is still running through the renewals").isNotDone();
      assertThat(aSerials).doesNotContain(firstA.certificate().getSerialNumber()).doesNotHaveDuplicates();
      assertThat(bSerials).doesNotContain(firstB.certificate().getSerialNumber()).doesNotHaveDuplicates();
      // a second renewal comes after 2 x ~2/3 of the lifetime: the first certificates have expired by now
      assertThat(Instant.now()).isAfter(firstA.certificate().getNotAfter().toInstant())
          .isAfter(firstB.certificate().getNotAfter().toInstant());

      // a new tunnel handshakes with the current certificates on both sides, and works
      assertThat(a.tls().material().certificate().getSerialNumber()).isIn(aAll);
      assertThat(b.tls().material().certificate().getSerialNumber()).isIn(bAll);
      try (Socket fresh = TunnelSocks.connect(clientA, echo.port())) {
        assertThat(fresh).as("a new tunnel A -> B after the renewals").isNotNull();
        byte[] hello = "hello after renewal".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        fresh.getOutputStream().write(hello);
        fresh.getOutputStream().flush();
        assertThat(fresh.getInputStream().readNBytes(hello.length)).isEqualTo(hello);
      }
      // (a third renewal may have come meanwhile: any renewed certificate, never the expired first one)
      assertThat(clientsSeenByB).hasSize(2);
      assertThat(clientsSeenByB.get(1)).as("A's certificate on the new tunnel").isIn(aAll)
          .isNotEqualTo(firstA.certificate().getSerialNumber());
      assertThat(serversSeenByA).hasSize(2);
      assertThat(serversSeenByA.get(1)).as("B's certificate on the new tunnel").isIn(bAll)
          .isNotEqualTo(firstB.certificate().getSerialNumber());

      // the old tunnel is still the same connection; its transfer ends byte-exact
      renewalsDone.countDown();
      long total = transfer.get(120, TimeUnit.SECONDS);
      assertThat(total).isGreaterThanOrEqualTo(AT_LEAST);
      assertThat(echo.echoed()).as("bytes the echo service saw").isEqualTo(total + "hello after renewal".length());
      assertThat(clientsSeenByB).as("no tunnel was re-dialled").hasSize(2);
    } finally {
      for (int i = closing.size() - 1; i >= 0; i--) {
        closing.get(i).close();
      }
      managerRuntime.stop();
      resources.close();
    }
  }

  private MeshNode.Builder node(ConduitResources resources, String manager, int pushPort, String name, String ip,
      ManagerAdminClient admin) throws IOException {
    String token = admin.createToken(Duration.ofMinutes(10), null).get("token").asText();
    return MeshNode.builder(resources, List.of(manager), dir.resolve(name)).name(name).role(NodeRole.BOTH)
        .addresses(List.of(ip, "fd00::" + ip.substring(ip.lastIndexOf('.') + 1))).serverAddress(ip + ":5053")
        .pushAddresses(List.of(URI.create("wss://127.0.0.1:" + pushPort + PushServer.DEFAULT_PATH)))
        .backoff(Duration.ofMillis(50), Duration.ofMillis(500)).token(token)
        .renewAt(2.0 / 3, 0.05); // the second renewal then comes after the first certificate's end (12 x 2 x 0.617)
  }

  /**
   * Sends pseudo-random chunks and reads each back (compared byte for byte) until {@code done} opens and at least
   * {@link #AT_LEAST} bytes went through; then half-closes and expects a clean end of stream. Returns the bytes.
   */
  private static long stream(Socket tunnel, CountDownLatch done) {
    try {
      OutputStream out = tunnel.getOutputStream();
      InputStream in = tunnel.getInputStream();
      Random content = new Random(15);
      byte[] sent = new byte[CHUNK];
      long total = 0;
      while (total < AT_LEAST || done.getCount() > 0) {
        content.nextBytes(sent);
        out.write(sent);
        out.flush();
        byte[] back = in.readNBytes(CHUNK);
        if (!Arrays.equals(sent, back)) {
          throw new AssertionError("echo differs after " + total + " bytes (" + back.length + " read back)");
        }
        total += CHUNK;
        // paces the sender (bounded chunks, slowly) and wakes at once when the test is done with renewals
        done.await(20, TimeUnit.MILLISECONDS);
      }
      tunnel.shutdownOutput();
      assertThat(in.read()).as("a clean end of stream after the echo").isEqualTo(-1);
      return total;
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Waits for {@code count} renewals (60 s each at most), failing early if the transfer broke meanwhile. */
  private static List<BigInteger> awaitRenewals(BlockingQueue<BigInteger> renewed, int count,
      CompletableFuture<Long> transfer) throws Exception {
    List<BigInteger> serials = new ArrayList<>();
    while (serials.size() < count) {
      BigInteger s = renewed.poll(60, TimeUnit.SECONDS);
      if (transfer.isCompletedExceptionally()) {
        transfer.join();
      }
      assertThat(s).as("renewal " + (serials.size() + 1) + " within 60 s").isNotNull();
      serials.add(s);
    }
    return serials;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** An echo service on 127.0.0.1: each connection gets back what it sends, then an end of stream. */
  private static final class Echo implements AutoCloseable {
    private final ServerSocket server;
    private final java.util.concurrent.atomic.AtomicLong echoed = new java.util.concurrent.atomic.AtomicLong();
    private final List<Socket> accepted = new java.util.concurrent.CopyOnWriteArrayList<>();

    private Echo(ServerSocket server) {
      this.server = server;
    }

    static Echo start() throws IOException {
      Echo e = new Echo(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
      Thread t = new Thread(e::accept, "echo-accept");
      t.setDaemon(true);
      t.start();
      return e;
    }

    int port() {
      return server.getLocalPort();
    }

    long echoed() {
      return echoed.get();
    }

    private void accept() {
      try {
        while (true) {
          Socket s = server.accept();
          accepted.add(s);
          Thread t = new Thread(() -> echo(s), "echo");
          t.setDaemon(true);
          t.start();
        }
      } catch (IOException closed) {
        // the service is closing
      }
    }

    private void echo(Socket s) {
      try (s) {
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        byte[] buffer = new byte[16 * 1024];
        int n;
        while ((n = in.read(buffer)) >= 0) {
          out.write(buffer, 0, n);
          out.flush();
          echoed.addAndGet(n);
        }
        s.shutdownOutput();
      } catch (IOException e) {
        // the test sees the broken stream on its side
      }
    }

    @Override
    public void close() throws IOException {
      server.close();
      for (Socket s : accepted) {
        s.close();
      }
    }
  }
}
