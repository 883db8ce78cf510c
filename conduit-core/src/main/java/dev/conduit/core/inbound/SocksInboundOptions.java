package dev.conduit.core.inbound;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Authenticator;
import java.util.Optional;

/**
 * Options of the SOCKS inbound protocol.
 *
 * <pre>{@code
 * SocksInboundOptions opts = SocksInboundOptions.builder()
 *     .authenticator(Authenticator.of(new Credentials("alice", "s3cret")))  // RFC 1929
 *     .socks4(false)                                                         // SOCKS4 cannot authenticate
 *     .build();
 * }</pre>
 */
public final class SocksInboundOptions {
  private static final SocksInboundOptions DEFAULTS = builder().build();

  private final Authenticator authenticator;
  private final boolean socks4;

  private SocksInboundOptions(Builder b) {
    this.authenticator = b.authenticator;
    this.socks4 = b.socks4;
  }

  /** No authentication; SOCKS4, 4a and 5 accepted. */
  public static SocksInboundOptions defaults() {
    return DEFAULTS;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The authenticator; when present SOCKS5 clients must use username/password and SOCKS4 is refused. */
  public Optional<Authenticator> authenticator() {
    return Optional.ofNullable(authenticator);
  }

  /** Whether SOCKS4 and 4a requests are accepted (never when authentication is required). */
  public boolean socks4() {
    return socks4 && authenticator == null;
  }

  @Override
  public String toString() {
    return "SocksInboundOptions[auth=" + (authenticator != null) + ", socks4=" + socks4() + "]";
  }

  /** Builds {@link SocksInboundOptions}. */
  public static final class Builder {
    private Authenticator authenticator;
    private boolean socks4 = true;

    private Builder() {}

    /** Requires RFC 1929 username/password checked by this authenticator. */
    public Builder authenticator(Authenticator value) {
      this.authenticator = requireNonNull(value, "authenticator");
      return this;
    }

    /** Accept SOCKS4/4a (default true; ignored when an authenticator is set). */
    public Builder socks4(boolean value) {
      this.socks4 = value;
      return this;
    }

    public SocksInboundOptions build() {
      return new SocksInboundOptions(this);
    }
  }
}
