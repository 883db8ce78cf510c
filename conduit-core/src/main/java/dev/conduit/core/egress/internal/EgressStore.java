package dev.conduit.core.egress.internal;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.control.store.AuditEntry;
import dev.conduit.core.control.store.ControlStore;
import dev.conduit.core.control.store.StoreException;
import dev.conduit.core.control.store.internal.JdbcControlStore;
import dev.conduit.core.control.store.internal.VersionBumps;
import dev.conduit.core.egress.EgressEntry;
import dev.conduit.core.egress.EntryKind;
import dev.conduit.core.egress.EntryValue;
import dev.conduit.core.egress.ResolvedAddress;
import dev.conduit.core.net.IpAddress;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import javax.sql.DataSource;

/**
 * The egress server's tables in the control plane's database ({@code egress_entries}, {@code egress_addresses},
 * {@code egress_audit}, created by the store's migrations). Thread-safe; every call blocks on the database. Changes
 * to entries and their addresses bump the store's state version, so that every egress server on the database hears
 * of them through {@link ControlStore#subscribe}.
 */
public final class EgressStore {

  private final JdbcControlStore controlStore;
  private final DataSource dataSource;
  /** A null BIGINT parameter (PostgreSQL refuses an untyped null there). */
  private static final Object NULL_TIME = new Object();

  /** Uses the tables of {@code store}'s database. */
  public EgressStore(ControlStore store) {
    requireNonNull(store, "store");
    if (!(store instanceof JdbcControlStore)) {
      throw new IllegalArgumentException("store: " + store.getClass().getName() + " (expected: a JDBC store)");
    }
    this.controlStore = (JdbcControlStore) store;
    this.dataSource = controlStore.dataSource();
  }

  @FunctionalInterface
  private interface Work<T> {
    T run(Connection c) throws SQLException;
  }

  /**
   * Inserts an entry with no addresses and an audit line, in one transaction.
   *
   * @return false if an entry with the same value exists (nothing is stored then)
   */
  public boolean insert(EgressEntry e, String auditAction, String auditDetail) {
    return transaction(c -> {
      try (PreparedStatement s = prepare(c, "SELECT id FROM egress_entries WHERE entry_value = ?", e.value().text());
           ResultSet r = s.executeQuery()) {
        if (r.next()) {
          return false;
        }
      }
      update(c, "INSERT INTO egress_entries (id, entry_value, kind, ports, non_deletable, note, created_at, created_by,"
          + " last_resolved_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", e.id(), e.value().text(),
          e.value().kind().label(), e.ports().stream().map(String::valueOf).collect(Collectors.joining(",")),
          e.nonDeletable(), e.comment(), e.createdAt(), e.createdBy(), time(e.lastResolvedAt()),
          e.lastError().orElse(null));
      writeAddresses(c, e.id(), e.addresses());
      auditIn(c, e.createdAt(), e.createdBy(), auditAction, e.value().text(), auditDetail);
      return true;
    }, inserted -> inserted);
  }

  /** Deletes an entry and its addresses and writes an audit line; returns false if there was no such entry. */
  public boolean delete(String id, Instant at, String actor, String subject) {
    return transaction(c -> {
      update(c, "DELETE FROM egress_addresses WHERE entry_id = ?", id);
      if (update(c, "DELETE FROM egress_entries WHERE id = ?", id) == 0) {
        return false;
      }
      auditIn(c, at, actor, "delete", subject, "");
      return true;
    }, deleted -> deleted);
  }

  /**
   * Replaces an entry's addresses and resolution status.
   *
   * @param announce whether the addresses changed, so that other servers on the database should reload them
   */
  public void resolved(String id, Optional<Instant> lastResolvedAt, Optional<String> lastError,
      Collection<ResolvedAddress> addresses, boolean announce) {
    transaction(c -> {
      update(c, "UPDATE egress_entries SET last_resolved_at = ?, last_error = ? WHERE id = ?",
          time(lastResolvedAt), lastError.map(m -> m.length() > 500 ? m.substring(0, 500) : m).orElse(null), id);
      update(c, "DELETE FROM egress_addresses WHERE entry_id = ?", id);
      writeAddresses(c, id, addresses);
      return announce;
    }, changed -> changed);
  }

