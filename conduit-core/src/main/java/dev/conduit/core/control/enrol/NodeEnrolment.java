package dev.conduit.core.control.enrol;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.control.enrol.internal.Csrs;
import dev.conduit.core.control.enrol.internal.ManagerCalls;
import dev.conduit.core.control.enrol.internal.PinnedTrustManager;
import dev.conduit.core.control.enrol.internal.SecretFiles;
import dev.conduit.core.control.store.NodeRole;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.pki.Pem;
import dev.conduit.core.pki.TlsMaterial;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's side of enrolment: it makes its own key (kept in {@code node.key}, mode 0600), sends only a CSR, and
 * keeps the certificate the manager issues ({@code node.crt}) and the manager's CA ({@code ca.crt},
 * {@code ca.pin}) in its state directory. The manager is verified by a pinned CA fingerprint, or on first use by
 * whatever CA it shows, which is then pinned on disk and required from then on. Certificates renew over mutual TLS
 * at about two thirds of their lifetime (with jitter, so a fleet does not renew at once), retrying with back-off.
 *
 * <pre>{@code
 * try (NodeEnrolment enrolment = NodeEnrolment.builder(List.of("198.18.0.1:5051"), Path.of("/var/lib/conduit"))
 *     .name("host-a").role(NodeRole.BOTH).addresses(List.of("198.18.0.2", "fd00::2"))
 *     .serverAddress("198.18.0.2:5053").token(token).caPin("sha256:...").build()) {
 *   TlsMaterial tls = enrolment.start(); // blocks until enrolled (or approved)
 *   ...
 * }
 * }</pre>
 */
