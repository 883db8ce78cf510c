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
import javax.net.ssl.TrustManager;

/**
 * The push channel's one TLS set-up, for the server ({@code PushServer}) and the agent ({@code PushClient}) alike:
 * a {@link Setup} says which end it is, how the peer is verified and whether it must present a certificate; one
 * method turns it and the current {@link TlsMaterial} into a context with what both ends speak (the
 * {@linkplain TlsMaterial#preferredProvider() preferred provider}, {@link TlsMaterial#PROTOCOLS}, and
 * {@link TlsMaterial#KEY_EXCHANGE_GROUPS} with OpenSSL; the provider's default cipher suites). A context is rebuilt
 * only when the supplier returns new material (a renewed certificate), and contexts of equal set-up and material
 * are shared in the process: many agents in one process cost one context and share its TLS session cache.
 */
public final class TlsContexts {

  /**
   * Which end, and how it checks the peer.
   *
   * @param server whether this is the server end (it presents the material's certificate)
   * @param clientAuth the server's demand for a client certificate (verified against the material's trust roots)
   * @param trustAnchors the CA certificates a client verifies the server against (when no verifier)
   * @param verifyHostname whether a client checks the server's name against the dialled host
   * @param verifier a client's own check of the server's chain, in place of anchors and host name; or null
   */
  public record Setup(boolean server, ClientAuth clientAuth, List<X509Certificate> trustAnchors,
      boolean verifyHostname, TrustManager verifier) {}

  private static final Map<Key, SslContext> SHARED = new ConcurrentHashMap<>();
  private static final int MAX_SHARED = 64;

  private record Key(Setup setup, TlsMaterial material) {}

  private final Supplier<TlsMaterial> material;
  private final Setup setup;
  private TlsMaterial built;
  private SslContext context;

  private TlsContexts(Supplier<TlsMaterial> material, Setup setup) {
    this.material = material;
    this.setup = setup;
  }

  /** Server contexts: the certificate of {@code material}, clients verified against its trust roots. */
  public static TlsContexts server(Supplier<TlsMaterial> material, boolean clientCertificateRequired) {
    return new TlsContexts(material, new Setup(true,
        clientCertificateRequired ? ClientAuth.REQUIRE : ClientAuth.OPTIONAL, List.of(), false, null));
  }

  /**
   * Client contexts trusting {@code trustAnchors} only, presenting the certificate of {@code material} when it is
   * not null.
   */
  public static TlsContexts client(Supplier<TlsMaterial> material, List<X509Certificate> trustAnchors,
      boolean verifyHostname) {
    return new TlsContexts(material, new Setup(false, ClientAuth.NONE, List.copyOf(trustAnchors), verifyHostname,
        null));
  }

  /**
   * Client contexts whose server chain {@code verifier} checks (in place of trust anchors and the host name),
   * presenting the certificate of {@code material}.
   */
  public static TlsContexts client(Supplier<TlsMaterial> material, TrustManager verifier) {
    return new TlsContexts(material, new Setup(false, ClientAuth.NONE, List.of(), false, verifier));
  }

  /** Returns the set-up. */
  public Setup setup() {
    return setup;
  }

  /** Returns the context for the current material. */
  public synchronized SslContext get() {
    TlsMaterial now = material == null ? null : material.get();
    if (context == null || now != built) {
      context = shared(setup, now);
      built = now;
    }
    return context;
  }

  private static SslContext shared(Setup setup, TlsMaterial material) {
    Key key = new Key(setup, material);
    SslContext existing = SHARED.get(key);
    if (existing != null) {
      return existing;
    }
    if (SHARED.size() >= MAX_SHARED) {
      SHARED.clear(); // renewed material leaves old keys behind; start over rather than grow
    }
    return SHARED.computeIfAbsent(key, k -> build(setup, material));
  }

  /** Builds the context of {@code setup} with {@code material} (null: a client presenting no certificate). */
  static SslContext build(Setup setup, TlsMaterial material) {
    SslProvider provider = TlsMaterial.preferredProvider();
    try {
      SslContextBuilder builder;
      if (setup.server()) {
        builder = SslContextBuilder.forServer(material.privateKey(), material.certificateChain())
            .trustManager(material.trustedCertificates())
            .clientAuth(setup.clientAuth());
      } else {
        builder = SslContextBuilder.forClient();
        if (material != null) {
          builder.keyManager(material.privateKey(), material.certificateChain());
        }
        if (setup.verifier() != null) {
          builder.trustManager(setup.verifier());
        } else {
          builder.trustManager(setup.trustAnchors())
              .endpointIdentificationAlgorithm(setup.verifyHostname() ? "HTTPS" : null);
        }
      }
      builder.sslProvider(provider).protocols(TlsMaterial.PROTOCOLS);
      if (provider != SslProvider.JDK) {
        builder.option(OpenSslContextOption.GROUPS, TlsMaterial.KEY_EXCHANGE_GROUPS.toArray(String[]::new));
      }
      return builder.build();
    } catch (SSLException e) {
      throw new IllegalStateException((setup.server() ? "server" : "client") + " SslContext: " + e.getMessage(), e);
    }
  }
}
