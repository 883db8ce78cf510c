package dev.conduit.core.mesh;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.control.enrol.CaPin;
import dev.conduit.core.control.enrol.CertificateLifetime;
import dev.conduit.core.control.enrol.EnrolmentService;
import dev.conduit.core.control.enrol.ManagerCertificateAuthority;
import dev.conduit.core.control.enrol.MeshIdentity;
import dev.conduit.core.control.enrol.internal.SecretFiles;
import dev.conduit.core.control.store.ControlStore;
import dev.conduit.core.control.store.NodeRecord;
import dev.conduit.core.control.store.NodeState;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.mesh.internal.ManagerApi;
import dev.conduit.core.mesh.internal.ManagerHttpHandler;
import dev.conduit.core.mesh.internal.RateLimiter;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.IssuedCertificate;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mesh manager: it runs the mesh's certificate authority, admits nodes (join token, approval, or
 * {@code auto_approve} for labs), renews their certificates over mutual TLS and serves the operator's admin API,
 * all as HTTP JSON over TLS with a certificate from its own CA. State lives in a {@link ControlStore}: SQLite for
 * one manager, PostgreSQL for several sharing one database.
 *
 * <pre>{@code
 * try (MeshManager manager = MeshManager.builder(StoreConfig.sqlite(dir.resolve("manager.db")).build(), dir)
 *     .bind(new InetSocketAddress(5051)).build().start()) {
 *   System.out.println("pin nodes to " + manager.caPin());
 *   ...
 * }
 * }</pre>
 *
 * <p>Limits: request heads of 8 KiB, bodies of 64 KiB, 30 s idle connections, a bounded worker queue (503 beyond),
 * and enrolment requests limited per source address (429 beyond).
 */
