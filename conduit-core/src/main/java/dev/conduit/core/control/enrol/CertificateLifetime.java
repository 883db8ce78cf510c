package dev.conduit.core.control.enrol;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.time.Instant;
import java.time.Period;
import java.time.ZoneOffset;

/**
 * How long certificates live, written as configuration files write it: {@code "Y,M,D"} (years, months, days,
 * e.g. {@code "1,0,0"} for a year) or a duration such as {@code 30d}, {@code 12h} or {@code 90s}.
 *
 * <p>Node certificates live {@link #DEFAULT_NODE 30 days} by default and renew at about two thirds of that:
 * a manager may be away for ten days before a certificate lapses, and a stolen key stays useful for at most a
 * month even where a revocation did not reach. A year, as seed-era meshes issue, leaves it useful for a year.
 */
public final class CertificateLifetime {

  /** Default lifetime of node certificates. */
  public static final Duration DEFAULT_NODE = Duration.ofDays(30);
  /** Default lifetime of the certificate authority. */
  public static final Duration DEFAULT_CA = Duration.ofDays(3650);

  private final Period period;
  private final Duration duration;

  private CertificateLifetime(Period period, Duration duration) {
    this.period = period;
    this.duration = duration;
  }

  /** Returns a lifetime of a fixed duration. */
  public static CertificateLifetime of(Duration duration) {
    requireNonNull(duration, "duration");
    if (duration.isNegative() || duration.isZero()) {
      throw new IllegalArgumentException("lifetime: " + duration + " (expected: more than 0)");
    }
    return new CertificateLifetime(null, duration);
  }

  /**
   * Parses {@code "Y,M,D"} (each a whole number, not all zero).
   *
   * @throws IllegalArgumentException for anything else
   */
  public static CertificateLifetime parseYearsMonthsDays(String text) {
    requireNonNull(text, "text");
    String[] parts = text.trim().split("\\s*,\\s*");
    if (parts.length != 3) {
      throw new IllegalArgumentException("not_after: '" + text + "' (expected: years,months,days such as 1,0,0)");
    }
    int[] values = new int[3];
    for (int i = 0; i < 3; i++) {
      try {
        values[i] = Integer.parseInt(parts[i]);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("not_after: '" + text + "' (expected: years,months,days such as 1,0,0)");
      }
      if (values[i] < 0 || values[i] > 1000) {
        throw new IllegalArgumentException("not_after: '" + text + "' (expected: each of years,months,days 0-1000)");
      }
    }
    if (values[0] == 0 && values[1] == 0 && values[2] == 0) {
      throw new IllegalArgumentException("not_after: '" + text + "' (expected: a lifetime longer than 0)");
    }
    return new CertificateLifetime(Period.of(values[0], values[1], values[2]), null);
  }

  /** Returns the duration from {@code start} to the end of this lifetime (calendar arithmetic in UTC). */
  public Duration from(Instant start) {
    requireNonNull(start, "start");
    if (duration != null) {
      return duration;
    }
    Instant end = start.atOffset(ZoneOffset.UTC).plus(period).toInstant();
    return Duration.between(start, end);
  }

  /** Returns the lifetime as written: {@code P1Y} or {@code PT720H}. */
  @Override
  public String toString() {
    return period != null ? period.toString() : duration.toString();
  }
}
