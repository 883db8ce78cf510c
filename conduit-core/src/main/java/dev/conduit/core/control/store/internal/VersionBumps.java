package dev.conduit.core.control.store.internal;

import static java.util.Objects.requireNonNull;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * Lets the roles that keep their own tables in the control store's database (the egress server) bump the state
 * version in their own transactions, so that every server on the database hears of their changes through
 * {@link dev.conduit.core.control.store.ControlStore#subscribe}.
 */
public final class VersionBumps {

  private VersionBumps() {}

  /**
   * Bumps the version inside the open transaction on {@code c} (on PostgreSQL the notification goes out at
   * commit). After the commit, call {@link #announce(JdbcControlStore, long)} with the result.
   */
  public static long bump(JdbcControlStore store, Connection c) throws SQLException {
    return requireNonNull(store, "store").dialect.bump(requireNonNull(c, "c"));
  }

  /** Tells this process's subscribers of a version committed after {@link #bump(JdbcControlStore, Connection)}. */
  public static void announce(JdbcControlStore store, long version) {
    ChangeFeed feed = requireNonNull(store, "store").feed;
    if (feed != null) {
      feed.publish(version);
    }
  }
}
