package dev.conduit.core.control.store.internal;

import static java.util.Objects.requireNonNull;

import com.zaxxer.hikari.HikariDataSource;
import dev.conduit.core.control.store.AppliedVersion;
import dev.conduit.core.control.store.AuditEntry;
import dev.conduit.core.control.store.ControlStore;
import dev.conduit.core.control.store.NewNode;
import dev.conduit.core.control.store.NodeRecord;
import dev.conduit.core.control.store.NodeRole;
import dev.conduit.core.control.store.NodeState;
import dev.conduit.core.control.store.RevokedCertificate;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.control.store.StoreException;
import dev.conduit.core.control.store.StoredCa;
import dev.conduit.core.control.store.TokenAdmission;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.LongConsumer;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@link ControlStore} over JDBC: a HikariCP pool, Flyway migrations, and a {@link ChangeFeed}. */
public final class JdbcControlStore implements ControlStore {

  private static final Logger log = LoggerFactory.getLogger(JdbcControlStore.class);
  static final String CHANNEL = "conduit_state";
  /** How often a transaction runs when the database keeps choosing it as a deadlock's victim. */
  private static final int MAX_ATTEMPTS = 5;

  private final StoreConfig config;
  private final HikariDataSource dataSource;
  final ChangeFeed feed; // package-private for VersionBumps
  final Dialect dialect;

  private JdbcControlStore(StoreConfig config, HikariDataSource dataSource, ChangeFeed feed) {
    this.config = config;
    this.dataSource = dataSource;
    this.feed = feed;
    this.dialect = Dialect.of(config.driver());
  }

  /** Connects, migrates and starts the change feed; see {@link ControlStore#open(StoreConfig)}. */
  public static JdbcControlStore open(StoreConfig config) {
    requireNonNull(config, "config");
    HikariDataSource dataSource = null;
    try {
      if (config.file().isPresent()) {
        Path parent = config.file().get().toAbsolutePath().getParent();
        if (parent != null) {
          Files.createDirectories(parent);
        }
      }
      dataSource = new HikariDataSource(DataSources.hikari(config));
      Migrations.migrate(dataSource, Dialect.of(config.driver()));
      JdbcControlStore store = new JdbcControlStore(config, dataSource, null);
      long version = store.version();
      ChangeFeed feed;
      switch (config.driver()) {
        case POSTGRES:
          feed = ChangeFeed.postgres(config, version);
          break;
        case MYSQL:
          feed = ChangeFeed.polling(config, version);
          break;
        default:
          feed = ChangeFeed.local(version);
      }
      JdbcControlStore started = new JdbcControlStore(config, dataSource, feed);
      log.info("store: {} at version {}", DataSources.describe(config), version);
      return started;
    } catch (StoreException e) {
      closeQuietly(dataSource);
      throw e;
    } catch (Exception e) {
      closeQuietly(dataSource);
      throw new StoreException("store " + DataSources.describe(config) + ": " + Sql.rootMessage(e), e);
    }
  }

  @Override
  public StoreConfig config() {
    return config;
  }

  /** Returns the pool, for the roles that keep their own tables in the same database (the egress server). */
  public DataSource dataSource() {
    return dataSource;
  }

  @Override
  public long version() {
    return read(Rows::readVersion);
  }

  @Override
  public Optional<NodeRecord> node(String name) {
    requireNonNull(name, "name");
    return read(c -> Rows.findNode(c, name));
  }

  @Override
  public List<NodeRecord> nodes() {
    return read(c -> {
      List<NodeRecord> out = new ArrayList<>();
      try (PreparedStatement s = c.prepareStatement("SELECT * FROM nodes ORDER BY name");
           ResultSet r = s.executeQuery()) {
        while (r.next()) {
          out.add(Rows.nodeOf(r));
        }
      }
      return out;
    });
  }

  @Override
  public boolean insertNode(NewNode node, boolean approved, String actor) {
    requireNonNull(node, "node");
    requireNonNull(actor, "actor");
    return write(c -> {
      if (Rows.findNode(c, node.name()).isPresent()) {
        return false;
      }
      long version = approved ? dialect.bump(c) : Rows.readVersion(c);
      Rows.insert(c, node, approved ? NodeState.APPROVED : NodeState.PENDING, version);
      Rows.auditIn(c, actor, approved ? "node.admit" : "node.pending", node.name(),
          "addresses=" + node.addresses() + " role=" + node.role().text());
      return true;
    });
  }

