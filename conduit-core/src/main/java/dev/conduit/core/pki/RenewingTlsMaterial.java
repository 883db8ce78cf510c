package dev.conduit.core.pki;

import static java.util.Objects.requireNonNull;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TLS material that renews itself before it expires: {@code issuer} makes a fresh certificate (e.g. the mesh
 * manager's CA signing its push server's), at the given fraction of each certificate's lifetime (default 2/3, counted
 * from when it was issued, not from its backdated {@code notBefore}); a failed renewal is retried after a tenth of
 * the time left (at least a second). Servers that take the material as a supplier (e.g.
 * {@code PushServer.builder(...).tls(renewing)}) use the new certificate for new handshakes, while connections
 * already open keep theirs: nobody is dropped.
 *
 * <pre>{@code
 * RenewingTlsMaterial push = RenewingTlsMaterial.builder(() -> TlsMaterial.of(
 *     enrolment.issueManagerCertificate(names, Duration.ofDays(30)), ca)).build();
 * expiry.watch("push-server", () -> push.get().certificate());
 * }</pre>
 */
public final class RenewingTlsMaterial implements Supplier<TlsMaterial>, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RenewingTlsMaterial.class);

  private final Supplier<TlsMaterial> issuer;
  private final double renewAt;
  private final Clock clock;
  private final String name;
  private final ScheduledExecutorService timer;
  private final List<Consumer<TlsMaterial>> listeners = new CopyOnWriteArrayList<>();
  private volatile TlsMaterial current;

  private RenewingTlsMaterial(Builder b) {
    this.issuer = b.issuer;
    this.renewAt = b.renewAt;
    this.clock = b.clock;
    this.name = b.name;
    this.current = requireNonNull(issuer.get(), "issuer.get()");
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "conduit-renew-" + name);
      t.setDaemon(true);
      return t;
    });
    schedule(delayFor(current));
  }

  /** Returns a builder whose material comes from {@code issuer} (called now, then at every renewal). */
  public static Builder builder(Supplier<TlsMaterial> issuer) {
    return new Builder(issuer);
  }

  /** Returns the current material. */
  @Override
  public TlsMaterial get() {
    return current;
  }

  /** Calls {@code listener} with each renewed material, on the renewal thread. */
  public void onRenewed(Consumer<TlsMaterial> listener) {
    listeners.add(requireNonNull(listener, "listener"));
  }

  /**
   * Renews now (blocking), and schedules the next renewal from the new certificate.
   *
   * @return the new material
   * @throws RuntimeException what the issuer threw; the current material stays
   */
  public synchronized TlsMaterial renewNow() {
    TlsMaterial next = requireNonNull(issuer.get(), "issuer.get()");
    current = next;
    log.info("{}: certificate renewed, serial {}, valid until {}", name, PeerDenyList.serialOf(next.certificate()),
        next.certificate().getNotAfter().toInstant());
    for (Consumer<TlsMaterial> l : listeners) {
      try {
        l.accept(next);
      } catch (RuntimeException e) {
        log.warn("{}: a renewal listener failed: {}", name, e.toString());
      }
    }
    return next;
  }

  private long delayFor(TlsMaterial m) {
    long notAfter = m.certificate().getNotAfter().getTime();
    long lifetime = Math.max(0, notAfter - clock.millis());
    return (long) (lifetime * renewAt);
  }

  private void schedule(long delayMillis) {
    if (!timer.isShutdown()) {
      timer.schedule(this::renewScheduled, Math.max(0, delayMillis), TimeUnit.MILLISECONDS);
    }
  }

  private void renewScheduled() {
    try {
      schedule(delayFor(renewNow()));
    } catch (RuntimeException e) {
      long left = current.certificate().getNotAfter().getTime() - clock.millis();
      long retry = Math.max(1000, left / 10);
      log.warn("{}: renewing the certificate failed ({}); retrying in {} ms, it expires in {} s", name,
          e.getMessage(), retry, left / 1000);
      schedule(retry);
    }
  }

  /** Stops renewing; the current material stays usable until it expires. */
  @Override
  public void close() {
    timer.shutdownNow();
  }

  @Override
  public String toString() {
    return "RenewingTlsMaterial[" + name + ", " + current + "]";
  }

  /** Builds a {@link RenewingTlsMaterial}. */
  public static final class Builder {
    private final Supplier<TlsMaterial> issuer;
    private double renewAt = 2.0 / 3;
    private Clock clock = Clock.systemUTC();
    private String name = "tls";

    private Builder(Supplier<TlsMaterial> issuer) {
      this.issuer = requireNonNull(issuer, "issuer");
    }

    /** The fraction of a certificate's remaining lifetime at issue after which it is renewed (default 2/3). */
    public Builder renewAt(double fraction) {
      if (!(fraction > 0 && fraction < 1)) {
        throw new IllegalArgumentException("renewAt: " + fraction + " (expected: between 0 and 1, exclusive)");
      }
      this.renewAt = fraction;
      return this;
    }

    /** The clock lifetimes are measured with (default: the system's). */
    public Builder clock(Clock clock) {
      this.clock = requireNonNull(clock, "clock");
      return this;
    }

    /** The name in logs and the renewal thread's name (default {@code tls}). */
    public Builder name(String name) {
      this.name = requireNonNull(name, "name");
      return this;
    }

    /**
     * Issues the first certificate and starts the renewal timer.
     *
     * @throws RuntimeException what the issuer threw
     */
    public RenewingTlsMaterial build() {
      return new RenewingTlsMaterial(this);
    }
  }
}
