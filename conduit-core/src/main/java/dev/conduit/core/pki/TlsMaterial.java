package dev.conduit.core.pki;

import static java.util.Objects.requireNonNull;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolConfig.Protocol;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectedListenerFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectorFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslContextOption;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLException;

/**
 * The key, certificate chain and trust roots of one mesh node, and the Netty {@link SslContext}s for mutual
 * TLS built from them: a server that requires a client certificate issued under the trust roots, and a client
 * that presents its certificate and trusts only the roots. Both speak TLS 1.3 and 1.2 and configure no ALPN, so
 * they work with any {@code SslProvider} whether or not it supports ALPN.
 *
 * <p>The contexts use {@link #preferredProvider()}: OpenSSL/BoringSSL through netty-tcnative when it is on the
 * module or class path and loads on this platform, the JDK's provider otherwise. Keys are whatever the
 * certificate carries; {@link CertificateAuthority} issues ECDSA P-256, which both providers handle.
 *
 * <p>Session resumption: a client context keeps the sessions (TLS 1.3 tickets) servers give it, per peer host
 * and port, when handlers are made with {@link SslContext#newHandler(io.netty.buffer.ByteBufAllocator, String,
 * int)}; the next connection to that peer resumes one instead of signing and verifying certificates again. Reuse
 * one client context for all connections (a new context starts with an empty cache). Server contexts issue
 * tickets with both providers.
 *
 * <p>Immutable. For certificates that are renewed on disk, see {@link ReloadingTlsMaterial}.
 */
public final class TlsMaterial {

  /** The protocols the contexts enable; the highest one both sides support is negotiated. */
  public static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

  /**
   * The key exchange groups the OpenSSL contexts offer, in order: X25519, then P-256, as the JDK's provider and
   * OpenSSL 3.0 do. BoringSSL's default puts the post-quantum hybrid X25519MLKEM768 first, whose larger key
   * shares and ML-KEM operations cost each handshake (resumed ones too) more CPU than the rest of it.
   */
  public static final List<String> KEY_EXCHANGE_GROUPS = List.of("x25519", "secp256r1");

  private static final SslProvider PREFERRED_PROVIDER = detectProvider();

  /** What a tunnel server offers: HTTP/2 for multiplexing clients, HTTP/1.1 for the others. */
  private static final ApplicationProtocolConfig TUNNEL_SERVER_ALPN = new ApplicationProtocolConfig(Protocol.ALPN,
      SelectorFailureBehavior.NO_ADVERTISE, SelectedListenerFailureBehavior.ACCEPT,
      ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1);

  /** What a multiplexing tunnel client asks for: HTTP/2 only (the dial fails when the server does not select it). */
  private static final ApplicationProtocolConfig MULTIPLEX_CLIENT_ALPN = new ApplicationProtocolConfig(Protocol.ALPN,
      SelectorFailureBehavior.NO_ADVERTISE, SelectedListenerFailureBehavior.ACCEPT, ApplicationProtocolNames.HTTP_2);

  private final PrivateKey privateKey;
  private final List<X509Certificate> certificateChain;
  private final List<X509Certificate> trustedCertificates;

  private TlsMaterial(PrivateKey privateKey, List<X509Certificate> certificateChain,
      List<X509Certificate> trustedCertificates) {
    this.privateKey = privateKey;
    this.certificateChain = List.copyOf(certificateChain);
    this.trustedCertificates = List.copyOf(trustedCertificates);
  }

  /**
   * Returns material for a key, its certificate chain (leaf first) and the trust roots peers are verified
   * against.
   *
   * @throws IllegalArgumentException if a list is empty or the key does not belong to the leaf certificate
   */
  public static TlsMaterial of(PrivateKey privateKey, List<X509Certificate> certificateChain,
      List<X509Certificate> trustedCertificates) {
    requireNonNull(privateKey, "privateKey");
    requireNonNull(certificateChain, "certificateChain");
    requireNonNull(trustedCertificates, "trustedCertificates");
    if (certificateChain.isEmpty()) {
      throw new IllegalArgumentException("certificateChain: empty (expected: the node certificate first)");
    }
    if (trustedCertificates.isEmpty()) {
      throw new IllegalArgumentException("trustedCertificates: empty (expected: at least one trust root)");
    }
    if (!Keys.matches(privateKey, certificateChain.get(0).getPublicKey())) {
      throw new IllegalArgumentException("privateKey: does not belong to the certificate "
          + certificateChain.get(0).getSubjectX500Principal());
    }
    return new TlsMaterial(privateKey, certificateChain, trustedCertificates);
  }