  @Override
  public TokenAdmission admitWithToken(String tokenId, String secretHash, NewNode node, Instant now, String actor) {
    requireNonNull(tokenId, "tokenId");
    requireNonNull(secretHash, "secretHash");
    requireNonNull(node, "node");
    requireNonNull(now, "now");
    requireNonNull(actor, "actor");
    return transaction(c -> {
      String storedHash;
      long expiresAt;
      boolean used;
      try (PreparedStatement s = Sql.prepare(c, "SELECT secret_hash, expires_at, used FROM join_tokens WHERE id = ?",
          tokenId); ResultSet r = s.executeQuery()) {
        if (!r.next()) {
          return TokenAdmission.UNKNOWN;
        }
        storedHash = r.getString(1);
        expiresAt = r.getLong(2);
        used = r.getBoolean(3);
      }
      if (!MessageDigest.isEqual(storedHash.getBytes(StandardCharsets.US_ASCII),
          secretHash.getBytes(StandardCharsets.US_ASCII))) {
        return TokenAdmission.UNKNOWN;
      }
      if (used) {
        return TokenAdmission.USED;
      }
      if (expiresAt <= now.toEpochMilli()) {
        return TokenAdmission.EXPIRED;
      }
      Optional<NodeRecord> existing = Rows.findNode(c, node.name());
      boolean pendingWithSameKey = existing.isPresent() && existing.get().state() == NodeState.PENDING
          && existing.get().publicKeyPin().equals(node.publicKeyPin());
      if (existing.isPresent() && !pendingWithSameKey) {
        return TokenAdmission.NAME_TAKEN;
      }
      // single use even under a race: only the transaction that flips the flag sees one row changed
      int changed = Sql.update(c, "UPDATE join_tokens SET used = true, used_by = ?, used_at = ? "
          + "WHERE id = ? AND used = false AND expires_at > ?", node.name(), now, tokenId, now);
      if (changed != 1) {
        return TokenAdmission.USED;
      }
      long version = dialect.bump(c);
      if (pendingWithSameKey) {
        // a node that waited for approval and came back with a token: the token approves it
        Sql.update(c, "UPDATE nodes SET state = ?, updated_at = ?, changed_version = ? WHERE name = ?",
            NodeState.APPROVED.name(), now, version, node.name());
      } else {
        Rows.insert(c, node, NodeState.APPROVED, version);
      }
      Rows.auditIn(c, actor, "node.admit", node.name(), "token=" + tokenId + " addresses=" + node.addresses()
          + " role=" + node.role().text());
      return TokenAdmission.ADMITTED;
    }, result -> result == TokenAdmission.ADMITTED);
  }

  @Override
  public boolean changeState(String name, NodeState from, NodeState to, String actor) {
    requireNonNull(name, "name");
    requireNonNull(from, "from");
    requireNonNull(to, "to");
    requireNonNull(actor, "actor");
    return write(c -> {
      long now = System.currentTimeMillis();
      if (Sql.update(c, "UPDATE nodes SET state = ?, updated_at = ? WHERE name = ? AND state = ?",
          to.name(), now, name, from.name()) != 1) {
        return false;
      }
      long version = dialect.bump(c);
      Sql.update(c, "UPDATE nodes SET changed_version = ? WHERE name = ?", version, name);
      if (to == NodeState.REVOKED) {
        Rows.revokeCertificates(c, name, now);
        Sql.update(c, "UPDATE nodes SET pending_csr = NULL WHERE name = ?", name);
      }
      Rows.auditIn(c, actor, "node." + verb(to), name, "from " + from.name().toLowerCase(java.util.Locale.ROOT));
      return true;
    });
  }

  private static String verb(NodeState to) {
    switch (to) {
      case APPROVED:
        return "approve";
      case REVOKED:
        return "revoke";
      default:
        return "pend";
    }
  }

  @Override
  public boolean deleteNode(String name, String actor) {
    requireNonNull(name, "name");
    requireNonNull(actor, "actor");
    return write(c -> {
      if (Sql.update(c, "DELETE FROM nodes WHERE name = ?", name) != 1) {
        return false;
      }
      dialect.bump(c);
      Rows.revokeCertificates(c, name, System.currentTimeMillis());
      Rows.auditIn(c, actor, "node.remove", name, "");
      return true;
    });
  }