public final class NodeEnrolment implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(NodeEnrolment.class);

  /** The key file in the state directory. */
  public static final String KEY_FILE = "node.key";
  /** The certificate chain file in the state directory. */
  public static final String CERTIFICATE_FILE = "node.crt";
  /** The manager's CA certificate in the state directory. */
  public static final String CA_FILE = "ca.crt";
  /** The pinned CA fingerprint in the state directory. */
  public static final String PIN_FILE = "ca.pin";

  private final Builder config;
  private final List<Consumer<TlsMaterial>> renewalListeners = new CopyOnWriteArrayList<>();
  private final ScheduledExecutorService scheduler;
  private volatile TlsMaterial material;
  private volatile List<String> addresses;
  private volatile ScheduledFuture<?> renewal;
  private volatile boolean closed;
  private final Object waiter = new Object();

  private NodeEnrolment(Builder config) {
    this.config = config;
    this.addresses = config.addresses;
    this.scheduler = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "conduit-enrolment");
      t.setDaemon(true);
      return t;
    });
  }

  /** Returns a builder for the managers at {@code managers} ({@code host:port}, tried in order). */
  public static Builder builder(List<String> managers, Path stateDirectory) {
    return new Builder(managers, stateDirectory);
  }

  /**
   * Returns this node's TLS material: from the state directory when a valid certificate is there, otherwise by
   * enrolling (waiting, with back-off, while the node is pending approval). Schedules renewal.
   *
   * @throws IllegalStateException if the stored certificate has expired (re-enrol: remove {@code node.crt} and
   *     start with a join token or approval), or the manager refuses the node
   * @throws IOException if the state directory cannot be read or written, or no manager can be reached
   */
  public TlsMaterial start() throws IOException, InterruptedException {
    Path dir = config.stateDirectory;
    Path certFile = dir.resolve(CERTIFICATE_FILE);
    Path keyFile = dir.resolve(KEY_FILE);
    if (Files.exists(certFile) && Files.exists(keyFile)) {
      TlsMaterial loaded = TlsMaterial.load(certFile, keyFile, dir.resolve(CA_FILE));
      Instant notAfter = loaded.certificate().getNotAfter().toInstant();
      if (!notAfter.isAfter(Instant.now())) {
        throw new IllegalStateException(certFile + ": the node certificate expired at " + notAfter + "; it cannot "
            + "renew itself: remove " + certFile + " and start again with a join token (or approval)");
      }
      String pin = CaPin.of(loaded.trustedCertificates().get(0));
      Optional<String> expected = expectedPin();
      if (expected.isPresent() && !expected.get().equals(pin)) {
        throw new IllegalStateException(dir.resolve(CA_FILE) + ": CA " + pin + " is not the pinned " + expected.get());
      }
      material = loaded;
      log.info("node {}: certificate from {} valid until {}", config.name, certFile, notAfter);
    } else {
      material = enrol();
    }
    scheduleRenewal(material.certificate());
    return material;
  }

  /** Returns the current TLS material, or null before {@link #start()}. */
  public TlsMaterial material() {
    return material;
  }

  /** Returns when the current certificate expires. */
  public Instant certificateExpiry() {
    TlsMaterial m = requireStarted();
    return m.certificate().getNotAfter().toInstant();
  }

  /** Returns the seconds until the certificate expires (negative once expired): the value of the expiry gauge. */
  public double expirySeconds() {
    return Duration.between(Instant.now(), certificateExpiry()).toMillis() / 1000.0;
  }

  /** Calls {@code listener} with the new material after each renewal, on the enrolment thread. */
  public void onRenewed(Consumer<TlsMaterial> listener) {
    renewalListeners.add(requireNonNull(listener, "listener"));
  }

  /**
   * Renews the certificate now over mutual TLS, keeping the key; writes and returns the new material.
   *
   * @throws EnrolmentException if the manager refuses (e.g. the node was revoked)
   */
  public TlsMaterial renewNow() throws IOException {
    TlsMaterial current = requireStarted();
    PinnedTrustManager trust = new PinnedTrustManager(CaPin.of(current.trustedCertificates().get(0)));
    ManagerCalls calls = new ManagerCalls(config.managers,
        ManagerCalls.tls(trust, current.privateKey(), current.certificateChain()), config.timeout);
    KeyPair keys = new KeyPair(current.certificate().getPublicKey(), current.privateKey());
    ManagerCalls.Answer answer = calls.call("POST", "/v1/renew", Optional.of(body(keys, false)), Optional.empty());
    if (answer.status() != 200) {
      throw new EnrolmentException(answer.status() >= 400 && answer.status() < 600 ? answer.status() : 502,
          "renewal refused by " + answer.address() + ": " + answer.error());
    }
    TlsMaterial renewed = store(current.privateKey(), answer.body(), trust.observedCa());
    material = renewed;
    log.info("node {}: certificate renewed, valid until {}", config.name,
        renewed.certificate().getNotAfter().toInstant());
    for (Consumer<TlsMaterial> listener : renewalListeners) {
      try {
        listener.accept(renewed);
      } catch (RuntimeException e) {
        log.warn("node {}: a renewal listener failed", config.name, e);
      }
    }
    return renewed;
  }

  /** Returns the host addresses this node reports (those given, or the last passed to {@link #renewNow(List)}). */
  public List<String> addresses() {
    return addresses;
  }

  /**
   * Reports new host addresses to the manager by renewing the certificate now with them (the certificate's IP
   * names follow the addresses); the manager publishes them to the other members.
   *
   * @throws IllegalArgumentException if {@code newAddresses} is empty
   * @throws EnrolmentException if the manager refuses
   */
  public TlsMaterial renewNow(List<String> newAddresses) throws IOException {
    List<String> copy = List.copyOf(requireNonNull(newAddresses, "newAddresses"));
    if (copy.isEmpty()) {
      throw new IllegalArgumentException("addresses: none (expected: the node's host addresses)");
    }
    List<String> before = addresses;
    addresses = copy;
    try {
      return renewNow();
    } catch (IOException | RuntimeException e) {
      addresses = before;
      throw e;
    }
  }

  /** Stops renewals and any enrolment still waiting. */
  @Override
  public void close() {
    closed = true;
    synchronized (waiter) {
      waiter.notifyAll();
    }
    scheduler.shutdownNow();
  }

  private TlsMaterial enrol() throws IOException, InterruptedException {
    Path keyFile = config.stateDirectory.resolve(KEY_FILE);
    KeyPair keys;
    if (Files.exists(keyFile)) {
      // a node restarted while pending keeps its key: the manager knows it by it
      SecretFiles.requireOwnerOnly(keyFile);
      PrivateKey key = Pem.readPrivateKey(keyFile);
      keys = new KeyPair(Csrs.publicKeyOf(key), key);
    } else {
      keys = Csrs.generateKeyPair();
      SecretFiles.write(keyFile, Pem.encodePrivateKey(keys.getPrivate()).getBytes(StandardCharsets.US_ASCII), true);
    }
    Optional<String> pin = expectedPin();
    PinnedTrustManager trust = new PinnedTrustManager(pin.orElse(null));
    ManagerCalls calls = new ManagerCalls(config.managers, ManagerCalls.tls(trust, null, List.of()), config.timeout);
    long backoff = config.initialBackoff.toMillis();
    boolean toldPending = false;
    while (!closed) {
      ManagerCalls.Answer answer;
      try {
        answer = calls.call("POST", "/v1/enrol", Optional.of(body(keys, true)), Optional.empty());
      } catch (IOException e) {
        if (e.getMessage() != null && e.getMessage().contains("TLS refused")) {
          throw new IllegalStateException(e.getMessage(), e); // a pin mismatch does not heal by waiting
        }
        log.warn("node {}: no manager answered ({}); retrying in {} ms", config.name, e.getMessage(), backoff);
        backoff = pause(backoff);
        continue;
      }
      if (answer.status() == 200) {
        if (pin.isEmpty()) {
          log.warn("node {}: trusting the manager's CA {} on first use; it is pinned in {} from now on", config.name,
              CaPin.of(trust.observedCa()), config.stateDirectory.resolve(PIN_FILE));
        }
        TlsMaterial issued = store(keys.getPrivate(), answer.body(), trust.observedCa());
        log.info("node {}: enrolled with {}, certificate valid until {}", config.name, answer.address(),
            issued.certificate().getNotAfter().toInstant());
        return issued;
      }
      if (answer.status() == 202) {
        if (!toldPending) {
          JsonNode approve = answer.body().get("approve");
          log.warn("node {}: waiting for approval by an operator on the manager: {}", config.name,
              approve == null ? "conduit manager nodes approve " + config.name : approve.asText());
          toldPending = true;
        }
      } else if (answer.status() == 429 || answer.status() >= 500) {
        log.warn("node {}: manager {} is busy ({}); retrying in {} ms", config.name, answer.address(), answer.error(),
            backoff);
      } else {
        throw new EnrolmentException(answer.status(), "enrolment refused by " + answer.address() + ": "
            + answer.error());
      }
      backoff = pause(backoff);
    }
    throw new InterruptedException("enrolment stopped");
  }

  private long pause(long backoff) throws InterruptedException {
    long jittered = backoff / 2 + ThreadLocalRandom.current().nextLong(backoff / 2 + 1);
    synchronized (waiter) {
      if (!closed) {
        waiter.wait(Math.max(1, jittered));
      }
    }
    return Math.min(backoff * 2, config.maxBackoff.toMillis());
  }

  private ObjectNode body(KeyPair keys, boolean withToken) {
    ObjectNode body = ManagerCalls.JSON.createObjectNode();
    body.put("name", config.name);
    body.put("role", config.role.text());
    List<String> reported = addresses;
    body.putArray("addresses").addAll(reported.stream()
        .map(ManagerCalls.JSON.getNodeFactory()::textNode).toList());
    config.serverAddress.ifPresent(s -> body.put("server_address", s));
    body.put("csr", Csrs.csr(keys, config.name, List.of(), reported));
    if (withToken) {
      config.token.ifPresent(t -> body.put("token", t));
    }
    return body;
  }

  private TlsMaterial store(PrivateKey key, JsonNode body, X509Certificate ca) throws IOException {
    JsonNode chainText = body.get("certificate_chain");
    if (chainText == null || !chainText.isTextual()) {
      throw new IOException("manager: answer has no certificate_chain");
    }
    List<X509Certificate> chain = Pem.readCertificates(chainText.asText());
    TlsMaterial issued = TlsMaterial.of(key, chain, List.of(ca));
    Path dir = config.stateDirectory;
    SecretFiles.write(dir.resolve(CA_FILE), Pem.encodeCertificate(ca).getBytes(StandardCharsets.US_ASCII), false);
    SecretFiles.write(dir.resolve(PIN_FILE), (CaPin.of(ca) + "\n").getBytes(StandardCharsets.US_ASCII), false);
    SecretFiles.write(dir.resolve(CERTIFICATE_FILE), Pem.encodeCertificates(chain).getBytes(StandardCharsets.US_ASCII),
        false);
    return issued;
  }

  private Optional<String> expectedPin() throws IOException {
    if (config.caPin.isPresent()) {
      return config.caPin;
    }
    Path pinFile = config.stateDirectory.resolve(PIN_FILE);
    if (Files.exists(pinFile)) {
      return Optional.of(CaPin.parse(Files.readString(pinFile, StandardCharsets.US_ASCII)));
    }
    return Optional.empty();
  }

  private void scheduleRenewal(X509Certificate certificate) {
    if (closed) {
      return;
    }
    // conduit's CA back-dates notBefore by an hour for slow clocks; the lifetime counts from issuance
    Instant now = Instant.now();
    Instant notBefore = certificate.getNotBefore().toInstant().plus(CertificateRequest.DEFAULT_BACKDATE);
    Instant start = notBefore.isBefore(now) ? notBefore : now;
    Instant notAfter = certificate.getNotAfter().toInstant();
    long lifetime = Math.max(0, Duration.between(start, notAfter).toMillis());
    double ratio = config.renewAt + (ThreadLocalRandom.current().nextDouble() * 2 - 1) * config.jitter;
    Instant at = start.plusMillis((long) (lifetime * Math.min(0.95, Math.max(0.1, ratio))));
    long delay = Math.max(0, Duration.between(Instant.now(), at).toMillis());
    renewal = scheduler.schedule(() -> renewWithRetry(config.initialBackoff.toMillis()), delay, TimeUnit.MILLISECONDS);
  }

  private void renewWithRetry(long backoff) {
    try {
      TlsMaterial renewed = renewNow();
      scheduleRenewal(renewed.certificate());
    } catch (IOException | RuntimeException e) {
      double left = expirySeconds();
      log.warn("node {}: certificate renewal failed ({}); {} s left before it expires; retrying in {} ms",
          config.name, e.getMessage(), (long) left, backoff);
      if (!closed) {
        renewal = scheduler.schedule(() -> renewWithRetry(Math.min(backoff * 2, config.maxBackoff.toMillis())),
            backoff, TimeUnit.MILLISECONDS);
      }
    }
  }

  private TlsMaterial requireStarted() {
    TlsMaterial m = material;
    if (m == null) {
      throw new IllegalStateException("not started (call start() first)");
    }
    return m;
  }

  /** Builds a {@link NodeEnrolment}. Not thread-safe. */
  public static final class Builder {
    private final List<String> managers;
    private final Path stateDirectory;
    private String name;
    private NodeRole role = NodeRole.BOTH;
    private List<String> addresses = List.of();
    private Optional<String> serverAddress = Optional.empty();
    private Optional<String> token = Optional.empty();
    private Optional<String> caPin = Optional.empty();
    private double renewAt = 2.0 / 3;
    private double jitter = 0.05;
    private Duration initialBackoff = Duration.ofSeconds(1);
    private Duration maxBackoff = Duration.ofSeconds(60);
    private Duration timeout = Duration.ofSeconds(15);

    private Builder(List<String> managers, Path stateDirectory) {
      this.managers = new ArrayList<>(requireNonNull(managers, "managers"));
      if (this.managers.isEmpty()) {
        throw new IllegalArgumentException("managers: none (expected: at least one HOST:PORT)");
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

    /** Sets the node's host addresses, IPv4 and IPv6 (required). */
    public Builder addresses(List<String> addresses) {
      this.addresses = List.copyOf(requireNonNull(addresses, "addresses"));
      return this;
    }

    /** Sets the tunnel server's {@code ip:port}, for servers. */
    public Builder serverAddress(String serverAddress) {
      this.serverAddress = Optional.of(requireNonNull(serverAddress, "serverAddress"));
      return this;
    }

    /** Sets the join token ({@code id.secret}); without one the node waits for approval. */
    public Builder token(String token) {
      this.token = Optional.of(JoinToken.parse(requireNonNull(token, "token")).value());
      return this;
    }

    /** Pins the manager's CA ({@code sha256:HEX}); without a pin the first CA seen is pinned on disk. */
    public Builder caPin(String caPin) {
      this.caPin = Optional.of(CaPin.parse(caPin));
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

    /** Sets the back-off between attempts while pending or unreachable (default 1 s doubling to 60 s). */
    public Builder backoff(Duration initial, Duration max) {
      requireNonNull(initial, "initial");
      requireNonNull(max, "max");
      if (initial.toMillis() < 1 || max.compareTo(initial) < 0) {
        throw new IllegalArgumentException("backoff: " + initial + ".." + max + " (expected: 1ms <= initial <= max)");
      }
      this.initialBackoff = initial;
      this.maxBackoff = max;
      return this;
    }

    /** Sets the timeout of each call to a manager (default 15 s). */
    public Builder timeout(Duration timeout) {
      this.timeout = requireNonNull(timeout, "timeout");
      return this;
    }

    /** Returns the enrolment; nothing happens until {@link NodeEnrolment#start()}. */
    public NodeEnrolment build() {
      if (name == null) {
        throw new IllegalArgumentException("name: missing (expected: the node's name)");
      }
      if (addresses.isEmpty()) {
        throw new IllegalArgumentException("addresses: none (expected: the node's host addresses)");
      }
      return new NodeEnrolment(this);
    }
  }
}
