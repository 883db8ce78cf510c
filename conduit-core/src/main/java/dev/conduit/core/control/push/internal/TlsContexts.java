package dev.conduit.core.control.push.internal;

import dev.conduit.core.pki.TlsMaterial;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSslContextOption;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import javax.net.ssl.SSLException;

/**
 * Builds the push channel's TLS contexts from conduit's {@link TlsMaterial}, rebuilding one only when the
 * supplier returns new material (a renewed certificate).
 */
public final class TlsContexts {

  private final Supplier<TlsMaterial> material;
  private final boolean server;
  private final boolean clientCertificateRequired;
  private final List<X509Certificate> trustAnchors;
  private final boolean verifyHostname;
  private final javax.net.ssl.TrustManager verifier;
  private TlsMaterial built;
  private SslContext context;

  private TlsContexts(Supplier<TlsMaterial> material, boolean server, boolean clientCertificateRequired,
      List<X509Certificate> trustAnchors, boolean verifyHostname, javax.net.ssl.TrustManager verifier) {
    this.verifier = verifier;
    this.material = material;
    this.server = server;
    this.clientCertificateRequired = clientCertificateRequired;
    this.trustAnchors = trustAnchors;
    this.verifyHostname = verifyHostname;
  }

  /** Server contexts: the certificate of {@code material}, clients verified against its trust roots. */
  public static TlsContexts server(Supplier<TlsMaterial> material, boolean clientCertificateRequired) {
    return new TlsContexts(material, true, clientCertificateRequired, null, false, null);
  }

  /**
   * Client contexts trusting {@code trustAnchors} only, presenting the certificate of {@code material} when it is
   * not null.
   */
  public static TlsContexts client(Supplier<TlsMaterial> material, List<X509Certificate> trustAnchors,
      boolean verifyHostname) {
    return new TlsContexts(material, false, false, List.copyOf(trustAnchors), verifyHostname, null);
  }

  /**
   * Client contexts whose server chain {@code verifier} checks (in place of trust anchors and the host name),
   * presenting the certificate of {@code material}.
   */
  public static TlsContexts client(Supplier<TlsMaterial> material, javax.net.ssl.TrustManager verifier) {
    return new TlsContexts(material, false, false, List.of(), false, verifier);
  }

  /** Returns the context for the current material. */
  public synchronized SslContext get() {
    TlsMaterial now = material == null ? null : material.get();
    if (context == null || now != built) {
      context = server ? build(now) : shared(now);
      built = now;
    }
    return context;
  }

  /** Client contexts with the same material and anchors are shared: many agents in one process cost one. */
  private record ClientKey(TlsMaterial material, List<X509Certificate> trustAnchors, boolean verifyHostname,
      javax.net.ssl.TrustManager verifier) {}

  private static final Map<ClientKey, SslContext> CLIENT_CONTEXTS = new ConcurrentHashMap<>();
  private static final int MAX_SHARED = 64;

  private SslContext shared(TlsMaterial m) {
    ClientKey key = new ClientKey(m, trustAnchors, verifyHostname, verifier);
    SslContext existing = CLIENT_CONTEXTS.get(key);
    if (existing != null) {
      return existing;
    }
    if (CLIENT_CONTEXTS.size() >= MAX_SHARED) {
      CLIENT_CONTEXTS.clear(); // renewed material leaves old keys behind; start over rather than grow
    }
    return CLIENT_CONTEXTS.computeIfAbsent(key, k -> build(m));
  }

  private SslContext build(TlsMaterial m) {
    SslProvider provider = TlsMaterial.preferredProvider();
    try {
      SslContextBuilder builder;
      if (server) {
        builder = SslContextBuilder.forServer(m.privateKey(), m.certificateChain())
            .trustManager(m.trustedCertificates())
            .clientAuth(clientCertificateRequired ? ClientAuth.REQUIRE : ClientAuth.OPTIONAL);
      } else {
        builder = verifier != null ? SslContextBuilder.forClient().trustManager(verifier)
            : SslContextBuilder.forClient().trustManager(trustAnchors)
                .endpointIdentificationAlgorithm(verifyHostname ? "HTTPS" : null);
        if (m != null) {
          builder.keyManager(m.privateKey(), m.certificateChain());
        }
      }
      builder.sslProvider(provider).protocols(TlsMaterial.PROTOCOLS);
      if (provider != SslProvider.JDK) {
        builder.option(OpenSslContextOption.GROUPS, TlsMaterial.KEY_EXCHANGE_GROUPS.toArray(String[]::new));
      }
      return builder.build();
    } catch (SSLException e) {
      throw new IllegalStateException((server ? "server" : "client") + " SslContext: " + e.getMessage(), e);
    }
  }
}
