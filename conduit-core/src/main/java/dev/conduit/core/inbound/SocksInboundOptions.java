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
 *     .udpAssociate(true)                                                    // relay UDP too
 *     .build();
 * }</pre>
 */
public final class SocksInboundOptions {
  private static final SocksInboundOptions DEFAULTS = builder().build();

  private final Authenticator authenticator;
  private final boolean socks4;
  private final boolean udpAssociate;

  private SocksInboundOptions(Builder b) {
    this.authenticator = b.authenticator;
    this.socks4 = b.socks4;
    this.udpAssociate = b.udpAssociate;
  }

  /** No authentication; SOCKS4, 4a and 5 accepted; no UDP relay. */
  public static SocksInboundOptions defaults() {
    return DEFAULTS;
  }

  /** A builder starting from the defaults. */
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

  /** Whether SOCKS5 {@code UDP ASSOCIATE} is served (a UDP relay per association); see {@link Builder#udpAssociate}. */
  public boolean udpAssociate() {
    return udpAssociate;
  }

  @Override
  public String toString() {
    return "SocksInboundOptions[auth=" + (authenticator != null) + ", socks4=" + socks4() + ", udp=" + udpAssociate + "]";
  }

  /** Builds {@link SocksInboundOptions}. */
  public static final class Builder {
    private Authenticator authenticator;
    private boolean socks4 = true;
    private boolean udpAssociate;

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

    /**
     * Serve SOCKS5 {@code UDP ASSOCIATE} (RFC 1928 §7; default false, which answers "command not supported").
     * Each association gets a UDP port on the address the client connected to, lives as long as its TCP
     * connection, and takes datagrams only from the client's address. Every datagram's destination is routed
     * by the rules in force: rejected ones, and ones a rule sends through an outbound with hops (UDP goes
     * direct only), are dropped. Replies are passed back only from addresses the client has sent to.
     * Fragmented datagrams ({@code FRAG} other than 0) are dropped, as the RFC allows.
     */
    public Builder udpAssociate(boolean value) {
      this.udpAssociate = value;
      return this;
    }

    /** Builds the immutable {@code SocksInboundOptions}. */
    public SocksInboundOptions build() {
      return new SocksInboundOptions(this);
    }
  }
}
