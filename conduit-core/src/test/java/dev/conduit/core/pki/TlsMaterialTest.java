package dev.conduit.core.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.pki.CertificateRequest.Usage;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real TLS handshakes over loopback between a Netty server and client using the mTLS contexts. */
class TlsMaterialTest {

  private static final CertificateAuthority CA = CertificateAuthority.builder().commonName("mesh CA").build();
  private static final CertificateAuthority OTHER_CA = CertificateAuthority.builder().commonName("other CA").build();

  private static EventLoopGroup group;

  @TempDir
  Path directory;

  private Channel server;
  private final BlockingQueue<Object> serverOutcomes = new LinkedBlockingQueue<>();

  @BeforeAll
  static void startGroup() {
    group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
  }

  @AfterAll
  static void stopGroup() {
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  @AfterEach
  void stopServer() {
    if (server != null) {
      server.close().syncUninterruptibly();
    }
  }

  @Test
  void mutualTlsHandshakeExposesClientIdentity() throws Exception {
    startServer(serverMaterial(CA, "127.0.0.1")::serverContext);
    TlsMaterial client = TlsMaterial.of(CA.issue(CertificateRequest.builder()
        .commonName("client").uri("spiffe://conduit/node/client").usages(Usage.CLIENT).build()), CA.certificate());

    Connection connection = connect(client.clientContext());

    assertThat(connection.ssl.handshakeFuture().await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(connection.ssl.handshakeFuture().isSuccess()).isTrue();
    assertThat(connection.ssl.engine().getSession().getProtocol()).isEqualTo("TLSv1.3");
    assertThat(serverOutcomes.poll(10, TimeUnit.SECONDS)).isEqualTo("spiffe://conduit/node/client");
    assertThat(line(connection)).isEqualTo("hello spiffe://conduit/node/client\n");
    assertThat(PeerIdentity.of(connection.ssl.engine().getSession()))
        .contains(new PeerIdentity(PeerIdentity.Kind.COMMON_NAME, "server"));
    connection.channel.close().sync();
  }

  @Test
  void tls12ClientIsAccepted() throws Exception {
    startServer(serverMaterial(CA, "127.0.0.1")::serverContext);
    IssuedCertificate client = CA.issue(CertificateRequest.builder().dnsName("client.test").build());
    SslContext tls12 = SslContextBuilder.forClient()
        .keyManager(client.privateKey().orElseThrow(), client.chain())
        .trustManager(CA.certificate())
        .protocols("TLSv1.2")
        .build();

    Connection connection = connect(tls12);

    assertThat(serverOutcomes.poll(10, TimeUnit.SECONDS)).isEqualTo("client.test");
    assertThat(connection.ssl.handshakeFuture().await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(connection.ssl.engine().getSession().getProtocol()).isEqualTo("TLSv1.2");
    connection.channel.close().sync();
  }

  @Test
  void clientWithoutCertificateIsRefused() throws Exception {
    startServer(serverMaterial(CA, "127.0.0.1")::serverContext);
    SslContext noCertificate = SslContextBuilder.forClient().trustManager(CA.certificate())
        .protocols(TlsMaterial.PROTOCOLS).build();

    Connection connection = connect(noCertificate);

    assertThat(serverOutcomes.poll(10, TimeUnit.SECONDS)).isInstanceOf(SSLHandshakeException.class);
    connection.closed.get(10, TimeUnit.SECONDS);
    assertThat(connection.received).isEmpty();
  }

  @Test
  void clientWithCertificateFromAnotherCaIsRefused() throws Exception {
    startServer(serverMaterial(CA, "127.0.0.1")::serverContext);
    // the client trusts the server's CA, but its own certificate comes from another CA
    IssuedCertificate foreign = OTHER_CA.issue(CertificateRequest.builder().uri("spiffe://evil/node").build());
    TlsMaterial client = TlsMaterial.of(foreign.privateKey().orElseThrow(), foreign.chain(),
        List.of(CA.certificate()));

    Connection connection = connect(client.clientContext());

    assertThat(serverOutcomes.poll(10, TimeUnit.SECONDS)).isInstanceOf(SSLHandshakeException.class);
    connection.closed.get(10, TimeUnit.SECONDS);
    assertThat(connection.received).isEmpty();
  }

  @Test
  void clientChecksServerName() throws Exception {
    startServer(serverMaterial(CA, "other.test")::serverContext);
    TlsMaterial client = TlsMaterial.of(CA.issue(CertificateRequest.builder().commonName("c").build()),
        CA.certificate());

    Connection verifying = connect(client.clientContext());
    assertThat(verifying.ssl.handshakeFuture().await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(verifying.ssl.handshakeFuture().cause()).isInstanceOf(SSLHandshakeException.class);
    verifying.closed.get(10, TimeUnit.SECONDS);

    Connection byIdentity = connect(client.clientContext(false));
    assertThat(byIdentity.ssl.handshakeFuture().await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(PeerIdentity.of(byIdentity.ssl.engine().getSession()).map(PeerIdentity::value)).contains("other.test");
    byIdentity.channel.close().sync();
  }

  @Test
  void refusesKeyThatDoesNotMatchCertificate() {
    IssuedCertificate a = CA.mintServerLeaf("a.test");
    IssuedCertificate b = CA.mintServerLeaf("b.test");

    assertThatThrownBy(() -> TlsMaterial.of(a.privateKey().orElseThrow(), b.chain(),
        List.of(CA.certificate())))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("privateKey: does not belong to the certificate CN=b.test");
  }

  @Test
  void reloadServesNewCertificateToNewHandshakesAndKeepsOldConnections() throws Exception {
    Path cert = directory.resolve("node.crt");
    Path key = directory.resolve("node.key");
    Path trust = directory.resolve("ca.crt");
    Files.writeString(trust, CA.certificatePem());
    IssuedCertificate first = serverCertificate(CA, "127.0.0.1");
    first.writeTo(cert, key);
    TlsMaterial client = TlsMaterial.of(CA.issue(CertificateRequest.builder().uri("spiffe://conduit/c").build()),
        CA.certificate());

    // the checks run on this executor, which counts each one: the test waits for checks, not for time
    Semaphore checks = new Semaphore(0);
    ScheduledThreadPoolExecutor checker = new ScheduledThreadPoolExecutor(1) {
      @Override
      protected void afterExecute(Runnable r, Throwable t) {
        super.afterExecute(r, t);
        checks.release();
      }
    };
    try (ReloadingTlsMaterial reloading = ReloadingTlsMaterial.builder(cert, key, trust)
        .checkInterval(Duration.ofMillis(50)).executor(checker).build()) {
      startServer(reloading::serverContext);
      Connection before = connect(client.clientContext());
      assertThat(serverOutcomes.poll(10, TimeUnit.SECONDS)).isEqualTo("spiffe://conduit/c");
      assertThat(peerCertificate(before)).isEqualTo(first.certificate());

      IssuedCertificate second = serverCertificate(CA, "127.0.0.1");
      second.writeTo(cert, key);
      checks.drainPermits();
      // a check after the write sees the new files (a few, where the file system's clock is coarse)
      for (int i = 0; i < 100 && !reloading.material().certificate().equals(second.certificate()); i++) {
        assertThat(checks.tryAcquire(10, TimeUnit.SECONDS)).as("the reload checks run").isTrue();
      }
      assertThat(reloading.material().certificate()).isEqualTo(second.certificate());

      Connection after = connect(client.clientContext());
      assertThat(serverOutcomes.poll(10, TimeUnit.SECONDS)).isEqualTo("spiffe://conduit/c");
      assertThat(peerCertificate(after)).isEqualTo(second.certificate());

      // the connection made before the reload still works
      assertThat(line(before)).startsWith("hello");
      before.channel.writeAndFlush(Unpooled.copiedBuffer("ping\n", StandardCharsets.US_ASCII)).sync();
      assertThat(line(before)).isEqualTo("ping\n");
      before.channel.close().sync();
      after.channel.close().sync();
    } finally {
      checker.shutdownNow();
    }
  }

  @Test
  void brokenFilesKeepThePreviousMaterial() throws Exception {
    Path cert = directory.resolve("node.crt");
    Path key = directory.resolve("node.key");
    Path trust = directory.resolve("ca.crt");
    Files.writeString(trust, CA.certificatePem());
    IssuedCertificate first = serverCertificate(CA, "127.0.0.1");
    first.writeTo(cert, key);

    try (ReloadingTlsMaterial reloading = ReloadingTlsMaterial.builder(cert, key, trust)
        .checkInterval(Duration.ofHours(1)).build()) {
      // a new certificate next to the old key, as seen between two renames
      serverCertificate(CA, "127.0.0.1").writeCertificateTo(cert);
      assertThat(reloading.reloadIfChanged()).isFalse();
      Files.writeString(key, "garbage");
      assertThat(reloading.reloadIfChanged()).isFalse();
      assertThat(reloading.material().certificate()).isEqualTo(first.certificate());

      IssuedCertificate third = serverCertificate(CA, "127.0.0.1");
      third.writeTo(cert, key);
      assertThat(reloading.reloadIfChanged()).isTrue();
      assertThat(reloading.material().certificate()).isEqualTo(third.certificate());
      assertThat(reloading.reloadIfChanged()).isFalse();
    }
  }

  private static IssuedCertificate serverCertificate(CertificateAuthority ca, String name) {
    return ca.issue(CertificateRequest.builder().commonName("server")
        .subjectAlternativeName(SubjectAlternativeName.parse(name)).usages(Usage.SERVER).build());
  }

  private static TlsMaterial serverMaterial(CertificateAuthority ca, String name) {
    return TlsMaterial.of(serverCertificate(ca, name), ca.certificate());
  }

  /** The next line the connection received; TLS may deliver one write in several reads. */
  private static String line(Connection connection) throws InterruptedException {
    StringBuilder line = new StringBuilder();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (line.indexOf("\n") < 0) {
      String part = connection.received.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      if (part == null) {
        break;
      }
      line.append(part);
    }
    return line.toString();
  }

  private static X509Certificate peerCertificate(Connection connection) throws Exception {
    assertThat(connection.ssl.handshakeFuture().await(10, TimeUnit.SECONDS)).isTrue();
    return (X509Certificate) connection.ssl.engine().getSession().getPeerCertificates()[0];
  }

  private void startServer(Supplier<SslContext> contexts) throws InterruptedException {
    server = new ServerBootstrap()
        .group(group)
        .channel(NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel channel) {
            channel.pipeline().addLast(contexts.get().newHandler(channel.alloc()), new GreetAndEcho(serverOutcomes));
          }
        })
        .bind(InetAddress.getLoopbackAddress(), 0).sync().channel();
  }

  private Connection connect(SslContext context) throws InterruptedException {
    InetSocketAddress address = (InetSocketAddress) server.localAddress();
    Connection connection = new Connection();
    connection.channel = new Bootstrap()
        .group(group)
        .channel(NioSocketChannel.class)
        .handler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel channel) {
            connection.ssl = context.newHandler(channel.alloc(), "127.0.0.1", address.getPort());
            channel.pipeline().addLast(connection.ssl, new Collect(connection));
          }
        })
        .connect(address).sync().channel();
    return connection;
  }

