package dev.conduit.core.inbound;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Authenticator;
import java.util.Optional;

/**
 * Options of the HTTP proxy inbound protocol (absolute-form forwarding and {@code CONNECT}).
 *
 * <pre>{@code
 * HttpInboundOptions opts = HttpInboundOptions.builder()
 *     .authenticator(Authenticator.of(new Credentials("alice", "s3cret")))   // 407 without Basic credentials
 *     .realm("conduit")
 *     .build();
 * }</pre>
 */
public final class HttpInboundOptions {
  private static final HttpInboundOptions DEFAULTS = builder().build();

  private final Authenticator authenticator;
  private final String realm;
  private final int maxInitialLineLength;
  private final int maxHeaderSize;

  private HttpInboundOptions(Builder b) {
    this.authenticator = b.authenticator;
    this.realm = b.realm;
    this.maxInitialLineLength = b.maxInitialLineLength;
    this.maxHeaderSize = b.maxHeaderSize;
  }

  /** No authentication, 8 KiB request line, 64 KiB headers. */
  public static HttpInboundOptions defaults() {
    return DEFAULTS;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The authenticator; when present requests need {@code Proxy-Authorization: Basic}. */
  public Optional<Authenticator> authenticator() {
    return Optional.ofNullable(authenticator);
  }

  /** The realm sent in {@code Proxy-Authenticate}. */
  public String realm() {
    return realm;
  }

  /** The longest request line accepted (longer: 414). */
  public int maxInitialLineLength() {
    return maxInitialLineLength;
  }

  /** The largest header block accepted (larger: 431). */
  public int maxHeaderSize() {
    return maxHeaderSize;
  }

  @Override
  public String toString() {
    return "HttpInboundOptions[auth=" + (authenticator != null) + ", realm=" + realm + "]";
  }

  /** Builds {@link HttpInboundOptions}. */
  public static final class Builder {
    private Authenticator authenticator;
    private String realm = "conduit";
    private int maxInitialLineLength = 8192;
    private int maxHeaderSize = 65536;

    private Builder() {}

    public Builder authenticator(Authenticator value) {
      this.authenticator = requireNonNull(value, "authenticator");
      return this;
    }

    public Builder realm(String value) {
      this.realm = requireNonNull(value, "realm");
      return this;
    }

    public Builder maxInitialLineLength(int value) {
      if (value < 256) {
        throw new IllegalArgumentException("maxInitialLineLength: " + value + " (expected: >= 256)");
      }
      this.maxInitialLineLength = value;
      return this;
    }

    public Builder maxHeaderSize(int value) {
      if (value < 1024) {
        throw new IllegalArgumentException("maxHeaderSize: " + value + " (expected: >= 1024)");
      }
      this.maxHeaderSize = value;
      return this;
    }

    public HttpInboundOptions build() {
      return new HttpInboundOptions(this);
    }
  }
}
