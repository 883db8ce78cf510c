package dev.conduit.core.control.store.internal;

import dev.conduit.core.control.store.AppliedVersion;
import dev.conduit.core.control.store.NewNode;
import dev.conduit.core.control.store.NodeRecord;
import dev.conduit.core.control.store.NodeRole;
import dev.conduit.core.control.store.NodeState;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/** The statements {@link JdbcControlStore} runs inside its transactions, and the mapping of node rows. */
final class Rows {

  private Rows() {}

  /** Records what nodes applied, one batched statement. */
  static int recordApplied(Connection c, List<AppliedVersion> applied, Instant now) throws SQLException {
    try (PreparedStatement s = c.prepareStatement(
        "UPDATE nodes SET applied_version = ?, applied_hash = ?, last_seen = ? WHERE name = ?")) {
      for (AppliedVersion a : applied) {
        s.setLong(1, a.version());
        s.setString(2, a.hash());
        s.setLong(3, now.toEpochMilli());
        s.setString(4, a.name());
        s.addBatch();
      }
      return applied.isEmpty() ? 0 : s.executeBatch().length;
    }
  }

  static long readVersion(Connection c) throws SQLException {
    try (PreparedStatement s = c.prepareStatement("SELECT version FROM state_version WHERE id = 1");
         ResultSet r = s.executeQuery()) {
      if (!r.next()) {
        throw new SQLException("state_version: no row (the schema was not migrated)");
      }
      return r.getLong(1);
    }
  }

  static void insert(Connection c, NewNode node, NodeState state, long version) throws SQLException {
    long now = System.currentTimeMillis();
    Sql.update(c, "INSERT INTO nodes (name, identity, role, state, addresses, server_address, public_key_pin, "
        + "pending_csr, created_at, updated_at, changed_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        node.name(), node.identity(), node.role().name(), state.name(), String.join(",", node.addresses()),
        node.serverAddress().orElse(null), node.publicKeyPin(), node.csr(), now, now, version);
  }

  static void revokeCertificates(Connection c, String name, long now) throws SQLException {
    Sql.update(c, "UPDATE certificates SET revoked_at = ? WHERE node_name = ? AND revoked_at IS NULL", now, name);
  }

  static void auditIn(Connection c, String actor, String action, String subject, String detail)
      throws SQLException {
    Sql.update(c, "INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
        Instant.now(), actor, action, subject, detail);
  }

  static Optional<NodeRecord> findNode(Connection c, String name) throws SQLException {
    try (PreparedStatement s = Sql.prepare(c, "SELECT * FROM nodes WHERE name = ?", name);
         ResultSet r = s.executeQuery()) {
      return r.next() ? Optional.of(nodeOf(r)) : Optional.empty();
    }
  }

  static NodeRecord nodeOf(ResultSet r) throws SQLException {
    String addresses = r.getString("addresses");
    long applied = r.getLong("applied_version");
    OptionalLong appliedVersion = r.wasNull() ? OptionalLong.empty() : OptionalLong.of(applied);
    return new NodeRecord(r.getString("name"), r.getString("identity"), NodeRole.valueOf(r.getString("role")),
        NodeState.valueOf(r.getString("state")),
        addresses.isEmpty() ? List.of() : Arrays.asList(addresses.split(",")),
        Sql.string(r, "server_address"), r.getString("public_key_pin"), Sql.string(r, "pending_csr"),
        Instant.ofEpochMilli(r.getLong("created_at")), Instant.ofEpochMilli(r.getLong("updated_at")),
        Sql.instant(r, "last_seen"), Sql.string(r, "cert_serial"), Sql.instant(r, "cert_not_after"),
        appliedVersion, Sql.string(r, "applied_hash"), r.getLong("changed_version"));
  }
}