  /**
   * Returns material for an issued certificate with its generated key, trusting {@code trustedCertificates}.
   *
   * @throws IllegalArgumentException if the certificate has no private key
   */
  public static TlsMaterial of(IssuedCertificate issued, X509Certificate... trustedCertificates) {
    requireNonNull(issued, "issued");
    requireNonNull(trustedCertificates, "trustedCertificates");
    PrivateKey key = issued.privateKey().orElseThrow(() -> new IllegalArgumentException(
        "issued: has no private key (it was issued for a given public key)"));
    return of(key, issued.chain(), List.of(trustedCertificates));
  }

  /**
   * Loads material from PEM files: the certificate chain (leaf first), the private key (PKCS#8, SEC1 EC or
   * PKCS#1 RSA) and the trust roots (one or more certificates). Blocking file I/O: not on an event loop.
   *
   * @throws IllegalArgumentException if a file is malformed or the key does not belong to the certificate
   */
  public static TlsMaterial load(Path certificateFile, Path keyFile, Path trustFile) throws IOException {
    requireNonNull(certificateFile, "certificateFile");
    requireNonNull(keyFile, "keyFile");
    requireNonNull(trustFile, "trustFile");
    List<X509Certificate> chain = Pem.readCertificates(certificateFile);
    PrivateKey key = Pem.readPrivateKey(keyFile);
    List<X509Certificate> trusted = Pem.readCertificates(trustFile);
    try {
      return of(key, chain, trusted);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(certificateFile + ", " + keyFile + ": " + e.getMessage(), e);
    }
  }

  /**
   * Returns {@link SslProvider#OPENSSL} when netty-tcnative (e.g. {@code netty-tcnative-boringssl-static}) is
   * available and usable, else {@link SslProvider#JDK}. Decided once per process.
   */
  public static SslProvider preferredProvider() {
    return PREFERRED_PROVIDER;
  }

  private static SslProvider detectProvider() {
    try {
      if (OpenSsl.isAvailable() && SslProvider.isTlsv13Supported(SslProvider.OPENSSL)) {
        return SslProvider.OPENSSL;
      }
    } catch (LinkageError e) {
      // tcnative classes absent or not readable from this module layer: use the JDK
    }
    return SslProvider.JDK;
  }

  /** Returns the private key. */
  public PrivateKey privateKey() {
    return privateKey;
  }

  /** Returns the certificate chain, leaf first. */
  public List<X509Certificate> certificateChain() {
    return certificateChain;
  }

  /** Returns the leaf certificate. */
  public X509Certificate certificate() {
    return certificateChain.get(0);
  }

  /** Returns the trust roots peers are verified against. */
  public List<X509Certificate> trustedCertificates() {
    return trustedCertificates;
  }

  /**
   * Returns a server context that presents this certificate and requires every client to present a certificate
   * valid for client authentication under the trust roots; handshakes without one fail.
   */
  public SslContext serverContext() {
    return serverContext(PREFERRED_PROVIDER);
  }

  /** Returns a server context as {@link #serverContext()} made by {@code provider}. */
  public SslContext serverContext(SslProvider provider) {
    return serverContext(provider, null);
  }

  /**
   * Returns a server context as {@link #serverContext()} that also offers ALPN {@code h2} and {@code http/1.1},
   * for a {@link dev.conduit.core.tunnel.Tunnel#serverProtocol()} listener: multiplexing tunnel clients get
   * HTTP/2 (many tunnels over one connection), the others HTTP/1.1 as with {@link #serverContext()}. Do not
   * use it for listeners whose protocol speaks only HTTP/1.1 (an HTTPS proxy): clients offering {@code h2}
   * would get it.
   */
  public SslContext tunnelServerContext() {
    return tunnelServerContext(PREFERRED_PROVIDER);
  }

