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
  private final boolean connectOnly;

  private HttpInboundOptions(Builder b) {
    this.authenticator = b.authenticator;
    this.realm = b.realm;
    this.maxInitialLineLength = b.maxInitialLineLength;
    this.maxHeaderSize = b.maxHeaderSize;
    this.connectOnly = b.connectOnly;
  }

  /** No authentication, 8 KiB request line, 64 KiB headers, forwarding and {@code CONNECT}. */
  public static HttpInboundOptions defaults() {
    return DEFAULTS;
  }

  /** A builder starting from the defaults. */
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

  /** Whether only {@code CONNECT} is accepted (other methods: 405), as a tunnel server wants. */
  public boolean connectOnly() {
    return connectOnly;
  }

  @Override
  public String toString() {
    return "HttpInboundOptions[auth=" + (authenticator != null) + ", realm=" + realm
        + ", maxInitialLineLength=" + maxInitialLineLength + ", maxHeaderSize=" + maxHeaderSize
        + ", connectOnly=" + connectOnly + "]";
  }

  /** Builds {@link HttpInboundOptions}. */
  public static final class Builder {
    private Authenticator authenticator;
    private String realm = "conduit";
    private int maxInitialLineLength = 8192;
    private int maxHeaderSize = 65536;
    private boolean connectOnly;

    private Builder() {}

    /** Requires {@code Proxy-Authorization: Basic} credentials this authenticator accepts. */
    public Builder authenticator(Authenticator value) {
      this.authenticator = requireNonNull(value, "authenticator");
      return this;
    }

    /** The realm sent in {@code Proxy-Authenticate}; no quotes, backslashes or control characters. */
    public Builder realm(String value) {
      requireNonNull(value, "realm");
      for (int i = 0; i < value.length(); i++) {
        char c = value.charAt(i);
        if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f) {
          throw new IllegalArgumentException("realm: " + value + " (expected: no quotes, backslashes or control characters)");
        }
      }
      this.realm = value;
      return this;
    }

    /** Accepts only {@code CONNECT}; other methods get 405 (default: false). */
    public Builder connectOnly(boolean value) {
      this.connectOnly = value;
      return this;
    }

    /** The longest request line accepted, at least 256 (default 8192); longer gets 414. */
    public Builder maxInitialLineLength(int value) {
      if (value < 256) {
        throw new IllegalArgumentException("maxInitialLineLength: " + value + " (expected: >= 256)");
      }
      this.maxInitialLineLength = value;
      return this;
    }

    /** The largest header block accepted, at least 1024 (default 65536); larger gets 431. */
    public Builder maxHeaderSize(int value) {
      if (value < 1024) {
        throw new IllegalArgumentException("maxHeaderSize: " + value + " (expected: >= 1024)");
      }
      this.maxHeaderSize = value;
      return this;
    }

    /** The options. */
    public HttpInboundOptions build() {
      return new HttpInboundOptions(this);
    }
  }
}