  private static final class Connection {
    volatile Channel channel;
    volatile SslHandler ssl;
    final BlockingQueue<String> received = new LinkedBlockingQueue<>();
    final CompletableFuture<Void> closed = new CompletableFuture<>();
  }

  /** Client side: records what arrives and when the connection closes. */
  private static final class Collect extends ChannelInboundHandlerAdapter {
    private final Connection connection;

    Collect(Connection connection) {
      this.connection = connection;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf buf = (ByteBuf) msg;
      try {
        connection.received.add(buf.toString(StandardCharsets.US_ASCII));
      } finally {
        buf.release();
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close(); // handshake failures end here; the test looks at the outcome
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      connection.closed.complete(null);
    }
  }

  /** Server side: reports the handshake outcome, greets the client with its identity, then echoes. */
  private static final class GreetAndEcho extends ChannelInboundHandlerAdapter {
    private final BlockingQueue<Object> outcomes;

    GreetAndEcho(BlockingQueue<Object> outcomes) {
      this.outcomes = outcomes;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
      if (event instanceof SslHandshakeCompletionEvent) {
        SslHandshakeCompletionEvent completion = (SslHandshakeCompletionEvent) event;
        if (completion.isSuccess()) {
          String identity = PeerIdentity.of(ctx.pipeline().get(SslHandler.class).engine().getSession())
              .map(PeerIdentity::value).orElse("<none>");
          outcomes.add(identity);
          ctx.writeAndFlush(Unpooled.copiedBuffer("hello " + identity + "\n", StandardCharsets.US_ASCII));
        } else {
          outcomes.add(completion.cause());
        }
      }
      ctx.fireUserEventTriggered(event);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ctx.writeAndFlush(msg);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}