  /** Returns a server context as {@link #tunnelServerContext()} made by {@code provider}. */
  public SslContext tunnelServerContext(SslProvider provider) {
    return serverContext(provider, TUNNEL_SERVER_ALPN);
  }

  private SslContext serverContext(SslProvider provider, ApplicationProtocolConfig alpn) {
    requireNonNull(provider, "provider");
    try {
      return groups(SslContextBuilder.forServer(privateKey, certificateChain), provider)
          .applicationProtocolConfig(alpn)
          .trustManager(trustedCertificates)
          .clientAuth(ClientAuth.REQUIRE)
          .protocols(PROTOCOLS)
          .build();
    } catch (SSLException e) {
      throw new IllegalStateException("server SslContext: " + e.getMessage(), e);
    }
  }

  /**
   * Returns a client context that presents this certificate, trusts only the trust roots and verifies that the
   * server certificate matches the host given to {@link SslContext#newHandler(io.netty.buffer.ByteBufAllocator,
   * String, int)} (DNS or IP subject alternative name).
   */
  public SslContext clientContext() {
    return clientContext(true);
  }

  /**
   * Returns a client context as {@link #clientContext()}; with {@code verifyHostname} false the server's name is
   * not checked against the dialled host, so the caller must authorise the server by its {@link PeerIdentity}
   * after the handshake.
   */
  public SslContext clientContext(boolean verifyHostname) {
    return clientContext(verifyHostname, PREFERRED_PROVIDER);
  }

  /** Returns a client context as {@link #clientContext(boolean)} made by {@code provider}. */
  public SslContext clientContext(boolean verifyHostname, SslProvider provider) {
    return clientContext(verifyHostname, provider, null);
  }

  /**
   * Returns a client context as {@link #clientContext()} that asks for ALPN {@code h2}, for
   * {@link dev.conduit.core.tunnel.Tunnel#multiplexedClientHop} (the server must use a
   * {@link #tunnelServerContext()}).
   */
  public SslContext multiplexClientContext() {
    return multiplexClientContext(true, PREFERRED_PROVIDER);
  }

  /** Returns a client context as {@link #multiplexClientContext()}; see {@link #clientContext(boolean, SslProvider)}. */
  public SslContext multiplexClientContext(boolean verifyHostname, SslProvider provider) {
    return clientContext(verifyHostname, provider, MULTIPLEX_CLIENT_ALPN);
  }

  private SslContext clientContext(boolean verifyHostname, SslProvider provider, ApplicationProtocolConfig alpn) {
    requireNonNull(provider, "provider");
    try {
      return groups(SslContextBuilder.forClient(), provider)
          .applicationProtocolConfig(alpn)
          .keyManager(privateKey, certificateChain)
          .trustManager(trustedCertificates)
          .protocols(PROTOCOLS)
          .endpointIdentificationAlgorithm(verifyHostname ? "HTTPS" : null)
          .build();
    } catch (SSLException e) {
      throw new IllegalStateException("client SslContext: " + e.getMessage(), e);
    }
  }

  /** Sets the provider and, for OpenSSL, {@link #KEY_EXCHANGE_GROUPS}. */
  private static SslContextBuilder groups(SslContextBuilder builder, SslProvider provider) {
    builder.sslProvider(provider);
    if (provider != SslProvider.JDK) {
      builder.option(OpenSslContextOption.GROUPS, KEY_EXCHANGE_GROUPS.toArray(String[]::new));
    }
    return builder;
  }

  /** Describes the material without key material. */
  @Override
  public String toString() {
    return "TlsMaterial{certificate=" + certificate().getSubjectX500Principal()
        + ", notAfter=" + certificate().getNotAfter().toInstant()
        + ", chainLength=" + certificateChain.size() + ", trustedCertificates=" + trustedCertificates.size() + "}";
  }
}
