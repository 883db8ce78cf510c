package dev.conduit.core.tunnel;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The TLS of one side of a tunnel, as PEM files that are re-read when they change: this side's certificate chain
 * and key, the CA certificates peers are verified against, whether both sides present certificates, and (client
 * side, testing only) whether the server's certificate goes unverified.
 *
 * <pre>{@code
 * TunnelTls tls = TunnelTls.builder().certificate(Path.of("a.pem"), Path.of("a.key")).trust(Path.of("ca.pem"))
 *     .mutual(true).build();
 * }</pre>
 */
public final class TunnelTls {
  private final @Nullable Path certificate;
  private final @Nullable Path key;
  private final @Nullable Path trust;
  private final boolean mutual;
  private final boolean insecureSkipVerify;

  private TunnelTls(Builder b) {
    this.certificate = b.certificate;
    this.key = b.key;
    this.trust = b.trust;
    this.mutual = b.mutual;
    this.insecureSkipVerify = b.insecureSkipVerify;
  }

  /** Returns a builder; nothing is set. */
  public static Builder builder() {
    return new Builder();
  }

  /** This side's PEM certificate chain, leaf first, if it presents one. */
  public Optional<Path> certificate() {
    return Optional.ofNullable(certificate);
  }

  /** This side's PEM private key (PKCS#8, SEC1 EC or PKCS#1 RSA), with {@link #certificate()}. */
  public Optional<Path> key() {
    return Optional.ofNullable(key);
  }

  /** The PEM file of the CA certificate(s) peers are verified against, if any. */
  public Optional<Path> trust() {
    return Optional.ofNullable(trust);
  }

  /** Whether both sides present certificates issued under {@link #trust()}. */
  public boolean mutual() {
    return mutual;
  }

  /** Whether a client accepts any server certificate (testing only; a plan logs it as a WARN). */
  public boolean insecureSkipVerify() {
    return insecureSkipVerify;
  }

  @Override
  public String toString() {
    // paths only: the key itself never enters a configuration
    return "TunnelTls[certificate=" + certificate + ", key=" + key + ", trust=" + trust + ", mutual=" + mutual
        + (insecureSkipVerify ? ", insecureSkipVerify" : "") + "]";
  }

  /** Builds a {@link TunnelTls}. */
  public static final class Builder {
    private @Nullable Path certificate;
    private @Nullable Path key;
    private @Nullable Path trust;
    private boolean mutual;
    private boolean insecureSkipVerify;

    private Builder() {}

    /** This side's certificate chain and private key (PEM files). */
    public Builder certificate(Path certificateFile, Path keyFile) {
      this.certificate = requireNonNull(certificateFile, "certificateFile");
      this.key = requireNonNull(keyFile, "keyFile");
      return this;
    }

    /** The CA certificate(s) peers are verified against (one PEM file). */
    public Builder trust(Path caFile) {
      this.trust = requireNonNull(caFile, "caFile");
      return this;
    }

    /** Both sides present certificates (default false). */
    public Builder mutual(boolean value) {
      this.mutual = value;
      return this;
    }

    /** Client side: accept any server certificate (testing only; default false). */
    public Builder insecureSkipVerify(boolean value) {
      this.insecureSkipVerify = value;
      return this;
    }

    /**
     * Builds the settings.
     *
     * @throws IllegalArgumentException if mutual TLS lacks this side's certificate or the trusted CA file
     */
    public TunnelTls build() {
      if (mutual && (certificate == null || trust == null)) {
        throw new IllegalArgumentException("tls: mutual without " + (certificate == null ? "a certificate" : "trust")
            + " (expected: certificate(cert, key) and trust(ca) when mutual)");
      }
      return new TunnelTls(this);
    }
  }
}
