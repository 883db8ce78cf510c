package dev.conduit.core.tunnel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conduit.core.Conduit;
import dev.conduit.core.Destination;
import dev.conduit.core.Listener;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.pki.CertificateRequest.Usage;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import io.netty.handler.ssl.DelegatingSslContext;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslProvider;
import java.lang.reflect.Method;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSession;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * TLS session resumption between two conduits: the tunnel client caches the session (ticket) it got from the
 * tunnel server per peer host:port, so the next tunnel to that peer resumes it instead of doing a full
 * handshake (no certificate signing or chain verification on either side). Real TLS 1.3 with certificates made
 * by the test, the production contexts of {@link TlsMaterial}, with both the JDK and the OpenSSL provider;
 * resumption is read from the server's engine of each tunnel.
 */
class TunnelResumptionTest {
  static final CertificateAuthority CA = CertificateAuthority.builder().commonName("resumption CA").build();

  @ParameterizedTest
  @EnumSource(value = SslProvider.class, names = {"JDK", "OPENSSL"})
  void secondTunnelToThePeerResumesTheSession(SslProvider provider) throws Exception {
    if (provider == SslProvider.OPENSSL) {
      boolean available = OpenSsl.isAvailable() && SslProvider.isTlsv13Supported(SslProvider.OPENSSL);
      if ("true".equals(System.getenv("CI"))) {
        assertThat(available).as("netty-tcnative (OpenSSL) with TLS 1.3").isTrue();
      }
      assumeTrue(available, "netty-tcnative (OpenSSL) with TLS 1.3 is not available on this platform");
    }
    TlsMaterial serverMaterial = TlsMaterial.of(CA.issue(CertificateRequest.builder().commonName("b")
        .ipAddress("127.0.0.1").usages(Usage.SERVER).build()), CA.certificate());
    TlsMaterial clientMaterial = TlsMaterial.of(CA.issue(CertificateRequest.builder().commonName("a")
        .uri("spiffe://mesh/a").usages(Usage.CLIENT).build()), CA.certificate());
    SslContext serverContext = serverMaterial.serverContext(provider);
    // the server's engine of each tunnel, in accept order
    BlockingQueue<SSLEngine> serverEngines = new LinkedBlockingQueue<>();
    SslContext recordingServerContext = new DelegatingSslContext(serverContext) {
      @Override
      protected void initEngine(SSLEngine engine) {
        serverEngines.add(engine);
      }
    };
    BlockingQueue<SSLEngine> clientEngines = new LinkedBlockingQueue<>();
    AtomicReference<SslContext> clientContext = new AtomicReference<>(clientMaterial.clientContext(true, provider));

    try (EchoServer destination = new EchoServer();
        Conduit b = Conduit.builder()
            .listener(Listener.builder("tunnel").bind("127.0.0.1:0").protocol(Tunnel.serverProtocol())
                .tls(() -> recordingServerContext).build())
            .router(Router.builder().defaultDecision(RouteDecision.reject("not allowed"))
                .rule(Rule.builder("to-echo").listener("tunnel").destinationCidr("127.0.0.1/32")
                    .port(destination.port()).decision(RouteDecision.direct()).build())
                .build())
            .build().start()) {
      Destination peer = Destination.of("127.0.0.1", b.address("tunnel").getPort());
      try (Conduit a = Conduit.builder()
          .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
          .outbound(Outbound.builder("to-b").hop(Tunnel.clientHop(List.of(peer), clientContext::get)).build())
          .router(Router.builder().defaultDecision(RouteDecision.via("to-b")).build())
          .build().start()) {

        Handshake first = tunnelOnce(a, destination.port(), serverEngines, null);
        Handshake second = tunnelOnce(a, destination.port(), serverEngines, first);
        // a client context with an empty session cache (as after a certificate reload) does a full handshake:
        // this shows that the check tells the two apart
        clientContext.set(clientMaterial.clientContext(true, provider));
        Handshake fresh = tunnelOnce(a, destination.port(), serverEngines, first);

        assertThat(first.protocol).isEqualTo("TLSv1.3");
        assertThat(first.resumed).as("first tunnel: full handshake").isFalse();
        assertThat(second.resumed).as("second tunnel: resumed session").isTrue();
        assertThat(second.protocol).isEqualTo("TLSv1.3");
        assertThat(fresh.resumed).as("tunnel from a fresh client context: full handshake").isFalse();
        assertThat(destination.accepted()).isEqualTo(3);
      }
    }
  }

  /** What B's engine of one tunnel reported while the tunnel was open. */
  private record Handshake(String protocol, boolean resumed, long creationTime) {}

  /**
   * One tunnel through A's SOCKS listener to the echo destination; B's engine is read while the tunnel is open
   * (a closed OpenSSL engine has freed its native state and reports nothing).
   */
  private static Handshake tunnelOnce(Conduit a, int port, BlockingQueue<SSLEngine> serverEngines, Handshake earlier)
      throws Exception {
    Object connected = TunnelTest.socks5Connect(a, port);
    assertThat(connected).isInstanceOf(Socket.class);
    Handshake handshake;
    try (Socket s = (Socket) connected) {
      assertThat(TunnelTest.exchange(s, "ping\n")).isEqualTo("ping\n");
      SSLEngine engine = serverEngines.poll(10, TimeUnit.SECONDS);
      assertThat(engine).as("B's TLS engine").isNotNull();
      SSLSession session = engine.getSession();
      handshake = new Handshake(session.getProtocol(), resumed(engine, earlier), session.getCreationTime());
    }
    // a later tunnel starts once the millisecond clock has moved on, so creation times of full handshakes differ
    while (System.currentTimeMillis() <= handshake.creationTime()) {
      Thread.onSpinWait();
    }
    return handshake;
  }

  /**
   * Whether the server resumed a session in {@code engine}'s handshake. OpenSSL reports it directly; the JDK has
   * no API for it, but a resumed session keeps the creation time of the session it resumes ({@code earlier}'s).
   */
  private static boolean resumed(SSLEngine engine, Handshake earlier) throws Exception {
    Class<?> openSsl = Class.forName("io.netty.handler.ssl.ReferenceCountedOpenSslEngine");
    if (openSsl.isInstance(engine)) {
      Method reused = openSsl.getDeclaredMethod("isSessionReused");
      reused.setAccessible(true);
      return (Boolean) reused.invoke(engine);
    }
    return earlier != null && engine.getSession().getCreationTime() == earlier.creationTime;
  }
}
