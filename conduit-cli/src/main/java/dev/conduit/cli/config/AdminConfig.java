package dev.conduit.cli.config;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.runtime.SectionKey;
import java.util.Locale;
import java.util.Optional;

/**
 * The admin endpoint ({@code admin} section, {@code --admin-listen}): metrics, health, connections and
 * the effective configuration over HTTP, or HTTPS with {@code tls_cert}/{@code tls_key}.
 *
 * @param listen {@code ip:port} to bind (default {@value #DEFAULT_LISTEN})
 * @param token the bearer token every request must carry, if any (masked in {@link #toString()})
 * @param tokenFile a file holding the token (read at start-up), if any
 * @param tlsCert the endpoint's certificate chain (PEM): it then serves HTTPS only
 * @param tlsKey the endpoint's private key (PEM), with {@code tlsCert}
 * @param clientCa CA certificates (PEM) of the client certificates the endpoint accepts, if any
 * @param clientCertificates {@code none}, {@code optional} (a verified certificate stands in for the token) or
 *     {@code required} (handshakes without one fail); {@code optional} by default with a {@code clientCa}
 */
public record AdminConfig(String listen, Optional<String> token, Optional<String> tokenFile, Optional<String> tlsCert,
    Optional<String> tlsKey, Optional<String> clientCa, String clientCertificates) implements YamlSection {

  /** The section's key. */
  public static final SectionKey<AdminConfig> SECTION = SectionKey.of("admin", AdminConfig.class);

  /** The default bind address: loopback only. */
  public static final String DEFAULT_LISTEN = "127.0.0.1:9090";

  /** Validates the combination of keys. */
  public AdminConfig {
    requireNonNull(listen, "listen");
    requireNonNull(token, "token");
    requireNonNull(tokenFile, "tokenFile");
    requireNonNull(tlsCert, "tlsCert");
    requireNonNull(tlsKey, "tlsKey");
    requireNonNull(clientCa, "clientCa");
    requireNonNull(clientCertificates, "clientCertificates");
    if (token.isPresent() && tokenFile.isPresent()) {
      throw new IllegalArgumentException("token and token_file both set (expected: one of them)");
    }
    if (tlsCert.isPresent() != tlsKey.isPresent()) {
      throw new IllegalArgumentException((tlsCert.isPresent() ? "tls_cert without tls_key" : "tls_key without tls_cert")
          + " (expected: both)");
    }
    if (clientCa.isPresent() && tlsCert.isEmpty()) {
      throw new IllegalArgumentException("client_ca without tls_cert/tls_key (expected: client certificates over TLS)");
    }
    clientCertificates = clientCertificates.toLowerCase(Locale.ROOT);
    if (clientCertificates.isEmpty()) {
      clientCertificates = clientCa.isPresent() ? "optional" : "none";
    }
    if (!clientCertificates.equals("none") && !clientCertificates.equals("optional")
        && !clientCertificates.equals("required")) {
      throw new IllegalArgumentException("client_certificates: " + clientCertificates
          + " (expected: none, optional or required)");
    }
    if (!clientCertificates.equals("none") && clientCa.isEmpty()) {
      throw new IllegalArgumentException("client_certificates: " + clientCertificates + " without client_ca"
          + " (expected: client_ca, the CA that issues them)");
    }
  }

  /**
   * The endpoint without TLS.
   *
   * @param listen {@code ip:port} to bind
   * @param token the bearer token, if any
   * @param tokenFile a file holding the token, if any
   */
  public AdminConfig(String listen, Optional<String> token, Optional<String> tokenFile) {
    this(listen, token, tokenFile, Optional.empty(), Optional.empty(), Optional.empty(), "");
  }

  /**
   * On {@code listen}, no token, no TLS.
   *
   * @param listen {@code ip:port} to bind
   * @return the config
   */
  public static AdminConfig of(String listen) {
    return new AdminConfig(listen, Optional.empty(), Optional.empty());
  }

  @Override
  public void describeTo(StringBuilder s) {
    s.append("admin:\n  listen: ").append(ConduitConfig.quote(listen)).append('\n');
    token.ifPresent(t -> s.append("  token: \"****\"\n"));
    tokenFile.ifPresent(t -> s.append("  token_file: ").append(ConduitConfig.quote(t)).append('\n'));
    tlsCert.ifPresent(t -> s.append("  tls_cert: ").append(ConduitConfig.quote(t)).append('\n'));
    tlsKey.ifPresent(t -> s.append("  tls_key: ").append(ConduitConfig.quote(t)).append('\n'));
    clientCa.ifPresent(t -> s.append("  client_ca: ").append(ConduitConfig.quote(t)).append('\n'));
    if (clientCa.isPresent()) {
      s.append("  client_certificates: ").append(clientCertificates).append('\n');
    }
  }

  @Override
  public String toString() {
    return "AdminConfig[listen=" + listen + ", token=" + token.map(t -> "****").orElse("none") + ", tokenFile="
        + tokenFile.orElse("none") + ", tlsCert=" + tlsCert.orElse("none") + ", clientCa=" + clientCa.orElse("none")
        + ", clientCertificates=" + clientCertificates + "]";
  }
}
