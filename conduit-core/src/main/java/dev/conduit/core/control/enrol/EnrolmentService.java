package dev.conduit.core.control.enrol;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.control.enrol.internal.NodeReports;
import dev.conduit.core.control.store.ControlStore;
import dev.conduit.core.control.store.NewNode;
import dev.conduit.core.control.store.NodeRecord;
import dev.conduit.core.control.store.NodeState;
import dev.conduit.core.control.store.TokenAdmission;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateInfo;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.pki.IssuedCertificate;
import dev.conduit.core.pki.SubjectAlternativeName;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The manager's enrolment and PKI rules, independent of HTTP: nodes send a CSR (their key never leaves them) and
 * are admitted by a single-use join token, by an operator's approval, or (lab networks only) automatically.
 * Certificates carry the node's identity URI ({@code spiffe://<trust-domain>/node/<name>}) and its reported IPs.
 * A CSR that asks for another name, identity or IP than the node's own is refused, and a refusal stores nothing.
 *
 * <p>Thread-safe; every method blocks on the store, so call them off event loops.
 */
public final class EnrolmentService {

  private static final Logger log = LoggerFactory.getLogger(EnrolmentService.class);

  /** Default limit of nodes waiting for approval; more are refused with 429. */
  public static final int DEFAULT_MAX_PENDING = 1000;

  private final ControlStore store;
  private final CertificateAuthority ca;
  private final MeshIdentity identity;
  private final CertificateLifetime nodeLifetime;
  private final String organization;
  private final boolean autoApprove;
  private final int maxPending;
  private final String approveCommand;
  private final Clock clock;
  private final String caPin;

  private EnrolmentService(Builder b) {
    this.store = b.store;
    this.ca = b.ca;
    this.identity = b.identity;
    this.nodeLifetime = b.nodeLifetime;
    this.organization = b.organization;
    this.autoApprove = b.autoApprove;
    this.maxPending = b.maxPending;
    this.approveCommand = b.approveCommand;
    this.clock = b.clock;
    this.caPin = CaPin.of(ca.certificate());
  }

  /** Returns a builder over a store and the CA that signs. */
  public static Builder builder(ControlStore store, CertificateAuthority ca) {
    return new Builder(store, ca);
  }

  /** Returns the store. */
  public ControlStore store() {
    return store;
  }

  /** Returns the CA. */
  public CertificateAuthority certificateAuthority() {
    return ca;
  }

  /** Returns the CA's pin, {@code sha256:HEX}. */
  public String caPin() {
    return caPin;
  }

  /** Returns the identities of this mesh. */
  public MeshIdentity identity() {
    return identity;
  }

  /** Returns the command an operator runs to approve {@code name}. */
  public String approveCommand(String name) {
    return String.format(approveCommand, name);
  }

  /**
   * Enrols a node: issues its certificate, or records it as pending.
   *
   * @throws EnrolmentException when refused (nothing is stored then)
   */
  public EnrolmentResult enrol(EnrolmentRequest request) {
    requireNonNull(request, "request");
    String name = checkName(request.name());
    List<String> addresses = NodeReports.addresses(request.addresses());
    Optional<String> server = NodeReports.serverAddress(request.role(), request.serverAddress(), addresses);
    CertificateRequest csr = checkCsr(name, request.csrPem(), addresses);
    String keyPin = CaPin.of(csr.publicKey().orElseThrow());
    NewNode node = new NewNode(name, identity.node(name), request.role(), addresses, server, keyPin,
        request.csrPem());
    String actor = "node:" + name;
    Optional<NodeRecord> existing = store.node(name);
    if (existing.isPresent()) {
      NodeRecord n = existing.get();
      if (n.state() == NodeState.REVOKED) {
        throw new EnrolmentException(403, "node " + name + " is revoked (an operator may remove it with "
            + "'conduit manager nodes rm " + name + "' so that it can enrol again)");
      }
      if (!n.publicKeyPin().equals(keyPin)) {
        throw new EnrolmentException(409, "node " + name + " is enrolled with another key (an operator may remove "
            + "it with 'conduit manager nodes rm " + name + "')");
      }
      if (n.state() == NodeState.PENDING && request.token().isEmpty()) {
        return new EnrolmentResult.Pending(name, approveCommand(name));
      }
      if (n.state() == NodeState.PENDING) {
        return admitWithToken(request, node, addresses, csr, actor);
      }
      store.updateReport(name, request.role(), addresses, server);
      return issue(name, csr, addresses, actor);
    }
    if (request.token().isPresent()) {
      return admitWithToken(request, node, addresses, csr, actor);
    }
    if (autoApprove) {
      if (!store.insertNode(node, true, actor + " auto_approve")) {
        throw new EnrolmentException(409, "node " + name + " exists already");
      }
      log.warn("manager: node {} ({}) admitted without token or approval because auto_approve is on", name,
          addresses);
      return issue(name, csr, addresses, actor);
    }
    long pending = store.nodes().stream().filter(n -> n.state() == NodeState.PENDING).count();
    if (pending >= maxPending) {
      throw new EnrolmentException(429, "too many nodes wait for approval (" + pending + "); approve or remove "
          + "some, or enrol with a join token");
    }
    if (!store.insertNode(node, false, actor)) {
      throw new EnrolmentException(409, "node " + name + " exists already");
    }
    log.warn("manager: node {} ({}, {}) waits for approval; to admit it run: {}", name, addresses,
        request.role().text(), approveCommand(name));
    return new EnrolmentResult.Pending(name, approveCommand(name));
  }