public final class MeshManager implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(MeshManager.class);

  /** The file in the data directory holding the key that encrypts the CA key in the store. */
  public static final String CA_KEY_FILE = "ca-encryption.key";
  /** The file in the data directory the CA certificate is exported to (for operators' commands). */
  public static final String CA_FILE = "ca.crt";
  /** The file in the data directory holding the admin API token, when none is given. */
  public static final String ADMIN_TOKEN_FILE = "admin.token";
  /** The largest request body accepted. */
  public static final int MAX_BODY_BYTES = 64 * 1024;

  private final Builder config;
  private ControlStore store;
  private EnrolmentService enrolment;
  private EventLoopGroup group;
  private Channel serverChannel;
  private ThreadPoolExecutor workers;
  private ScheduledExecutorService scheduler;
  private final AtomicReference<SslContext> serverTls = new AtomicReference<>();
  private String adminToken;

  private MeshManager(Builder config) {
    this.config = config;
  }

  /** Returns a builder with the store to use and the data directory (key file, CA export, admin token). */
  public static Builder builder(StoreConfig store, Path dataDirectory) {
    return new Builder(store, dataDirectory);
  }

  /**
   * Opens the store, loads or creates the CA, and starts serving.
   *
   * @throws IOException if the data directory cannot be used or the address cannot be bound
   * @throws dev.conduit.core.control.store.StoreException if the database cannot be reached
   */
  public synchronized MeshManager start() throws IOException {
    if (group != null) {
      throw new IllegalStateException("already started");
    }
    Files.createDirectories(config.dataDirectory);
    store = ControlStore.open(config.store);
    try {
      CertificateAuthority ca = ManagerCertificateAuthority.loadOrCreate(store,
          config.dataDirectory.resolve(CA_KEY_FILE), config.caCommonName, config.caOrganization, config.caLifetime);
      SecretFiles.write(config.dataDirectory.resolve(CA_FILE), ca.certificatePem().getBytes(StandardCharsets.US_ASCII),
          false);
      EnrolmentService.Builder e = EnrolmentService.builder(store, ca).identity(config.identity)
          .nodeLifetime(config.nodeLifetime).autoApprove(config.autoApprove).maxPending(config.maxPending)
          .approveCommand(config.approveCommand);
      if (config.nodeOrganization != null) {
        e.organization(config.nodeOrganization);
      }
      enrolment = e.build();
      adminToken = config.adminToken != null ? config.adminToken : adminTokenFromFile();
      renewServerCertificate();
      workers = new ThreadPoolExecutor(config.workerThreads, config.workerThreads, 60, TimeUnit.SECONDS,
          new ArrayBlockingQueue<>(256), new DefaultThreadFactory("conduit-manager-worker", true));
      scheduler = Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("conduit-manager-tls", true));
      scheduleServerRenewal();
      bind(new ManagerApi(enrolment, adminToken, new RateLimiter(config.enrolmentRate, config.enrolmentBurst)));
    } catch (IOException | RuntimeException e) {
      close();
      throw e;
    }
    log.info("manager: listening on {} (trust domain {}), CA pin {}", address(), config.identity.trustDomain(),
        enrolment.caPin());
    for (NodeRecord n : store.nodes()) {
      if (n.state() == NodeState.PENDING) {
        log.warn("manager: node {} ({}) waits for approval; to admit it run: {}", n.name(), n.addresses(),
            enrolment.approveCommand(n.name()));
      }
    }
    return this;
  }

  private void bind(ManagerApi api) throws IOException {
    group = new MultiThreadIoEventLoopGroup(config.ioThreads, new DefaultThreadFactory("conduit-manager", true),
        NioIoHandler.newFactory());
    AtomicInteger connections = new AtomicInteger();
    ChannelFuture f = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            if (connections.incrementAndGet() > config.maxConnections) {
              connections.decrementAndGet();
              ch.close();
              return;
            }
            ch.closeFuture().addListener(x -> connections.decrementAndGet());
            SslHandler ssl = serverTls.get().newHandler(ch.alloc());
            ssl.setHandshakeTimeoutMillis(10_000);
            ch.pipeline().addLast(ConduitPipeline.MANAGER_TLS, ssl)
                .addLast(ConduitPipeline.MANAGER_IDLE, new IdleStateHandler(0, 0, 30, TimeUnit.SECONDS))
                .addLast(ConduitPipeline.MANAGER_CODEC, new HttpServerCodec(4096, 8192, 8192))
                .addLast(ConduitPipeline.MANAGER_AGGREGATOR, new HttpObjectAggregator(MAX_BODY_BYTES))
                .addLast(ConduitPipeline.MANAGER_API, new ManagerHttpHandler(api, workers));
          }
        }).bind(config.bind).awaitUninterruptibly();
    if (!f.isSuccess()) {
      throw new BindException("manager: cannot bind " + config.bind + ": " + f.cause().getMessage());
    }
    serverChannel = f.channel();
  }

  /** Issues the manager's own certificate and schedules the next one at two thirds of its lifetime. */
  private void renewServerCertificate() {
    List<String> names = new ArrayList<>(config.serverNames);
    if (!config.bind.getAddress().isAnyLocalAddress()) {
      names.add(config.bind.getAddress().getHostAddress());
    }
    IssuedCertificate issued = enrolment.issueManagerCertificate(names, config.serverCertificateLifetime);
    try {
      serverTls.set(SslContextBuilder.forServer(issued.privateKey().orElseThrow(), issued.chain())
          .trustManager(enrolment.certificateAuthority().certificate())
          .clientAuth(ClientAuth.OPTIONAL) // enrolment has no certificate yet; renewal and operators present one
          .protocols("TLSv1.3", "TLSv1.2").build());
    } catch (SSLException e) {
      throw new IllegalStateException("manager tls: " + e.getMessage(), e);
    }
    if (scheduler != null) {
      scheduleServerRenewal();
    }
  }

  private void scheduleServerRenewal() {
    long delay = config.serverCertificateLifetime.toMillis() * 2 / 3;
    scheduler.schedule(() -> {
      try {
        renewServerCertificate();
      } catch (RuntimeException e) {
        log.error("manager: renewing its own certificate failed; retrying in a minute", e);
        scheduler.schedule(this::scheduleServerRenewal, 1, TimeUnit.MINUTES);
      }
    }, delay, TimeUnit.MILLISECONDS);
  }

  private String adminTokenFromFile() throws IOException {
    Path file = config.adminTokenFile != null ? config.adminTokenFile
        : config.dataDirectory.resolve(ADMIN_TOKEN_FILE);
    if (Files.exists(file)) {
      SecretFiles.requireOwnerOnly(file);
      String token = Files.readString(file, StandardCharsets.UTF_8).trim();
      if (token.length() < 16) {
        throw new IllegalArgumentException(file + ": the admin token is shorter than 16 characters");
      }
      return token;
    }
    byte[] random = new byte[24];
    new SecureRandom().nextBytes(random);
    String token = HexFormat.of().formatHex(random);
    SecretFiles.write(file, (token + "\n").getBytes(StandardCharsets.US_ASCII), true);
    log.info("manager: created the admin API token in {} (mode 0600)", file);
    return token;
  }

  /** Returns the bound address. */
  public InetSocketAddress address() {
    Channel ch = serverChannel;
    if (ch == null) {
      throw new IllegalStateException("not started");
    }
    return (InetSocketAddress) ch.localAddress();
  }

  /** Returns the CA's pin ({@code sha256:HEX}) that nodes are given. */
  public String caPin() {
    return CaPin.of(enrolment.certificateAuthority().certificate());
  }

  /** Returns the enrolment service (the CA, the store, the identities), for embedders and the push channel. */
  public EnrolmentService enrolment() {
    requireStarted();
    return enrolment;
  }

  /** Returns the store. */
  public ControlStore store() {
    requireStarted();
    return store;
  }

  /** Returns the server TLS context in use (mutual TLS optional), e.g. to serve more on another port. */
  public SslContext serverTls() {
    requireStarted();
    return serverTls.get();
  }

  /** Returns the admin API token. */
  public String adminToken() {
    requireStarted();
    return adminToken;
  }

  private void requireStarted() {
    if (enrolment == null) {
      throw new IllegalStateException("not started");
    }
  }

  /** Stops serving and closes the store. */
  @Override
  public synchronized void close() {
    if (serverChannel != null) {
      serverChannel.close().awaitUninterruptibly();
      serverChannel = null;
    }
    if (group != null) {
      group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
      group = null;
    }
    if (scheduler != null) {
      scheduler.shutdownNow();
    }
    if (workers != null) {
      workers.shutdown();
      try {
        workers.awaitTermination(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (store != null) {
      store.close();
      store = null;
    }
  }

  @Override
  public String toString() {
    return "MeshManager{bind=" + config.bind + ", store=" + config.store.driver() + ", trustDomain="
        + config.identity.trustDomain() + "}";
  }

  /** Builds a {@link MeshManager}. Not thread-safe. */
  public static final class Builder {
    private final StoreConfig store;
    private final Path dataDirectory;
    private InetSocketAddress bind = new InetSocketAddress(5051);
    private MeshIdentity identity = new MeshIdentity(MeshIdentity.DEFAULT_TRUST_DOMAIN);
    private String caCommonName = "conduit mesh CA";
    private String caOrganization;
    private CertificateLifetime caLifetime = CertificateLifetime.of(CertificateLifetime.DEFAULT_CA);
    private CertificateLifetime nodeLifetime = CertificateLifetime.of(CertificateLifetime.DEFAULT_NODE);
    private String nodeOrganization;
    private boolean autoApprove;
    private String adminToken;
    private Path adminTokenFile;
    private List<String> serverNames = List.of();
    private Duration serverCertificateLifetime = Duration.ofDays(30);
    private double enrolmentRate = 5;
    private int enrolmentBurst = 20;
    private int maxPending = EnrolmentService.DEFAULT_MAX_PENDING;
    private String approveCommand = "conduit manager nodes approve %s";
    private int ioThreads = 1;
    private int workerThreads = 4;
    private int maxConnections = 4096;

    private Builder(StoreConfig store, Path dataDirectory) {
      this.store = requireNonNull(store, "store");
      this.dataDirectory = requireNonNull(dataDirectory, "dataDirectory");
    }

    /** Sets the address to listen on (default {@code 0.0.0.0:5051}). */
    public Builder bind(InetSocketAddress bind) {
      this.bind = requireNonNull(bind, "bind");
      return this;
    }

    /** Sets the trust domain of the identities (default {@code conduit.mesh}). */
    public Builder trustDomain(String trustDomain) {
      this.identity = new MeshIdentity(trustDomain);
      return this;
    }

    /** Sets the common name and organization (or null) of a CA created at first start. */
    public Builder certificateAuthority(String commonName, String organization, CertificateLifetime lifetime) {
      this.caCommonName = requireNonNull(commonName, "commonName");
      this.caOrganization = organization;
      this.caLifetime = requireNonNull(lifetime, "lifetime");
      return this;
    }

    /** Sets the lifetime (default 30 days) and organization (or null) of node certificates. */
    public Builder nodeCertificates(CertificateLifetime lifetime, String organization) {
      this.nodeLifetime = requireNonNull(lifetime, "lifetime");
      this.nodeOrganization = organization;
      return this;
    }

    /** Admits nodes without token or approval (off by default; logs a warning; for lab networks only). */
    public Builder autoApprove(boolean autoApprove) {
      this.autoApprove = autoApprove;
      return this;
    }

    /** Sets the admin API token (at least 16 characters); default: read or create the admin token file. */
    public Builder adminToken(String adminToken) {
      requireNonNull(adminToken, "adminToken");
      if (adminToken.length() < 16) {
        throw new IllegalArgumentException("adminToken: shorter than 16 characters (expected: a long random token)");
      }
      this.adminToken = adminToken;
      return this;
    }

    /** Sets the admin token file (default {@code admin.token} in the data directory; created 0600 if missing). */
    public Builder adminTokenFile(Path adminTokenFile) {
      this.adminTokenFile = requireNonNull(adminTokenFile, "adminTokenFile");
      return this;
    }

    /** Adds DNS names or IPs to the manager's own certificate (its identity URI is always there). */
    public Builder serverNames(List<String> serverNames) {
      this.serverNames = List.copyOf(requireNonNull(serverNames, "serverNames"));
      return this;
    }

    /** Sets the enrolment requests allowed per source address: a rate per second and a burst (default 5, 20). */
    public Builder enrolmentRateLimit(double perSecond, int burst) {
      if (perSecond <= 0 || burst < 1) {
        throw new IllegalArgumentException("enrolmentRateLimit: " + perSecond + "/s, burst " + burst
            + " (expected: > 0 and >= 1)");
      }
      this.enrolmentRate = perSecond;
      this.enrolmentBurst = burst;
      return this;
    }

    /** Sets how many nodes may wait for approval (default 1000). */
    public Builder maxPending(int maxPending) {
      this.maxPending = maxPending;
      return this;
    }

    /** Sets the approval command logged for pending nodes, with {@code %s} for the name. */
    public Builder approveCommand(String approveCommand) {
      this.approveCommand = requireNonNull(approveCommand, "approveCommand");
      return this;
    }

    /** Sets the worker threads that answer requests (default 4). */
    public Builder workerThreads(int workerThreads) {
      if (workerThreads < 1 || workerThreads > 256) {
        throw new IllegalArgumentException("workerThreads: " + workerThreads + " (expected: 1-256)");
      }
      this.workerThreads = workerThreads;
      return this;
    }

    /** Returns the manager; {@link MeshManager#start()} starts it. */
    public MeshManager build() {
      return new MeshManager(this);
    }
  }
}
