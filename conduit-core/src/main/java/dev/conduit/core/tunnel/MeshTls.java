package dev.conduit.core.tunnel;

import dev.conduit.core.pki.Pem;
import dev.conduit.core.pki.ReloadingTlsMaterial;
import dev.conduit.core.pki.TlsMaterial;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;
import javax.net.ssl.SSLException;
import java.util.function.Consumer;

/**
 * The TLS contexts of a {@link MeshPlan}'s tunnels, from {@link TunnelTls}' PEM file paths: mutual TLS
 * contexts that reload when the files change (their watchers are added to the plan's, closed with it),
 * server-only and client-only TLS, and the multiplexing client's ALPN.
 */
final class MeshTls {
  /** ALPN of a tunnel server (as {@link TlsMaterial#tunnelServerContext()}) and of a multiplexing client. */
  private static final ApplicationProtocolConfig SERVER_H2 = new ApplicationProtocolConfig(
      ApplicationProtocolConfig.Protocol.ALPN, ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
      ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, "h2", "http/1.1");
  private static final ApplicationProtocolConfig CLIENT_H2 = new ApplicationProtocolConfig(
      ApplicationProtocolConfig.Protocol.ALPN, ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
      ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, "h2");

  private final Duration checkInterval;
  private final List<AutoCloseable> watchers;
  private final Consumer<String> warn;
  /** The watched materials by the name {@link MeshPlan#certificates()} gives them. */
  final java.util.Map<String, ReloadingTlsMaterial> watched = new java.util.LinkedHashMap<>();

  MeshTls(Duration checkInterval, List<AutoCloseable> watchers, Consumer<String> warn) {
    this.checkInterval = checkInterval;
    this.watchers = watchers;
    this.warn = warn;
  }

  /**
   * The client context of a peer's tunnels, or null for plain TCP.
   *
   * @param name the name {@link MeshPlan#certificates()} gives a mutual TLS certificate
   * @param where how errors name the settings
   */
  Supplier<SslContext> client(TunnelTls tls, boolean multiplex, String name, String where) throws IOException {
    if (tls == null) {
      return null;
    }
    if (tls.insecureSkipVerify()) {
      warn(where + ": insecure_skip_verify: the peer's certificate is not verified (testing only)");
    }
    if (tls.mutual()) {
      ReloadingTlsMaterial files = watch(tls.certificate().orElseThrow(), tls.key().orElseThrow(),
          tls.trust().orElseThrow(), name, where);
      if (!tls.insecureSkipVerify()) {
        return multiplex ? files::multiplexClientContext : files::clientContext;
      }
      return derived(files, m -> build(SslContextBuilder.forClient().keyManager(m.privateKey(), m.certificateChain())
          .trustManager(InsecureTrustManagerFactory.INSTANCE), multiplex ? CLIENT_H2 : null));
    }
    // TLS without a client certificate: loaded once, nothing secret to renew
    SslContextBuilder b = SslContextBuilder.forClient();
    if (tls.certificate().isPresent()) {
      b.keyManager(Pem.readPrivateKey(tls.key().orElseThrow()), Pem.readCertificates(tls.certificate().get()));
    }
    if (tls.insecureSkipVerify()) {
      b.trustManager(InsecureTrustManagerFactory.INSTANCE);
    } else if (tls.trust().isPresent()) {
      b.trustManager(Pem.readCertificates(tls.trust().get()));
    }
    SslContext context = build(b, multiplex ? CLIENT_H2 : null);
    return () -> context;
  }

  /** The tunnel server's context, or null for plain TCP. */
  Supplier<SslContext> server(TunnelTls tls, String name, String where) throws IOException {
    if (tls == null) {
      return null;
    }
    if (tls.certificate().isEmpty()) {
      throw new IllegalArgumentException(where + ": no certificate (expected: the server's certificate and key)");
    }
    Path cert = tls.certificate().get();
    Path key = tls.key().orElseThrow();
    if (tls.mutual()) {
      return watch(cert, key, tls.trust().orElseThrow(), name, where)::tunnelServerContext;
    }
    // server authentication only: the trust file is not used, the certificate file stands in for it
    ReloadingTlsMaterial files = watch(cert, key, tls.trust().orElse(cert), name, where);
    return derived(files, m -> build(SslContextBuilder.forServer(m.privateKey(), m.certificateChain()), SERVER_H2));
  }

  private ReloadingTlsMaterial watch(Path cert, Path key, Path trust, String name, String where) throws IOException {
    ReloadingTlsMaterial files;
    try {
      files = ReloadingTlsMaterial.builder(cert, key, trust).checkInterval(checkInterval).build();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
    }
    watchers.add(files);
    watched.put(name, files);
    return files;
  }

  /** A context made from the watched material, remade when the files were reloaded. */
  private static Supplier<SslContext> derived(ReloadingTlsMaterial files, Function<TlsMaterial, SslContext> make) {
    SslContext first = make.apply(files.material());
    return new Supplier<>() {
      private TlsMaterial material = files.material();
      private SslContext context = first;

      @Override
      public synchronized SslContext get() {
        TlsMaterial now = files.material();
        if (now != material) {
          context = make.apply(now);
          material = now;
        }
        return context;
      }
    };
  }

  private static SslContext build(SslContextBuilder b, ApplicationProtocolConfig alpn) {
    try {
      return b.sslProvider(TlsMaterial.preferredProvider()).protocols(TlsMaterial.PROTOCOLS)
          .applicationProtocolConfig(alpn).build();
    } catch (SSLException e) {
      throw new IllegalArgumentException("TLS context: " + e.getMessage(), e);
    }
  }

  private void warn(String message) {
    warn.accept(message);
  }
}
