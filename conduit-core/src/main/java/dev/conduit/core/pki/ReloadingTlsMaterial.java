package dev.conduit.core.pki;

import static java.util.Objects.requireNonNull;

import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link TlsMaterial} read from PEM files and read again when any of them changes (modification time, size or
 * file identity, so atomic renames and Kubernetes-style symlink swaps are seen), checked periodically on a
 * scheduler thread, never on an event loop. New handshakes use the new contexts; established connections keep
 * theirs and are not dropped.
 *
 * <p>A change that cannot be loaded (a half-written file, a certificate next to the old key) is logged once
 * and the previous material stays in use until the files are consistent again. Use {@link #serverContext()} /
 * {@link #clientContext()} for each new connection rather than caching the returned context.
 */
public final class ReloadingTlsMaterial implements AutoCloseable {

  private static final Logger logger = LoggerFactory.getLogger(ReloadingTlsMaterial.class);

  /** Default interval between checks of the files. */
  public static final Duration DEFAULT_CHECK_INTERVAL = Duration.ofSeconds(10);

  private final List<Path> files;
  private final boolean verifyServerHostname;
  private final ScheduledExecutorService ownedExecutor;
  private final ScheduledFuture<?> task;
  private volatile Snapshot current;
  private List<Object> lastFailedStamps; // guarded by this

  private ReloadingTlsMaterial(Builder builder) throws IOException {
    this.files = List.of(builder.certificateFile, builder.keyFile, builder.trustFile);
    this.verifyServerHostname = builder.verifyServerHostname;
    List<Object> stamps = stamps();
    this.current = load(stamps);
    ScheduledExecutorService executor = builder.executor;
    if (executor == null) {
      executor = Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "conduit-tls-reload");
        thread.setDaemon(true);
        return thread;
      });
      this.ownedExecutor = executor;
    } else {
      this.ownedExecutor = null;
    }
    long millis = builder.checkInterval.toMillis();
    this.task = executor.scheduleWithFixedDelay(this::checkQuietly, millis, millis, TimeUnit.MILLISECONDS);
  }

  /**
   * Returns a builder watching a certificate chain, a private key and a trust roots file.
   */
  public static Builder builder(Path certificateFile, Path keyFile, Path trustFile) {
    return new Builder(certificateFile, keyFile, trustFile);
  }

  /** Returns the material in use now. */
  public TlsMaterial material() {
    return current.material;
  }

  /** Returns the current server context ({@link TlsMaterial#serverContext()}). */
  public SslContext serverContext() {
    return current.serverContext;
  }

  /** Returns the current client context ({@link TlsMaterial#clientContext(boolean)}). */
  public SslContext clientContext() {
    return current.clientContext;
  }

  /**
   * Returns the current tunnel server context ({@link TlsMaterial#tunnelServerContext()}: ALPN {@code h2} and
   * {@code http/1.1}), made on first use after each reload.
   */
  public SslContext tunnelServerContext() {
    return current.tunnelServerContext();
  }

  /**
   * Returns the current multiplexing client context ({@link TlsMaterial#multiplexClientContext(boolean,
   * io.netty.handler.ssl.SslProvider)}: ALPN {@code h2}), made on first use after each reload.
   */
  public SslContext multiplexClientContext() {
    return current.multiplexClientContext(verifyServerHostname);
  }

  /**
   * Checks the files now and reloads them if they changed; blocking file I/O. Returns true if new material
   * was loaded. A change that cannot be loaded is logged and leaves the current material in place.
   */
  public synchronized boolean reloadIfChanged() {
    List<Object> stamps;
    try {
      stamps = stamps();
    } catch (IOException e) {
      logFailureOnce(null, "cannot read TLS files " + files + ": " + e);
      return false;
    }
    if (stamps.equals(current.stamps)) {
      return false;
    }
    try {
      current = load(stamps);
      lastFailedStamps = null;
      logger.info("Reloaded TLS material: {}", current.material);
      return true;
    } catch (IOException | RuntimeException e) {
      logFailureOnce(stamps, "cannot reload TLS files " + files + ", keeping the previous material: " + e);
      return false;
    }
  }

  /** Stops checking the files; the last material stays usable. */
  @Override
  public void close() {
    task.cancel(false);
    if (ownedExecutor != null) {
      ownedExecutor.shutdownNow();
    }
  }

  @Override
  public String toString() {
    return "ReloadingTlsMaterial{files=" + files + ", material=" + current.material + "}";
  }

  private void checkQuietly() {
    try {
      reloadIfChanged();
    } catch (Throwable t) {
      // a scheduled task that throws is never run again
      logger.warn("TLS reload check failed", t);
    }
  }

  private void logFailureOnce(List<Object> stamps, String message) {
    if (stamps == null || !Objects.equals(stamps, lastFailedStamps)) {
      logger.warn(message);
      lastFailedStamps = stamps;
    }
  }

  private Snapshot load(List<Object> stamps) throws IOException {
    TlsMaterial material = TlsMaterial.load(files.get(0), files.get(1), files.get(2));
    return new Snapshot(material, material.serverContext(), material.clientContext(verifyServerHostname), stamps);
  }

  private List<Object> stamps() throws IOException {
    List<Object> stamps = new ArrayList<>(files.size() * 3);
    for (Path file : files) {
      BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
      stamps.add(attributes.lastModifiedTime());
      stamps.add(attributes.size());
      stamps.add(attributes.fileKey());
    }
    return stamps;
  }

  private static final class Snapshot {
    final TlsMaterial material;
    final SslContext serverContext;
    final SslContext clientContext;
    final List<Object> stamps;
    private SslContext tunnelServerContext;
    private SslContext multiplexClientContext;

    synchronized SslContext tunnelServerContext() {
      if (tunnelServerContext == null) {
        tunnelServerContext = material.tunnelServerContext();
      }
      return tunnelServerContext;
    }

    synchronized SslContext multiplexClientContext(boolean verifyServerHostname) {
      if (multiplexClientContext == null) {
        multiplexClientContext = material.multiplexClientContext(verifyServerHostname, TlsMaterial.preferredProvider());
      }
      return multiplexClientContext;
    }

    Snapshot(TlsMaterial material, SslContext serverContext, SslContext clientContext, List<Object> stamps) {
      this.material = material;
      this.serverContext = serverContext;
      this.clientContext = clientContext;
      this.stamps = stamps;
    }
  }

  /** Builds a {@link ReloadingTlsMaterial}. Not thread-safe. */
  public static final class Builder {
    private final Path certificateFile;
    private final Path keyFile;
    private final Path trustFile;
    private Duration checkInterval = DEFAULT_CHECK_INTERVAL;
    private boolean verifyServerHostname = true;
    private ScheduledExecutorService executor;

    private Builder(Path certificateFile, Path keyFile, Path trustFile) {
      this.certificateFile = requireNonNull(certificateFile, "certificateFile");
      this.keyFile = requireNonNull(keyFile, "keyFile");
      this.trustFile = requireNonNull(trustFile, "trustFile");
    }

    /** Sets how often the files are checked (default 10 seconds, at least 10 milliseconds). */
    public Builder checkInterval(Duration checkInterval) {
      requireNonNull(checkInterval, "checkInterval");
      if (checkInterval.toMillis() < 10) {
        throw new IllegalArgumentException("checkInterval: " + checkInterval + " (expected: >= 10ms)");
      }
      this.checkInterval = checkInterval;
      return this;
    }

    /** Sets whether the client context checks the server's name (default true); see {@link TlsMaterial}. */
    public Builder verifyServerHostname(boolean verifyServerHostname) {
      this.verifyServerHostname = verifyServerHostname;
      return this;
    }

    /**
     * Runs the checks on {@code executor} (not an event loop; it is not shut down by {@link #close()}). By
     * default a daemon thread of its own is used.
     */
    public Builder executor(ScheduledExecutorService executor) {
      this.executor = requireNonNull(executor, "executor");
      return this;
    }

    /**
     * Loads the files and starts checking them.
     *
     * @throws IOException if a file cannot be read
     * @throws IllegalArgumentException if the files are malformed or inconsistent
     */
    public ReloadingTlsMaterial build() throws IOException {
      return new ReloadingTlsMaterial(this);
    }
  }
}
