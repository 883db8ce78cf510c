package dev.conduit.core.mesh;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.ConduitResources;
import dev.conduit.core.Destination;
import dev.conduit.core.control.enrol.CaPin;
import dev.conduit.core.control.enrol.MeshIdentity;
import dev.conduit.core.control.enrol.NodeEnrolment;
import dev.conduit.core.control.enrol.internal.PinnedTrustManager;
import dev.conduit.core.control.push.PushClient;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.control.push.PushUpdate;
import dev.conduit.core.control.store.NodeRole;
import dev.conduit.core.mesh.internal.HostAddresses;
import dev.conduit.core.pki.ReloadingTlsMaterial;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.core.runtime.Service;
import io.netty.util.NetUtil;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A conduit's membership of a mesh, as a library part and a runtime {@link Service}: it enrols with the manager
 * (its own key, mode 0600, never leaves it: only a CSR does; a join token, or it waits as pending and logs the exact
 * {@code conduit manager nodes approve NAME} to run), authenticates the manager by a pinned CA fingerprint or on
 * first use (pinned on disk from then on), keeps its certificate in its state directory and renews it at about two
 * thirds of its lifetime, with jitter. It then watches the membership over the push channel (mutual TLS, every
 * manager address in turn, back-off) and hands each version to its {@link MembershipListener listeners}, the data
 * plane. Its role, tunnel server address and host addresses (IPv4 and IPv6) are reported at enrolment and again
 * when the addresses change.
 *
 * <p>Static stability: the last membership installed is kept in the state directory ({@value #MEMBERSHIP_FILE}); a
 * node restarted while no manager answers comes up from its certificate and that membership. A node whose
 * certificate has expired refuses to start. A renewal does not disturb open tunnels: new handshakes use the new
 * certificate ({@link #tls()} follows it).
 *
 * <pre>{@code
 * MeshNode node = MeshNode.builder(resources, List.of("198.18.0.1:5051"), Path.of("/var/lib/conduit/mesh"))
 *     .name("host-a").serverAddress("198.18.0.2:5053").token(token)
 *     .listener(membership -> dataPlane.apply(membership)).build();
 * runtime.service(node); // or node.start() ... node.close()
 * }</pre>
 */
public final class MeshNode implements Service {

  private static final Logger log = LoggerFactory.getLogger(MeshNode.class);

  /** The file in the state directory holding the last installed membership. */
  public static final String MEMBERSHIP_FILE = "membership.json";

  private final Builder config;
  private final List<MembershipListener> listeners;
  private final List<java.util.function.Consumer<TlsMaterial>> renewalListeners = new CopyOnWriteArrayList<>();
  private volatile NodeEnrolment enrolment;
  private volatile ReloadingTlsMaterial tls;
  private volatile PushClient push;
  private volatile MeshMembership membership;
  private ScheduledExecutorService addressChecks;

  private MeshNode(Builder config) {
    this.config = config;
    this.listeners = new CopyOnWriteArrayList<>(config.listeners);
  }

  /**
   * Returns a builder of a node enrolling with the managers at {@code managers} ({@code host:port} of their API,
   * tried in order), keeping its key, certificates and membership in {@code stateDirectory}.
   */
  public static Builder builder(ConduitResources resources, List<String> managers, Path stateDirectory) {
    return new Builder(resources, managers, stateDirectory);
  }

  @Override
  public String name() {
    return "mesh-node";
  }

  /**
   * Enrols (or loads the stored certificate), installs the saved membership if there is one, and starts watching
   * the manager's. Blocks while the node waits for approval.
   *
   * @throws IllegalStateException if the stored certificate has expired, or the manager's CA is not the pinned one
   * @throws IOException if the state directory cannot be used, or no manager answers a node that has no certificate
   */
  @Override
  public synchronized void start() throws Exception {
    if (enrolment != null) {
      throw new IllegalStateException("already started");
    }
    Path dir = config.stateDirectory;
    Files.createDirectories(dir);
    List<String> addresses = config.addresses.isEmpty() ? HostAddresses.detect() : config.addresses;
    if (addresses.isEmpty()) {
      throw new IllegalStateException("mesh node " + config.name + ": no host address found (expected: an "
          + "interface that is up with an IPv4 or IPv6 address, or addresses given)");
    }
    NodeEnrolment.Builder eb = NodeEnrolment.builder(config.managers, dir).name(config.name).role(config.role)
        .addresses(addresses).backoff(config.minBackoff, config.maxBackoff).renewAt(config.renewAt, config.jitter);
    config.serverAddress.ifPresent(s -> eb.serverAddress(serverAddress(s, addresses)));
    Optional<String> token = config.token;
    if (token.isEmpty() && config.tokenFile.isPresent()) {
      token = Optional.of(Files.readString(config.tokenFile.get(), StandardCharsets.UTF_8).strip());
    }
    token.ifPresent(eb::token);
    config.caPin.ifPresent(eb::caPin);
    NodeEnrolment e = eb.build();
    enrolment = e;
    try {
      TlsMaterial first = e.start();
      tls = ReloadingTlsMaterial.builder(dir.resolve(NodeEnrolment.CERTIFICATE_FILE),
          dir.resolve(NodeEnrolment.KEY_FILE), dir.resolve(NodeEnrolment.CA_FILE)).build();
      e.onRenewed(m -> {
        tls.reloadIfChanged();
        renewalListeners.forEach(l -> l.accept(tls.material()));
      });
      long days = Duration.between(Instant.now(), e.certificateExpiry()).toDays();
      if (days < 2) {
        log.warn("mesh node {}: certificate expires at {} (renewal is due)", config.name, e.certificateExpiry());
      }
      push = PushClient.builder(config.resources).addresses(config.pushAddresses())
          .serverVerifier(new PinnedTrustManager(CaPin.of(first.trustedCertificates().get(0))))
          .clientCertificate(tls).identity(config.name, config.role.text()).stateFile(dir.resolve(MEMBERSHIP_FILE))
          .backoff(config.minBackoff, config.maxBackoff).applier(this::install).build();
      push.start();
      if (config.addresses.isEmpty() && !config.addressCheckInterval.isZero()) {
        addressChecks = Executors.newSingleThreadScheduledExecutor(r -> {
          Thread t = new Thread(r, "conduit-mesh-addresses");
          t.setDaemon(true);
          return t;
        });
        long every = config.addressCheckInterval.toMillis();
        addressChecks.scheduleWithFixedDelay(this::checkAddresses, every, every, TimeUnit.MILLISECONDS);
      }
    } catch (Exception | Error failure) {
      close();
      throw failure;
    }
  }

  private String install(PushUpdate update) throws Exception {
    MeshMembership next = MeshMembership.of(update.state());
    MeshMembership before = membership;
    for (MembershipListener l : listeners) {
      l.membershipChanged(next);
    }
    membership = next;
    TreeSet<String> added = new TreeSet<>(next.members().keySet());
    TreeSet<String> removed = new TreeSet<>();
    if (before != null) {
      added.removeAll(before.members().keySet());
      removed.addAll(before.members().keySet());
      removed.removeAll(next.members().keySet());
    }
    log.info("mesh node {}: membership version {} ({}): {} member(s){}{}", config.name, next.version(),
        update.kind().name().toLowerCase(java.util.Locale.ROOT), next.members().size(),
        added.isEmpty() ? "" : ", added " + added, removed.isEmpty() ? "" : ", removed " + removed);
    if (next.member(config.name).isEmpty() && next.version() > 0) {
      log.warn("mesh node {}: this node is not a member of the published mesh (revoked or removed?)", config.name);
    }
    return update.state().hash();
  }

  private void checkAddresses() {
    try {
      List<String> now = HostAddresses.detect();
      NodeEnrolment e = enrolment;
      if (now.isEmpty() || e == null || now.equals(e.addresses())) {
        return;
      }
      log.info("mesh node {}: host addresses changed from {} to {}; reporting them", config.name, e.addresses(), now);
      e.renewNow(now);
    } catch (IOException | RuntimeException ex) {
      log.warn("mesh node {}: reporting changed addresses failed ({}); retrying in {}", config.name, ex.getMessage(),
          config.addressCheckInterval);
    }
  }

  /** A wildcard server address ({@code 0.0.0.0:5053}) becomes the first host address of its family. */
  static String serverAddress(String configured, List<String> addresses) {
    Destination d = Destination.parse(configured, -1);
    if (!d.host().equals("0.0.0.0") && !d.host().equals("::")) {
      return configured;
    }
    boolean v6 = d.host().equals("::");
    for (String a : addresses) {
      if (NetUtil.isValidIpV6Address(a) == v6) {
        return v6 ? "[" + a + "]:" + d.port() : a + ":" + d.port();
      }
    }
    throw new IllegalStateException("server address " + configured + ": no host address of that family in "
        + addresses + " (expected: the address the tunnel server listens on)");
  }

  /** Returns the node's name. */
  public String nodeName() {
    return config.name;
  }

  /** Returns the node's identity in the mesh ({@code spiffe://<trust-domain>/node/<name>}), once started. */
  public String identity() {
    return dev.conduit.core.pki.PeerIdentity.of(requireStartedEnrolment().material().certificate()).value();
  }

  /** Returns the node's TLS material: its certificate, key and the mesh CA, following renewals. */
  public ReloadingTlsMaterial tls() {
    ReloadingTlsMaterial t = tls;
    if (t == null) {
      throw new IllegalStateException("not started");
    }
    return t;
  }

  /** Returns the membership installed last, if any. */
  public Optional<MeshMembership> membership() {
    return Optional.ofNullable(membership);
  }

  /** Returns the host addresses the node reports now. */
  public List<String> addresses() {
    NodeEnrolment e = enrolment;
    return e == null ? List.of() : e.addresses();
  }

  /** Returns the manager's push address the node is connected to, if it is. */
  public Optional<URI> connectedTo() {
    PushClient p = push;
    return p == null ? Optional.empty() : p.connectedTo();
  }

  /** Returns when the node certificate expires. */
  public Instant certificateExpiry() {
    NodeEnrolment e = enrolment;
    if (e == null) {
      throw new IllegalStateException("not started");
    }
    return e.certificateExpiry();
  }

  /** Returns the seconds until the node certificate expires (the {@code conduit_certificate_expiry_seconds} gauge). */
  public double certificateExpirySeconds() {
    NodeEnrolment e = enrolment;
    return e == null || e.material() == null ? Double.NaN : e.expirySeconds();
  }

  /**
   * Renews the certificate now (it renews by itself at about 2/3 of its lifetime).
   *
   * @throws IOException if no manager answers or it refuses
   */
  public TlsMaterial renewNow() throws IOException {
    TlsMaterial renewed = requireStartedEnrolment().renewNow();
    tls.reloadIfChanged();
    return renewed;
  }

  /**
   * Adds a listener of renewals: it is called with the new material once {@link #tls()} follows it (new
   * handshakes use the new certificate), on the renewal thread; it must not block.
   */
  public void onRenewed(java.util.function.Consumer<TlsMaterial> listener) {
    renewalListeners.add(requireNonNull(listener, "listener"));
  }

  /** Adds a listener; it hears the next membership installed. */
  public void addListener(MembershipListener listener) {
    listeners.add(requireNonNull(listener, "listener"));
  }

  private NodeEnrolment requireStartedEnrolment() {
    NodeEnrolment e = enrolment;
    if (e == null || e.material() == null) {
      throw new IllegalStateException("not started");
    }
    return e;
  }

  /** Stops watching and renewing; the membership stays installed (and saved) for the data plane. */
  @Override
  public void close() {
    NodeEnrolment waiting = enrolment;
    if (waiting != null) {
      waiting.close(); // first, without the lock: a start() waiting for approval holds it until this wakes it
    }
    closeRest();
  }

  private synchronized void closeRest() {
    if (addressChecks != null) {
      addressChecks.shutdownNow();
      addressChecks = null;
    }
    PushClient p = push;
    push = null;
    if (p != null) {
      p.close();
    }
    NodeEnrolment e = enrolment;
    if (e != null) {
      e.close();
    }
    ReloadingTlsMaterial t = tls;
    if (t != null) {
      t.close();
    }
  }

  @Override
  public String toString() {
    return "MeshNode{" + config.name + ", managers=" + config.managers + ", membership="
        + (membership == null ? "none" : membership.version()) + "}";
  }

  /** Builds a {@link MeshNode}. Not thread-safe. */
  public static final class Builder {
    private final ConduitResources resources;
    private final List<String> managers;
    private final Path stateDirectory;
    private String name;
    private NodeRole role = NodeRole.BOTH;
    private List<String> addresses = List.of();
    private Optional<String> serverAddress = Optional.empty();
    private Optional<String> token = Optional.empty();
    private Optional<Path> tokenFile = Optional.empty();
    private Optional<String> caPin = Optional.empty();
    private List<URI> pushAddresses = List.of();
    private final List<MembershipListener> listeners = new ArrayList<>();
    private Duration minBackoff = Duration.ofMillis(500);
    private Duration maxBackoff = Duration.ofSeconds(30);
    private Duration addressCheckInterval = Duration.ofSeconds(30);
    private double renewAt = 2.0 / 3;
    private double jitter = 0.05;

    private Builder(ConduitResources resources, List<String> managers, Path stateDirectory) {
      this.resources = requireNonNull(resources, "resources");
      this.managers = List.copyOf(requireNonNull(managers, "managers"));
      if (this.managers.isEmpty()) {
        throw new IllegalArgumentException("managers: none (expected: at least one HOST:PORT)");
      }
      for (String m : this.managers) {
        Destination.parse(m, -1);
      }
      this.stateDirectory = requireNonNull(stateDirectory, "stateDirectory");
    }

    /** Sets the node's name (a DNS label; required). */
    public Builder name(String name) {
      this.name = MeshIdentity.checkName(name);
      return this;
    }

    /** Sets what the node runs (default both). */
    public Builder role(NodeRole role) {
      this.role = requireNonNull(role, "role");
      return this;
    }

    /** Fixes the host addresses reported (default: the interfaces' addresses, checked for changes). */
    public Builder addresses(List<String> addresses) {
      this.addresses = List.copyOf(requireNonNull(addresses, "addresses"));
      return this;
    }

    /** Sets the tunnel server's {@code ip:port} (a wildcard address becomes a host address of its family). */
    public Builder serverAddress(String serverAddress) {
      Destination.parse(requireNonNull(serverAddress, "serverAddress"), -1);
      this.serverAddress = Optional.of(serverAddress);
      return this;
    }

    /** Sets the join token ({@code id.secret}); without one (or a token file) the node waits for approval. */
    public Builder token(String token) {
      this.token = Optional.of(requireNonNull(token, "token"));
      return this;
    }

    /** Reads the join token from this file at start, unless a token is given. */
    public Builder tokenFile(Path tokenFile) {
      this.tokenFile = Optional.of(requireNonNull(tokenFile, "tokenFile"));
      return this;
    }

    /** Pins the manager's CA ({@code sha256:HEX}); without a pin the first CA seen is pinned on disk. */
    public Builder caPin(String caPin) {
      this.caPin = Optional.of(CaPin.parse(requireNonNull(caPin, "caPin")));
      return this;
    }

    /**
     * Sets the managers' push channel addresses ({@code wss://host:port/v1/push}), tried in order. Default: each
     * manager's host with its API port + 1.
     */
    public Builder pushAddresses(List<URI> pushAddresses) {
      this.pushAddresses = List.copyOf(requireNonNull(pushAddresses, "pushAddresses"));
      return this;
    }

    /** Adds a listener of the installed membership (the data plane). */
    public Builder listener(MembershipListener listener) {
      listeners.add(requireNonNull(listener, "listener"));
      return this;
    }

    /** Sets the back-off between attempts to reach the managers (default 500 ms doubling to 30 s). */
    public Builder backoff(Duration min, Duration max) {
      requireNonNull(min, "min");
      requireNonNull(max, "max");
      if (min.toMillis() < 1 || max.compareTo(min) < 0) {
        throw new IllegalArgumentException("backoff: " + min + ".." + max + " (expected: 1ms <= min <= max)");
      }
      this.minBackoff = min;
      this.maxBackoff = max;
      return this;
    }

    /** Sets how often detected host addresses are checked for changes (default 30 s; zero: never). */
    public Builder addressCheckInterval(Duration interval) {
      requireNonNull(interval, "interval");
      if (interval.isNegative()) {
        throw new IllegalArgumentException("addressCheckInterval: " + interval + " (expected: 0 or more)");
      }
      this.addressCheckInterval = interval;
      return this;
    }

    /** Sets when to renew, as a fraction of the lifetime (default 2/3), and the random spread (default 0.05). */
    public Builder renewAt(double fraction, double jitter) {
      if (fraction <= 0 || fraction >= 1 || jitter < 0 || jitter > 0.2) {
        throw new IllegalArgumentException("renewAt: " + fraction + " +- " + jitter
            + " (expected: a fraction in (0, 1) and a jitter of 0-0.2)");
      }
      this.renewAt = fraction;
      this.jitter = jitter;
      return this;
    }

    List<URI> pushAddresses() {
      if (!pushAddresses.isEmpty()) {
        return pushAddresses;
      }
      List<URI> derived = new ArrayList<>();
      for (String m : managers) {
        Destination d = Destination.parse(m, -1);
        String host = NetUtil.isValidIpV6Address(d.host()) ? "[" + d.host() + "]" : d.host();
        derived.add(URI.create("wss://" + host + ":" + (d.port() + 1) + PushServer.DEFAULT_PATH));
      }
      return derived;
    }

    /**
     * Returns the node; nothing happens until {@link MeshNode#start()}.
     *
     * @throws IllegalStateException if the name is missing
     */
    public MeshNode build() {
      if (name == null) {
        throw new IllegalStateException("name: missing (expected: the node's name)");
      }
      return new MeshNode(this);
    }

    /** Describes the builder with the token masked. */
    @Override
    public String toString() {
      return "MeshNode.Builder{name=" + name + ", managers=" + managers + ", token="
          + (token.isPresent() ? "****" : "none") + "}";
    }
  }
}
