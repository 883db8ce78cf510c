package dev.conduit.core.control.store;

import dev.conduit.core.control.store.internal.JdbcControlStore;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.LongConsumer;

/**
 * The control plane's state: nodes, join tokens, issued and revoked certificates, the certificate authority, a
 * monotonically increasing state version and an audit log. One implementation, JDBC: embedded SQLite by default,
 * PostgreSQL or MySQL/MariaDB when several managers share state. The schema is migrated on
 * {@link #open(StoreConfig)}.
 *
 * <p>Every change to the membership (a node admitted, approved, revoked, removed, or reporting new addresses)
 * increments the state version in the same transaction, and {@link #subscribe(LongConsumer) subscribers} hear
 * of the new version: from this process at once, and from every other manager on the database through
 * {@code LISTEN/NOTIFY} on PostgreSQL, or by polling the version row every
 * {@link StoreConfig#changePollInterval()} on MySQL/MariaDB. A notification carries only the version;
 * subscribers read the state they need. After the notification connection is lost and re-established,
 * subscribers are told the current version, since notifications sent meanwhile are lost.
 *
 * <p>Thread-safe. All methods block on the database: call them off event loops. They throw
 * {@link StoreException} when the database fails.
 */
public interface ControlStore extends AutoCloseable {

  /**
   * Opens a store: connects, migrates the schema, and starts the change feed.
   *
   * @throws StoreException if the database cannot be reached or migrated, or its driver is missing
   */
  static ControlStore open(StoreConfig config) {
    try {
      return JdbcControlStore.open(config);
    } catch (NoClassDefFoundError e) {
      throw new StoreException("store: a library is missing from the class path (" + e.getMessage()
          + "); conduit's store needs HikariCP, Flyway (with flyway-database-postgresql for PostgreSQL, "
          + "flyway-mysql for MySQL/MariaDB) and the JDBC driver (org.xerial:sqlite-jdbc, org.postgresql:postgresql "
          + "or org.mariadb.jdbc:mariadb-java-client)", e);
    }
  }

  /** Returns the configuration this store was opened with. */
  StoreConfig config();

  /** Returns the current state version (0 for a new store). */
  long version();

  /** Returns the node called {@code name}, if any. */
  Optional<NodeRecord> node(String name);

  /** Returns every node, by name. */
  List<NodeRecord> nodes();

  /**
   * Adds a node in {@link NodeState#PENDING} (or {@link NodeState#APPROVED} when {@code approved}), bumping the
   * version when approved.
   *
   * @return false if a node with this name exists (nothing is changed then)
   */
  boolean insertNode(NewNode node, boolean approved, String actor);

  /**
   * Admits a node with a single-use join token, atomically: the token is marked used
   * ({@code UPDATE ... WHERE id = ? AND used = false}, checking that one row changed) and the node is added as
   * approved in one transaction, so of two concurrent enrolments with one token exactly one succeeds. Nothing
   * is changed unless the result is {@link TokenAdmission#ADMITTED}. A node that is pending with the same public
   * key is approved by the token (it asked without one first).
   *
   * @param tokenId the token's public id
   * @param secretHash {@code sha256} hex of the token's secret
   */
  TokenAdmission admitWithToken(String tokenId, String secretHash, NewNode node, Instant now, String actor);

  /**
   * Moves a node from {@code from} to {@code to} and bumps the version. Revoking also revokes every certificate
   * issued to it; approving keeps the pending CSR for the node to collect its certificate.
   *
   * @return false if the node does not exist or is not in {@code from}
   */
  boolean changeState(String name, NodeState from, NodeState to, String actor);

  /**
   * Removes a node, revokes every certificate issued to it, and bumps the version. A removed node may enrol
   * again (with a new token or approval).
   *
   * @return false if there was no such node
   */
  boolean deleteNode(String name, String actor);

  /**
   * Records what a node reported about itself; bumps the version only if something changed.
   *
   * @return whether something changed
   */
  boolean updateReport(String name, NodeRole role, List<String> addresses, Optional<String> serverAddress);

  /**
   * Records a certificate issued to a node: its serial and expiry (also in the node's row), the public key it
   * was issued for, and clears the pending CSR.
   */
  void recordCertificate(String name, String serial, Instant notAfter, String publicKeyPin, String actor);

  /** Records that the manager heard from the node now; no version bump. */
  void recordSeen(String name, Instant when);

  /** Records the state version a node applied and the hash of what it installed; no version bump. */
  default void recordApplied(String name, long version, String hash) {
    recordApplied(List.of(new AppliedVersion(name, version, hash)));
  }

  /**
   * Records what many nodes applied in one transaction (a manager's agents acknowledge a change together); no
   * version bump.
   */
  void recordApplied(List<AppliedVersion> applied);

  /** Stores a join token: its public id, the {@code sha256} hex of its secret, and when it expires. */
  void createToken(String tokenId, String secretHash, Instant expiresAt, String actor, String description);

  /** Returns whether the certificate with this serial (lower-case hex) was revoked. */
  boolean isRevoked(String serial);

  /** Returns the revoked certificates that have not expired at {@code now}. */
  List<RevokedCertificate> revokedCertificates(Instant now);

  /** Returns the stored certificate authority, if one was stored. */
  Optional<StoredCa> certificateAuthority();

  /**
   * Stores the certificate authority unless one is stored already (two managers starting at once on one
   * database: the first wins, the other reads it).
   *
   * @return whether {@code ca} was stored; false if another was there
   */
  boolean storeCertificateAuthorityIfAbsent(StoredCa ca);

  /** Appends a line to the audit log. */
  void audit(String actor, String action, String subject, String detail);

  /** Returns the newest {@code limit} audit log lines, newest first. */
  List<AuditEntry> auditLog(int limit);

  /**
   * Calls {@code listener} with each new state version, in order, on the store's notification thread; a slow
   * listener delays the others. Versions may be skipped (several changes in one notification) but never go back.
   *
   * @return closing it stops the calls
   */
  AutoCloseable subscribe(LongConsumer listener);

  /** Stops the change feed and closes the connections. */
  @Override
  void close();
}