  @Override
  public boolean updateReport(String name, NodeRole role, List<String> addresses, Optional<String> serverAddress) {
    requireNonNull(name, "name");
    requireNonNull(role, "role");
    requireNonNull(addresses, "addresses");
    requireNonNull(serverAddress, "serverAddress");
    return write(c -> {
      Optional<NodeRecord> current = Rows.findNode(c, name);
      if (current.isEmpty()) {
        return false;
      }
      NodeRecord n = current.get();
      if (n.role() == role && n.addresses().equals(addresses) && n.serverAddress().equals(serverAddress)) {
        return false;
      }
      long version = dialect.bump(c);
      Sql.update(c, "UPDATE nodes SET role = ?, addresses = ?, server_address = ?, updated_at = ?, "
          + "changed_version = ? WHERE name = ?", role.name(), String.join(",", addresses),
          serverAddress.orElse(null), System.currentTimeMillis(), version, name);
      Rows.auditIn(c, "node:" + name, "node.report", name, "addresses=" + addresses + " role=" + role.text());
      return true;
    });
  }

  @Override
  public void recordCertificate(String name, String serial, Instant notAfter, String publicKeyPin, String actor) {
    requireNonNull(name, "name");
    requireNonNull(serial, "serial");
    requireNonNull(notAfter, "notAfter");
    requireNonNull(publicKeyPin, "publicKeyPin");
    requireNonNull(actor, "actor");
    write(c -> {
      long now = System.currentTimeMillis();
      Sql.update(c, "INSERT INTO certificates (serial, node_name, issued_at, not_after) VALUES (?, ?, ?, ?)",
          serial, name, now, notAfter);
      Sql.update(c, "UPDATE nodes SET cert_serial = ?, cert_not_after = ?, public_key_pin = ?, pending_csr = NULL, "
          + "updated_at = ?, last_seen = ? WHERE name = ?", serial, notAfter, publicKeyPin, now, now, name);
      Rows.auditIn(c, actor, "certificate.issue", name, "serial=" + serial + " notAfter=" + notAfter);
      return null;
    });
  }

  @Override
  public void recordSeen(String name, Instant when) {
    requireNonNull(name, "name");
    requireNonNull(when, "when");
    write(c -> Sql.update(c, "UPDATE nodes SET last_seen = ? WHERE name = ?", when, name));
  }

  @Override
  public void recordApplied(List<AppliedVersion> applied) {
    List<AppliedVersion> copy = List.copyOf(requireNonNull(applied, "applied"));
    write(c -> Rows.recordApplied(c, copy, Instant.now()));
  }

  @Override
  public void createToken(String tokenId, String secretHash, Instant expiresAt, String actor, String description) {
    requireNonNull(tokenId, "tokenId");
    requireNonNull(secretHash, "secretHash");
    requireNonNull(expiresAt, "expiresAt");
    requireNonNull(actor, "actor");
    write(c -> {
      Sql.update(c, "INSERT INTO join_tokens (id, secret_hash, created_at, expires_at, used, created_by, description) "
          + "VALUES (?, ?, ?, ?, false, ?, ?)", tokenId, secretHash, Instant.now(), expiresAt, actor, description);
      Rows.auditIn(c, actor, "token.create", tokenId, "expires " + expiresAt);
      return null;
    });
  }

  @Override
  public boolean isRevoked(String serial) {
    requireNonNull(serial, "serial");
    return read(c -> {
      try (PreparedStatement s = Sql.prepare(c, "SELECT revoked_at FROM certificates WHERE serial = ?", serial);
           ResultSet r = s.executeQuery()) {
        return r.next() && r.getObject(1) != null;
      }
    });
  }

  @Override
  public List<RevokedCertificate> revokedCertificates(Instant now) {
    requireNonNull(now, "now");
    return read(c -> {
      List<RevokedCertificate> out = new ArrayList<>();
      try (PreparedStatement s = Sql.prepare(c, "SELECT serial, node_name, not_after, revoked_at FROM certificates "
          + "WHERE revoked_at IS NOT NULL AND not_after > ? ORDER BY serial", now); ResultSet r = s.executeQuery()) {
        while (r.next()) {
          out.add(new RevokedCertificate(r.getString(1), r.getString(2), Instant.ofEpochMilli(r.getLong(3)),
              Instant.ofEpochMilli(r.getLong(4))));
        }
      }
      return out;
    });
  }