  private EnrolmentResult admitWithToken(EnrolmentRequest request, NewNode node, List<String> addresses,
      CertificateRequest csr, String actor) {
    String name = node.name();
    JoinToken token;
    try {
      token = JoinToken.parse(request.token().get());
    } catch (IllegalArgumentException e) {
      throw new EnrolmentException(401, e.getMessage());
    }
    TokenAdmission admission = store.admitWithToken(token.id(), token.secretHash(), node, clock.instant(),
        actor + " token:" + token.id());
    switch (admission) {
      case ADMITTED:
        log.info("manager: node {} ({}) joined with token {}", name, addresses, token.id());
        return issue(name, csr, addresses, actor);
      case USED:
        throw new EnrolmentException(401, "join token " + token.id() + " was used already (tokens are single-use; "
            + "create another with 'conduit manager token create')");
      case EXPIRED:
        throw new EnrolmentException(401, "join token " + token.id() + " has expired (create another with "
            + "'conduit manager token create')");
      case NAME_TAKEN:
        throw new EnrolmentException(409, "node " + name + " exists already");
      default:
        throw new EnrolmentException(401, "join token: unknown or wrong secret");
    }
  }

  /**
   * Renews the certificate of the node that presented {@code peer} (already verified by TLS against this CA):
   * the request's name must be the certificate's, the node approved and the certificate not revoked. The CSR may
   * carry a new key.
   *
   * @throws EnrolmentException when refused
   */
  public EnrolmentResult.Issued renew(X509Certificate peer, EnrolmentRequest request) {
    requireNonNull(peer, "peer");
    requireNonNull(request, "request");
    String name = authenticateNode(peer).orElseThrow(() -> new EnrolmentException(403,
        "certificate: not an approved node's current certificate of this mesh"));
    if (!name.equals(request.name())) {
      throw new EnrolmentException(403, "name: '" + MeshIdentity.abbreviate(request.name())
          + "' is not the name in the certificate (" + name + ")");
    }
    List<String> addresses = NodeReports.addresses(request.addresses());
    Optional<String> server = NodeReports.serverAddress(request.role(), request.serverAddress(), addresses);
    CertificateRequest csr = checkCsr(name, request.csrPem(), addresses);
    store.updateReport(name, request.role(), addresses, server);
    return issue(name, csr, addresses, "node:" + name);
  }

  /** Returns the node name of {@code peer} if it is an approved node's certificate that is not revoked. */
  public Optional<String> authenticateNode(X509Certificate peer) {
    requireNonNull(peer, "peer");
    Optional<String> name = uriNames(peer).stream().map(identity::nodeName).flatMap(Optional::stream).findFirst();
    if (name.isEmpty() || store.isRevoked(serial(peer))) {
      return Optional.empty();
    }
    return store.node(name.get()).filter(n -> n.state() == NodeState.APPROVED).map(NodeRecord::name);
  }

  /** Returns the operator name of {@code peer} if it is an operator's certificate of this mesh, not revoked. */
  public Optional<String> authenticateAdmin(X509Certificate peer) {
    requireNonNull(peer, "peer");
    Optional<String> name = uriNames(peer).stream().map(identity::adminName).flatMap(Optional::stream).findFirst();
    return name.filter(n -> !store.isRevoked(serial(peer)));
  }

