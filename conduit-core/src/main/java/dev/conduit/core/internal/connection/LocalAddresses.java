package dev.conduit.core.internal.connection;

import static java.util.Objects.requireNonNull;

import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.time.Duration;
import java.util.Collections;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host's own IP addresses, for conduit's check that it does not dial itself. Asking the kernel for them
 * ({@link NetworkInterface}) blocks, so event loops only read a cached set; the set is loaded when a listener binds
 * a wildcard address (on the caller's thread) and refreshed on a blocking executor: when it is older than
 * {@link #MAX_AGE} (addresses that went away), and when an address is not in it and the set is older than
 * {@link #MISS_REFRESH_AFTER} (addresses that came). Lookups never wait for a refresh.
 */
public final class LocalAddresses {
  private static final Logger log = LoggerFactory.getLogger(LocalAddresses.class);

  /** After this long the set is refreshed at the next lookup. */
  public static final Duration MAX_AGE = Duration.ofSeconds(60);
  /** A lookup that misses refreshes the set if it is at least this old. */
  public static final Duration MISS_REFRESH_AFTER = Duration.ofSeconds(2);

  /** Where the addresses come from: the network interfaces, or a test's list. May block. */
  @FunctionalInterface
  public interface Source {
    /** The host's addresses now. */
    Set<InetAddress> load() throws SocketException;
  }

  private final Source source;
  private final Executor blocking;
  private final LongSupplier nanoTime;
  private final AtomicBoolean refreshing = new AtomicBoolean();
  private volatile Set<InetAddress> addresses = Set.of();
  /** When {@link #addresses} was loaded; meaningful once {@link #loaded}. */
  private volatile long loadedAtNanos;
  private volatile boolean loaded;

  /** The host's addresses, refreshed on a daemon thread of its own that exists only while refreshing. */
  public LocalAddresses() {
    this(LocalAddresses::interfaceAddresses, refresher(), System::nanoTime);
  }

  /** Addresses from {@code source}, refreshed on {@code blocking}, aged by {@code nanoTime}. */
  public LocalAddresses(Source source, Executor blocking, LongSupplier nanoTime) {
    this.source = requireNonNull(source, "source");
    this.blocking = requireNonNull(blocking, "blocking");
    this.nanoTime = requireNonNull(nanoTime, "nanoTime");
  }

  private static Executor refresher() {
    ThreadPoolExecutor executor = new ThreadPoolExecutor(0, 1, 10, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
        r -> {
          Thread t = new Thread(r, "conduit-local-addresses");
          t.setDaemon(true);
          return t;
        });
    return executor;
  }

  private static Set<InetAddress> interfaceAddresses() throws SocketException {
    Set<InetAddress> all = new HashSet<>();
    for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
      all.addAll(Collections.list(nic.getInetAddresses()));
    }
    return all;
  }

  /**
   * Whether {@code ip} is one of this host's addresses, as last loaded (loopback and wildcard addresses always
   * are). Never blocks: may start a refresh whose result later lookups see.
   */
  public boolean contains(InetAddress ip) {
    if (ip.isLoopbackAddress() || ip.isAnyLocalAddress()) {
      return true;
    }
    boolean found = addresses.contains(ip);
    long age = loaded ? nanoTime.getAsLong() - loadedAtNanos : Long.MAX_VALUE;
    if (age >= MAX_AGE.toNanos() || (!found && age >= MISS_REFRESH_AFTER.toNanos())) {
      refreshLater();
    }
    return found;
  }

  /** Loads the addresses now, on the calling thread (which must not be an event loop). */
  public void refreshNow() {
    try {
      Set<InetAddress> now = Set.copyOf(source.load());
      addresses = now;
      loadedAtNanos = nanoTime.getAsLong();
      loaded = true;
    } catch (SocketException | RuntimeException e) {
      log.debug("cannot list the host's addresses: {}", e.toString());
    }
  }

  /** Starts a refresh on the blocking executor unless one is running. */
  public void refreshLater() {
    if (!refreshing.compareAndSet(false, true)) {
      return;
    }
    try {
      blocking.execute(() -> {
        try {
          refreshNow();
        } finally {
          refreshing.set(false);
        }
      });
    } catch (RuntimeException e) {
      refreshing.set(false);
      log.debug("cannot schedule a refresh of the host's addresses: {}", e.toString());
    }
  }
}
