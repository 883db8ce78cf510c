package dev.conduit.core;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * The time limits of a {@link Conduit}, as in seed 001 plus relay idle and drain.
 *
 * <pre>{@code
 * Timeouts timeouts = Timeouts.builder()
 *     .dial(Duration.ofSeconds(10))          // DNS + TCP connect + upstream proxy handshakes
 *     .negotiation(Duration.ofSeconds(10))   // client's greeting, request and authentication
 *     .httpIdle(Duration.ofMinutes(4))       // idle keep-alive HTTP connections
 *     .httpResponseHead(Duration.ofMinutes(2)) // a forwarded request's response head (504 after)
 *     .relayIdle(Duration.ZERO)              // 0: tunnels never time out (TCP keepalive finds dead peers)
 *     .drain(Duration.ofSeconds(30))         // graceful stop
 *     .build();
 * }</pre>
 */
public final class Timeouts {

  private static final Timeouts DEFAULTS = builder().build();

  private final Duration dial;
  private final Duration negotiation;
  private final Duration httpIdle;
  private final Duration httpResponseHead;
  private final Duration relayIdle;
  private final Duration drain;

  private Timeouts(Builder b) {
    this.dial = b.dial;
    this.negotiation = b.negotiation;
    this.httpIdle = b.httpIdle;
    this.httpResponseHead = b.httpResponseHead;
    this.relayIdle = b.relayIdle;
    this.drain = b.drain;
  }

  /**
   * The defaults: dial 10 s, negotiation 10 s, HTTP idle 4 min, HTTP response head 2 min; no relay idle;
   * drain 30 s.
   */
  public static Timeouts defaults() {
    return DEFAULTS;
  }

  /** A builder starting from the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from these values. */
  public Builder toBuilder() {
    return new Builder().dial(dial).negotiation(negotiation).httpIdle(httpIdle).httpResponseHead(httpResponseHead)
        .relayIdle(relayIdle).drain(drain);
  }

  /** Bounds DNS lookups, TCP connects and upstream proxy handshakes, together. */
  public Duration dial() {
    return dial;
  }

  /** Bounds the client's protocol handshake (greeting, authentication, request). */
  public Duration negotiation() {
    return negotiation;
  }

  /** How long an HTTP keep-alive connection may wait for its next request. */
  public Duration httpIdle() {
    return httpIdle;
  }

  /**
   * How long a forwarded HTTP request may wait for the start of its response (the status line and headers),
   * counted from when the request head went upstream; then the client gets {@code 504} with
   * {@code Proxy-Status: error=http_response_timeout}.
   */
  public Duration httpResponseHead() {
    return httpResponseHead;
  }

  /** How long a tunnel may carry no byte in either direction; zero means no limit. */
  public Duration relayIdle() {
    return relayIdle;
  }

  /** How long a graceful stop waits for open connections before closing them. */
  public Duration drain() {
    return drain;
  }

  /** Equal when every limit is equal, so a reload can tell whether the timeouts changed. */
  @Override
  public boolean equals(Object o) {
    return o instanceof Timeouts t && dial.equals(t.dial) && negotiation.equals(t.negotiation)
        && httpIdle.equals(t.httpIdle) && relayIdle.equals(t.relayIdle) && drain.equals(t.drain);
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(dial, negotiation, httpIdle, relayIdle, drain);
  }

  @Override
  public String toString() {
    return "Timeouts[dial=" + dial + ", negotiation=" + negotiation + ", httpIdle=" + httpIdle
        + ", httpResponseHead=" + httpResponseHead + ", relayIdle=" + relayIdle + ", drain=" + drain + "]";
  }

  /** Builds {@link Timeouts}. */
  public static final class Builder {
    private Duration dial = Duration.ofSeconds(10);
    private Duration negotiation = Duration.ofSeconds(10);
    private Duration httpIdle = Duration.ofMinutes(4);
    private Duration httpResponseHead = Duration.ofMinutes(2);
    private Duration relayIdle = Duration.ZERO;
    private Duration drain = Duration.ofSeconds(30);

    private Builder() {}

    /** The dial timeout (DNS included, every hop and failover attempt); default 10 s. */
    public Builder dial(Duration value) {
      this.dial = positive(value, "dial");
      return this;
    }

    /** The negotiation timeout (accept to the end of the protocol's request); default 10 s. */
    public Builder negotiation(Duration value) {
      this.negotiation = positive(value, "negotiation");
      return this;
    }

    /** How long a kept-alive HTTP client connection may wait for its next request; default 4 min. */
    public Builder httpIdle(Duration value) {
      this.httpIdle = positive(value, "httpIdle");
      return this;
    }

    /** How long a forwarded HTTP request may wait for its response head; default 2 min. */
    public Builder httpResponseHead(Duration value) {
      this.httpResponseHead = positive(value, "httpResponseHead");
      return this;
    }

    /** Zero disables the relay idle timeout. */
    public Builder relayIdle(Duration value) {
      requireNonNull(value, "relayIdle");
      if (value.isNegative()) {
        throw new IllegalArgumentException("relayIdle: " + value + " (expected: >= 0)");
      }
      this.relayIdle = value;
      return this;
    }

    /** Zero closes open connections at once on stop. */
    public Builder drain(Duration value) {
      requireNonNull(value, "drain");
      if (value.isNegative()) {
        throw new IllegalArgumentException("drain: " + value + " (expected: >= 0)");
      }
      this.drain = value;
      return this;
    }

    /** Builds the immutable {@code Timeouts}. */
    public Timeouts build() {
      return new Timeouts(this);
    }

    private static Duration positive(Duration value, String name) {
      requireNonNull(value, name);
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException(name + ": " + value + " (expected: > 0)");
      }
      return value;
    }
  }
}