  /** Creates a join token valid for {@code ttl} (1 minute to 30 days). */
  public JoinToken createToken(Duration ttl, String actor, String description) {
    requireNonNull(ttl, "ttl");
    requireNonNull(actor, "actor");
    if (ttl.compareTo(Duration.ofMinutes(1)) < 0 || ttl.compareTo(Duration.ofDays(30)) > 0) {
      throw new EnrolmentException(400, "ttl: " + ttl.getSeconds() + "s (expected: 1 minute to 30 days)");
    }
    JoinToken token = JoinToken.generate();
    store.createToken(token.id(), token.secretHash(), clock.instant().plus(ttl), actor,
        description == null ? "" : description);
    return token;
  }

  /** Approves a pending node; it collects its certificate at its next request. */
  public void approve(String name, String actor) {
    change(name, NodeState.PENDING, NodeState.APPROVED, actor);
  }

  /** Revokes a node: its certificates are revoked and the state version moves on, so peers learn of it. */
  public void revoke(String name, String actor) {
    NodeRecord n = store.node(checkName(name)).orElseThrow(() -> notFound(name));
    if (n.state() == NodeState.REVOKED) {
      return;
    }
    change(name, n.state(), NodeState.REVOKED, actor);
    log.warn("manager: node {} revoked by {}", name, actor);
  }

  /** Removes a node and revokes its certificates; it may enrol again afterwards. */
  public void remove(String name, String actor) {
    if (!store.deleteNode(checkName(name), requireNonNull(actor, "actor"))) {
      throw notFound(name);
    }
    log.warn("manager: node {} removed by {}", name, actor);
  }

  /** Issues an operator certificate ({@code spiffe://<trust-domain>/admin/<name>}, client use) with a new key. */
  public IssuedCertificate issueAdminCertificate(String name, Duration validity) {
    IssuedCertificate issued = ca.issue(CertificateRequest.builder().commonName(MeshIdentity.checkName(name))
        .uri(identity.admin(name)).usages(CertificateRequest.Usage.CLIENT).validity(validity).build());
    store.audit("manager", "admin.certificate", name, "serial=" + serial(issued.certificate()));
    return issued;
  }

  /** Issues the manager's own server certificate for the given IPs or DNS names, with a new key. */
  public IssuedCertificate issueManagerCertificate(List<String> names, Duration validity) {
    CertificateRequest.Builder b = CertificateRequest.builder().commonName("conduit manager")
        .uri(identity.manager()).usages(CertificateRequest.Usage.SERVER).validity(validity);
    for (String n : names) {
      b.subjectAlternativeName(SubjectAlternativeName.parse(n));
    }
    return ca.issue(b.build());
  }

  /** Returns a certificate's serial as the store keeps it (lower-case hex). */
  public static String serial(X509Certificate certificate) {
    return certificate.getSerialNumber().toString(16);
  }

  private void change(String name, NodeState from, NodeState to, String actor) {
    requireNonNull(actor, "actor");
    NodeRecord n = store.node(checkName(name)).orElseThrow(() -> notFound(name));
    if (n.state() != from || !store.changeState(name, from, to, actor)) {
      throw new EnrolmentException(409, "node " + name + " is " + n.state().name().toLowerCase(java.util.Locale.ROOT)
          + " (expected: " + from.name().toLowerCase(java.util.Locale.ROOT) + ")");
    }
  }

  private EnrolmentResult.Issued issue(String name, CertificateRequest csr, List<String> addresses, String actor) {
    CertificateRequest.Builder b = CertificateRequest.builder().publicKey(csr.publicKey().orElseThrow())
        .commonName(name).uri(identity.node(name))
        .usages(CertificateRequest.Usage.SERVER, CertificateRequest.Usage.CLIENT)
        .validity(capped(nodeLifetime.from(clock.instant())));
    if (organization != null) {
      b.organization(organization);
    }
    for (String address : addresses) {
      b.ipAddress(address);
    }
    IssuedCertificate issued = ca.issue(b.build());
    Instant notAfter = issued.certificate().getNotAfter().toInstant();
    store.recordCertificate(name, serial(issued.certificate()), notAfter, CaPin.of(csr.publicKey().get()), actor);
    return new EnrolmentResult.Issued(name, identity.node(name), issued.chainPem(), ca.certificatePem(),
        serial(issued.certificate()), notAfter);
  }

  private static Duration capped(Duration lifetime) {
    return lifetime.compareTo(CertificateRequest.MAX_VALIDITY) > 0 ? CertificateRequest.MAX_VALIDITY : lifetime;
  }

