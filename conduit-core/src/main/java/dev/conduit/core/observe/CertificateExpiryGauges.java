package dev.conduit.core.observe;

import static java.util.Objects.requireNonNull;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The {@value MeterNames#CERTIFICATE_EXPIRY} gauge ({@code conduit_certificate_expiry_seconds{certificate}}):
 * seconds until each named certificate expires, negative once it has, read from a supplier at every scrape, so a
 * renewed certificate shows at once. Silent expiry is what mesh operators fear most: alert on it, e.g.
 * {@code conduit_certificate_expiry_seconds < 86400}.
 *
 * <pre>{@code
 * CertificateExpiryGauges expiry = CertificateExpiryGauges.create(registry);
 * expiry.watch("tunnel-server", () -> material.certificate());   // follows renewals
 * expiry.watch("mesh-ca", caCertificate);
 * }</pre>
 *
 * <p>Thread-safe. A supplier that fails or returns null makes the gauge read NaN (Prometheus: the series is absent
 * from alerts comparing it), never an exception in the scrape.
 */
public final class CertificateExpiryGauges implements AutoCloseable {

  private final MeterRegistry registry;
  private final Clock clock;
  private final Map<String, Gauge> gauges = new ConcurrentHashMap<>();

  private CertificateExpiryGauges(MeterRegistry registry, Clock clock) {
    this.registry = registry;
    this.clock = clock;
  }

  /** Returns gauges registered in {@code registry}, measured against the system clock. */
  public static CertificateExpiryGauges create(MeterRegistry registry) {
    return create(registry, Clock.systemUTC());
  }

  /** Returns gauges registered in {@code registry}, measured against {@code clock} (tests use a fixed one). */
  public static CertificateExpiryGauges create(MeterRegistry registry, Clock clock) {
    return new CertificateExpiryGauges(requireNonNull(registry, "registry"), requireNonNull(clock, "clock"));
  }

  /**
   * Gauges the certificate {@code certificate} returns at each scrape under the label {@code certificate=name},
   * replacing a gauge of the same name.
   *
   * @param name a stable name such as {@code tunnel-server}, {@code tunnel-client}, {@code mesh-ca},
   *     {@code push-server}
   * @param certificate returns the certificate in use now
   */
  public void watch(String name, Supplier<X509Certificate> certificate) {
    requireNonNull(name, "name");
    requireNonNull(certificate, "certificate");
    if (name.isBlank()) {
      throw new IllegalArgumentException("name: blank (expected: a certificate name such as tunnel-server)");
    }
    Gauge gauge = Gauge.builder(MeterNames.CERTIFICATE_EXPIRY, () -> secondsLeft(certificate))
        .description("Seconds until the certificate expires (negative once expired)")
        .tag("certificate", name)
        .strongReference(true)
        .register(registry);
    Gauge before = gauges.put(name, gauge);
    if (before != null && before != gauge) {
      registry.remove(before);
    }
  }

  /** Gauges one fixed certificate (e.g. a CA's). */
  public void watch(String name, X509Certificate certificate) {
    requireNonNull(certificate, "certificate");
    watch(name, () -> certificate);
  }

  /** Returns the seconds until the named certificate expires now, or NaN if none is watched under that name. */
  public double secondsLeft(String name) {
    Gauge g = gauges.get(requireNonNull(name, "name"));
    return g == null ? Double.NaN : g.value();
  }

  private double secondsLeft(Supplier<X509Certificate> certificate) {
    X509Certificate c;
    try {
      c = certificate.get();
    } catch (RuntimeException e) {
      return Double.NaN;
    }
    if (c == null) {
      return Double.NaN;
    }
    return (c.getNotAfter().getTime() - clock.millis()) / 1000.0;
  }

  /** Removes one gauge. */
  public void unwatch(String name) {
    Gauge g = gauges.remove(requireNonNull(name, "name"));
    if (g != null) {
      registry.remove(g);
    }
  }

  /** Removes every gauge. */
  @Override
  public void close() {
    gauges.keySet().forEach(this::unwatch);
  }
}
