package dev.conduit.core.control.store.internal;

import dev.conduit.core.control.store.StoreConfig;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells subscribers of new state versions, in order, on one thread. Versions published by this process arrive
 * at once; on PostgreSQL a listener thread also receives other managers' versions through LISTEN/NOTIFY, and on
 * MySQL/MariaDB (which has no notifications) a poller reads the version row every
 * {@link StoreConfig#changePollInterval()} on its own connection.
 */
final class ChangeFeed implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ChangeFeed.class);
  /** How long one wait for notifications lasts; never 0, which would block forever on a dead network. */
  static final int POLL_MILLIS = 1000;
  /** How often the idle listener proves its connection is alive. */
  static final long PING_MILLIS = 10_000;
  /** The MySQL/MariaDB feed connection's {@code program_name} attribute. */
  static final String FEED_NAME = "conduit-change-feed";

  private final AtomicLong delivered;
  private final List<LongConsumer> listeners = new CopyOnWriteArrayList<>();
  private final ExecutorService dispatcher = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "conduit-store-feed");
    t.setDaemon(true);
    return t;
  });
  private volatile Thread listenerThread;
  private volatile Connection listenerConnection;
  private volatile boolean closed;

  private ChangeFeed(long version) {
    this.delivered = new AtomicLong(version);
  }

  /** A feed of this process's changes only (SQLite: one manager per database file). */
  static ChangeFeed local(long version) {
    return new ChangeFeed(version);
  }

  /** A feed that also listens on PostgreSQL for other managers' changes. */
  static ChangeFeed postgres(StoreConfig config, long version) {
    ChangeFeed feed = new ChangeFeed(version);
    feed.start(config, feed::listen, "conduit-store-listen");
    return feed;
  }

  /**
   * A feed that also polls the version row for other managers' changes (MySQL/MariaDB). One primary-key read per
   * interval on a dedicated connection: cheap for the database, and a change reaches subscribers within about
   * one interval.
   */
  static ChangeFeed polling(StoreConfig config, long version) {
    ChangeFeed feed = new ChangeFeed(version);
    feed.start(config, c -> feed.poll(c, config.changePollInterval().toMillis()), "conduit-store-poll");
    return feed;
  }

  /** What the feed does with its connection until it fails or the feed closes. */
  @FunctionalInterface
  private interface Session {
    void run(Connection connection) throws SQLException, InterruptedException;
  }

  private void start(StoreConfig config, Session session, String name) {
    Thread thread = new Thread(() -> reconnecting(config, session), name);
    thread.setDaemon(true);
    listenerThread = thread;
    thread.start();
  }

  AutoCloseable subscribe(LongConsumer listener) {
    listeners.add(listener);
    return () -> listeners.remove(listener);
  }

  /** Delivers {@code version} to subscribers unless it is not newer than the last one delivered. */
  void publish(long version) {
    if (closed) {
      return;
    }
    try {
      dispatcher.execute(() -> {
        long last = delivered.get();
        if (version <= last || !delivered.compareAndSet(last, version)) {
          return;
        }
        for (LongConsumer listener : listeners) {
          try {
            listener.accept(version);
          } catch (RuntimeException e) {
            log.warn("store: a change listener failed at version {}", version, e);
          }
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closed meanwhile
    }
  }

  private void reconnecting(StoreConfig config, Session session) {
    long backoff = 500;
    while (!closed) {
      try (Connection c = connect(config)) {
        listenerConnection = c;
        backoff = 500;
        session.run(c);
      } catch (InterruptedException e) {
        return;
      } catch (SQLException | RuntimeException e) {
        if (closed) {
          return;
        }
        log.warn("store: change feed connection lost ({}); reconnecting in {} ms", e.getMessage(), backoff);
        try {
          Thread.sleep(backoff); // back-off between reconnection attempts, not a wait for an event
        } catch (InterruptedException ie) {
          return;
        }
        backoff = Math.min(backoff * 2, 15_000);
      } finally {
        listenerConnection = null;
      }
    }
  }

  private void listen(Connection c) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute("LISTEN " + JdbcControlStore.CHANNEL);
    }
    // notifications sent while we were not listening are lost: resynchronise from the table
    publish(Rows.readVersion(c));
    PGConnection pg = c.unwrap(PGConnection.class);
    long lastPing = System.nanoTime();
    while (!closed) {
      PGNotification[] notifications = pg.getNotifications(POLL_MILLIS);
      if (notifications != null) {
        for (PGNotification n : notifications) {
          publish(parse(n.getParameter()));
        }
      } else if (System.nanoTime() - lastPing > TimeUnit.MILLISECONDS.toNanos(PING_MILLIS)) {
        try (Statement s = c.createStatement()) {
          s.execute("SELECT 1");
        }
        lastPing = System.nanoTime();
      }
    }
  }

  private void poll(Connection c, long intervalMillis) throws SQLException, InterruptedException {
    try (java.sql.PreparedStatement s = c.prepareStatement("SELECT version FROM state_version WHERE id = 1")) {
      long seen = -1;
      while (!closed) {
        try (java.sql.ResultSet r = s.executeQuery()) {
          if (r.next() && r.getLong(1) != seen) {
            seen = r.getLong(1);
            publish(seen); // the first read after a (re)connection resynchronises, as after LISTEN
          }
        }
        Thread.sleep(intervalMillis); // the polling interval: MySQL has no notifications to wait for
      }
    }
  }

  private static long parse(String payload) {
    try {
      return Long.parseLong(payload.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static Connection connect(StoreConfig config) throws SQLException {
    Properties properties = new Properties();
    config.user().ifPresent(u -> properties.setProperty("user", u));
    config.password().ifPresent(p -> properties.setProperty("password", p));
    properties.setProperty("tcpKeepAlive", "true");
    if (config.driver() == StoreConfig.Driver.MYSQL) {
      properties.setProperty("socketTimeout", "30000");
      properties.setProperty("connectTimeout", "10000");
      // named, so that an operator (or a test) can tell the feed's session from the pool's
      properties.setProperty("connectionAttributes", "program_name:" + FEED_NAME);
    } else {
      properties.setProperty("socketTimeout", "30");
      properties.setProperty("connectTimeout", "10");
      properties.setProperty("ApplicationName", "conduit change feed");
    }
    Connection c = DriverManager.getConnection(config.url(), properties);
    c.setAutoCommit(true); // a listener inside a transaction receives nothing; a poller would read one snapshot
    if (config.driver() == StoreConfig.Driver.MYSQL) {
      c.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
    }
    return c;
  }

  @Override
  public void close() {
    closed = true;
    Thread thread = listenerThread;
    if (thread != null) {
      thread.interrupt();
      Connection c = listenerConnection;
      if (c != null) {
        try {
          c.close();
        } catch (SQLException e) {
          // closing anyway
        }
      }
      try {
        thread.join(5000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    dispatcher.shutdown();
  }
}