  /** Parses the CSR and checks that it asks only for the node's own name, identity and reported IPs. */
  private CertificateRequest checkCsr(String name, String pem, List<String> addresses) {
    CertificateRequest csr;
    try {
      csr = CertificateRequest.fromCsr(pem).build();
    } catch (IllegalArgumentException e) {
      throw new EnrolmentException(400, e.getMessage().startsWith("csr") ? e.getMessage() : "csr: " + e.getMessage());
    }
    if (csr.commonName().isPresent() && !csr.commonName().get().equals(name)) {
      throw new EnrolmentException(403, "csr: common name '" + MeshIdentity.abbreviate(csr.commonName().get())
          + "' is not the node's name '" + name + "'");
    }
    for (SubjectAlternativeName san : csr.subjectAlternativeNames()) {
      boolean own = san.type() == SubjectAlternativeName.Type.URI ? san.value().equals(identity.node(name))
          : san.type() == SubjectAlternativeName.Type.IP && addresses.contains(san.value());
      if (!own) {
        throw new EnrolmentException(403, "csr: asks for " + san + ", which is not node " + name
            + "'s (expected: its identity " + identity.node(name) + " and its reported addresses only)");
      }
    }
    return csr;
  }

  private static String checkName(String name) {
    try {
      return MeshIdentity.checkName(name);
    } catch (IllegalArgumentException e) {
      throw new EnrolmentException(400, e.getMessage());
    }
  }

  private static EnrolmentException notFound(String name) {
    return new EnrolmentException(404, "node " + MeshIdentity.abbreviate(name) + ": no such node");
  }

  private static List<String> uriNames(X509Certificate certificate) {
    return CertificateInfo.subjectAlternativeNames(certificate).stream()
        .filter(n -> n.type() == SubjectAlternativeName.Type.URI).map(SubjectAlternativeName::value).toList();
  }

  /** Builds an {@link EnrolmentService}. Not thread-safe. */
  public static final class Builder {
    private final ControlStore store;
    private final CertificateAuthority ca;
    private MeshIdentity identity = new MeshIdentity(MeshIdentity.DEFAULT_TRUST_DOMAIN);
    private CertificateLifetime nodeLifetime = CertificateLifetime.of(CertificateLifetime.DEFAULT_NODE);
    private String organization;
    private boolean autoApprove;
    private int maxPending = DEFAULT_MAX_PENDING;
    private String approveCommand = "conduit manager nodes approve %s";
    private Clock clock = Clock.systemUTC();

    private Builder(ControlStore store, CertificateAuthority ca) {
      this.store = requireNonNull(store, "store");
      this.ca = requireNonNull(ca, "ca");
    }

    /** Sets the trust domain (default {@code conduit.mesh}). */
    public Builder identity(MeshIdentity identity) {
      this.identity = requireNonNull(identity, "identity");
      return this;
    }

    /** Sets the lifetime of node certificates (default 30 days). */
    public Builder nodeLifetime(CertificateLifetime nodeLifetime) {
      this.nodeLifetime = requireNonNull(nodeLifetime, "nodeLifetime");
      return this;
    }

    /** Sets the organization of node certificates (default none). */
    public Builder organization(String organization) {
      this.organization = requireNonNull(organization, "organization");
      return this;
    }

    /** Admits nodes without token or approval. Off by default; for lab networks only. */
    public Builder autoApprove(boolean autoApprove) {
      this.autoApprove = autoApprove;
      return this;
    }

    /** Sets how many nodes may wait for approval at once (default 1000). */
    public Builder maxPending(int maxPending) {
      if (maxPending < 1) {
        throw new IllegalArgumentException("maxPending: " + maxPending + " (expected: >= 1)");
      }
      this.maxPending = maxPending;
      return this;
    }

    /** Sets the approval command logged for pending nodes, a format with one {@code %s} for the name. */
    public Builder approveCommand(String approveCommand) {
      requireNonNull(approveCommand, "approveCommand");
      if (!approveCommand.contains("%s")) {
        throw new IllegalArgumentException("approveCommand: '" + approveCommand + "' (expected: a %s for the name)");
      }
      this.approveCommand = approveCommand;
      return this;
    }

    /** Sets the clock tokens are checked against (tests). */
    public Builder clock(Clock clock) {
      this.clock = requireNonNull(clock, "clock");
      return this;
    }

    /** Returns the service. */
    public EnrolmentService build() {
      if (autoApprove) {
        log.warn("manager: auto_approve is on: any host that reaches the manager joins the mesh (lab networks only)");
      }
      return new EnrolmentService(this);
    }
  }
}