  @Override
  public Optional<StoredCa> certificateAuthority() {
    return read(c -> {
      try (PreparedStatement s = c.prepareStatement(
          "SELECT certificate_pem, encrypted_key, key_fingerprint, created_at FROM ca_material WHERE id = 1");
           ResultSet r = s.executeQuery()) {
        if (!r.next()) {
          return Optional.empty();
        }
        return Optional.of(new StoredCa(r.getString(1), r.getBytes(2), r.getString(3),
            Instant.ofEpochMilli(r.getLong(4))));
      }
    });
  }

  @Override
  public boolean storeCertificateAuthorityIfAbsent(StoredCa ca) {
    requireNonNull(ca, "ca");
    return write(c -> {
      boolean inserted = dialect.insertIfAbsent(c, "INSERT INTO ca_material (id, certificate_pem, encrypted_key, "
          + "key_fingerprint, created_at) VALUES (1, ?, ?, ?, ?)", "id", ca.certificatePem(), ca.encryptedKey(),
          ca.keyFingerprint(), ca.createdAt());
      if (inserted) {
        Rows.auditIn(c, "manager", "ca.create", "", "");
      }
      return inserted;
    });
  }

  @Override
  public void audit(String actor, String action, String subject, String detail) {
    requireNonNull(actor, "actor");
    requireNonNull(action, "action");
    write(c -> {
      Rows.auditIn(c, actor, action, subject, detail);
      return null;
    });
  }

  @Override
  public List<AuditEntry> auditLog(int limit) {
    if (limit < 1) {
      throw new IllegalArgumentException("limit: " + limit + " (expected: >= 1)");
    }
    return read(c -> {
      List<AuditEntry> out = new ArrayList<>();
      try (PreparedStatement s = Sql.prepare(c, "SELECT id, at, actor, action, subject, detail FROM audit_log "
          + "ORDER BY id DESC LIMIT ?", limit); ResultSet r = s.executeQuery()) {
        while (r.next()) {
          out.add(new AuditEntry(r.getLong(1), Instant.ofEpochMilli(r.getLong(2)), r.getString(3), r.getString(4),
              Optional.ofNullable(r.getString(5)).orElse(""), Optional.ofNullable(r.getString(6)).orElse("")));
        }
      }
      return out;
    });
  }

  @Override
  public AutoCloseable subscribe(LongConsumer listener) {
    return feed.subscribe(requireNonNull(listener, "listener"));
  }

  @Override
  public void close() {
    if (feed != null) {
      feed.close();
    }
    dataSource.close();
  }

  @Override
  public String toString() {
    return "ControlStore{" + DataSources.describe(config) + "}";
  }

  // ---- internals

  private <T> T read(Sql.Work<T> work) {
    Sql.DEBUG.set(config.debug());
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(true);
      return work.run(c);
    } catch (SQLException e) {
      throw new StoreException("store: " + e.getMessage(), e);
    } finally {
      Sql.DEBUG.remove();
    }
  }

  private <T> T write(Sql.Work<T> work) {
    return transaction(work, result -> true);
  }

  /**
   * Runs {@code work} in one transaction; commits when {@code commitIf} accepts the result, rolls back
   * otherwise, then tells subscribers of a new version.
   */
  private <T> T transaction(Sql.Work<T> work, java.util.function.Predicate<T> commitIf) {
    for (int attempt = 1; ; attempt++) {
      try {
        return transactionOnce(work, commitIf);
      } catch (StoreException e) {
        // the database chose this transaction as a deadlock's victim and rolled it back: run it again
        if (attempt == MAX_ATTEMPTS || !Dialect.isDeadlock(e.getCause())) {
          throw e;
        }
        log.debug("store: transaction retried after a deadlock ({})", e.getMessage());
      }
    }
  }

  private <T> T transactionOnce(Sql.Work<T> work, java.util.function.Predicate<T> commitIf) {
    Sql.DEBUG.set(config.debug());
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false);
      T result;
      try {
        result = work.run(c);
        if (commitIf.test(result)) {
          c.commit();
        } else {
          c.rollback();
          return result;
        }
      } catch (SQLException | RuntimeException e) {
        try {
          c.rollback();
        } catch (SQLException suppressed) {
          e.addSuppressed(suppressed);
        }
        throw e;
      } finally {
        c.setAutoCommit(true);
      }
      if (feed != null) {
        feed.publish(Rows.readVersion(c));
      }
      return result;
    } catch (SQLException e) {
      throw new StoreException("store: " + e.getMessage(), e);
    } finally {
      Sql.DEBUG.remove();
    }
  }

  private static void closeQuietly(HikariDataSource dataSource) {
    if (dataSource != null) {
      dataSource.close();
    }
  }
}