  /** Returns every entry with its addresses, in order of creation. */
  public List<EgressEntry> entries() {
    return transaction(c -> {
      Map<String, List<ResolvedAddress>> addresses = new LinkedHashMap<>();
      try (PreparedStatement s = prepare(c, "SELECT * FROM egress_addresses ORDER BY entry_id, address");
           ResultSet r = s.executeQuery()) {
        while (r.next()) {
          long grace = r.getLong("grace_until");
          Optional<Instant> graceUntil = r.wasNull() ? Optional.empty() : Optional.of(Instant.ofEpochMilli(grace));
          addresses.computeIfAbsent(r.getString("entry_id"), k -> new ArrayList<>()).add(new ResolvedAddress(
              IpAddress.parse(r.getString("address")), Instant.ofEpochMilli(r.getLong("first_seen")),
              Instant.ofEpochMilli(r.getLong("last_seen")), graceUntil));
        }
      }
      List<EgressEntry> out = new ArrayList<>();
      try (PreparedStatement s = prepare(c, "SELECT * FROM egress_entries ORDER BY created_at, id");
           ResultSet r = s.executeQuery()) {
        while (r.next()) {
          String ports = r.getString("ports");
          long resolved = r.getLong("last_resolved_at");
          Optional<Instant> lastResolved = r.wasNull() ? Optional.empty()
              : Optional.of(Instant.ofEpochMilli(resolved));
          String id = r.getString("id");
          List<ResolvedAddress> own = new ArrayList<>(addresses.getOrDefault(id, List.of()));
          own.sort((a, b) -> a.address().compareTo(b.address()));
          out.add(new EgressEntry(id, new EntryValue(kind(r.getString("kind")), r.getString("entry_value")),
              ports == null || ports.isEmpty() ? List.of()
                  : Arrays.stream(ports.split(",")).map(Integer::valueOf).collect(Collectors.toList()),
              r.getBoolean("non_deletable"), r.getString("note"), Instant.ofEpochMilli(r.getLong("created_at")),
              r.getString("created_by"), lastResolved, Optional.ofNullable(r.getString("last_error")), own));
        }
      }
      return out;
    });
  }

  /** Appends an audit line. */
  public void audit(Instant at, String actor, String action, String subject, String detail) {
    transaction(c -> {
      auditIn(c, at, actor, action, subject, detail);
      return null;
    });
  }

  /** Returns the newest {@code limit} audit lines, newest first. */
  public List<AuditEntry> auditLog(int limit) {
    return transaction(c -> {
      List<AuditEntry> out = new ArrayList<>();
      try (PreparedStatement s = prepare(c, "SELECT * FROM egress_audit ORDER BY id DESC")) {
        s.setMaxRows(limit);
        try (ResultSet r = s.executeQuery()) {
          while (r.next()) {
            out.add(new AuditEntry(r.getLong("id"), Instant.ofEpochMilli(r.getLong("at")), r.getString("actor"),
                r.getString("action"), Optional.ofNullable(r.getString("subject")).orElse(""),
                Optional.ofNullable(r.getString("detail")).orElse("")));
          }
        }
      }
      return out;
    });
  }

  private static Object time(Optional<Instant> t) {
    return t.isPresent() ? t.get() : NULL_TIME;
  }

  private static EntryKind kind(String label) {
    return EntryKind.valueOf(label.toUpperCase(java.util.Locale.ROOT));
  }

  private static void writeAddresses(Connection c, String id, Collection<ResolvedAddress> addresses)
      throws SQLException {
    for (ResolvedAddress a : addresses) {
      update(c, "INSERT INTO egress_addresses (entry_id, address, first_seen, last_seen, grace_until)"
          + " VALUES (?, ?, ?, ?, ?)", id, a.address().toString(), a.firstSeen(), a.lastSeen(),
          time(a.graceUntil()));
    }
  }

  private static void auditIn(Connection c, Instant at, String actor, String action, String subject, String detail)
      throws SQLException {
    update(c, "INSERT INTO egress_audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)", at,
        cut(actor, 255), cut(action, 32), cut(subject, 300), detail);
  }

  private static String cut(String s, int max) {
    return s.length() <= max ? s : s.substring(0, max);
  }

  private <T> T transaction(Work<T> work) {
    return transaction(work, result -> false);
  }

  /** Runs {@code work} in one transaction, bumping the store's version in it when {@code bumpIf} accepts the result. */
  private <T> T transaction(Work<T> work, Predicate<T> bumpIf) {
    long version = -1;
    T result;
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false);
      try {
        result = work.run(c);
        if (bumpIf.test(result)) {
          version = VersionBumps.bump(controlStore, c);
        }
        c.commit();
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      }
    } catch (SQLException e) {
      throw new StoreException("egress store: " + e.getMessage(), e);
    }
    if (version >= 0) {
      VersionBumps.announce(controlStore, version);
    }
    return result;
  }

  private static PreparedStatement prepare(Connection c, String sql, Object... parameters) throws SQLException {
    PreparedStatement s = c.prepareStatement(sql);
    try {
      for (int i = 0; i < parameters.length; i++) {
        Object p = parameters[i];
        if (p == NULL_TIME) {
          s.setNull(i + 1, Types.BIGINT);
        } else if (p == null) {
          s.setNull(i + 1, Types.VARCHAR); // as the control store does: untyped on PostgreSQL
        } else if (p instanceof Instant) {
          s.setLong(i + 1, ((Instant) p).toEpochMilli());
        } else if (p instanceof Boolean) {
          s.setBoolean(i + 1, (Boolean) p);
        } else {
          s.setString(i + 1, p.toString());
        }
      }
      return s;
    } catch (SQLException | RuntimeException e) {
      s.close();
      throw e;
    }
  }

  private static int update(Connection c, String sql, Object... parameters) throws SQLException {
    try (PreparedStatement s = prepare(c, sql, parameters)) {
      return s.executeUpdate();
    }
  }
}
