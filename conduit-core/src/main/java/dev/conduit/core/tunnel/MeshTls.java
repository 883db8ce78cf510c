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
 * The TLS contexts of a {@link MeshPlan}'s tunnels, from the configuration's PEM file paths: mutual TLS
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
  /** The watched materials by where they were configured ({@code server.listen.tls}, {@code client.peers[0].tls}). */
  final java.util.Map<String, ReloadingTlsMaterial> watched = new java.util.LinkedHashMap<>();

  MeshTls(Duration checkInterval, List<AutoCloseable> watchers, Consumer<String> warn) {
    this.checkInterval = checkInterval;
    this.watchers = watchers;
    this.warn = warn;
  }

  Supplier<SslContext> client(MeshConfig.Tls tls, String where) throws IOException {
    if (tls == null || !tls.enable()) {
      return null;
    }
    if (tls.cas().size() > 1) {
      throw new IllegalArgumentException(where + ".cas: " + tls.cas().size() + " files (expected: one PEM file; "
          + "concatenate the CA certificates)");
    }
    if (tls.certs().size() > 1) {
      throw new IllegalArgumentException(where + ".certs: " + tls.certs().size() + " pairs (expected: one)");
    }
    if (tls.insecureSkipVerify()) {
      warn(where + ".insecure_skip_verify: true: the peer's certificate is not verified (testing only)");
    }
    if (tls.mtls()) {
      if (tls.certs().isEmpty() || tls.cas().isEmpty()) {
        throw new IllegalArgumentException(where + ": mtls needs certs (this side's certificate and key) and cas");
      }
      MeshConfig.CertKey ck = tls.certs().get(0);
      ReloadingTlsMaterial files = watch(ck, tls.cas().get(0), where);
      if (!tls.insecureSkipVerify()) {
        return tls.multiplex() ? files::multiplexClientContext : files::clientContext;
      }
      return derived(files, m -> build(SslContextBuilder.forClient().keyManager(m.privateKey(), m.certificateChain())
          .trustManager(InsecureTrustManagerFactory.INSTANCE), tls.multiplex() ? CLIENT_H2 : null));
    }
    // TLS without a client certificate: loaded once, nothing secret to renew
    SslContextBuilder b = SslContextBuilder.forClient();
    if (!tls.certs().isEmpty()) {
      MeshConfig.CertKey ck = tls.certs().get(0);
      b.keyManager(Pem.readPrivateKey(path(ck.key(), where + ".certs[0].key")),
          Pem.readCertificates(path(ck.cert(), where + ".certs[0].cert")));
    }
    if (tls.insecureSkipVerify()) {
      b.trustManager(InsecureTrustManagerFactory.INSTANCE);
    } else if (!tls.cas().isEmpty()) {
      b.trustManager(Pem.readCertificates(path(tls.cas().get(0), where + ".cas[0]")));
    }
    SslContext context = build(b, tls.multiplex() ? CLIENT_H2 : null);
    return () -> context;
  }

  Supplier<SslContext> server(MeshConfig.Tls tls, String where) throws IOException {
    if (tls == null || !tls.enable()) {
      return null;
    }
    if (tls.certs().size() != 1) {
      throw new IllegalArgumentException(where + ".certs: " + tls.certs().size() + " pairs (expected: one {cert, key})");
    }
    if (tls.cas().size() > 1) {
      throw new IllegalArgumentException(where + ".cas: " + tls.cas().size() + " files (expected: one PEM file; "
          + "concatenate the CA certificates)");
    }
    if (tls.multiplex()) {
      throw new IllegalArgumentException(where + ".multiplex: true (expected: only in client peers[].tls; the "
          + "server offers HTTP/2 and HTTP/1.1 and each client's ALPN decides)");
    }
    MeshConfig.CertKey ck = tls.certs().get(0);
    if (tls.mtls()) {
      if (tls.cas().isEmpty()) {
        throw new IllegalArgumentException(where + ".cas: empty (expected: the CA file client certificates are "
            + "verified against when mtls is true)");
      }
      return watch(ck, tls.cas().get(0), where)::tunnelServerContext;
    }
    // server authentication only: the trust file is not used, the certificate file stands in for it
    ReloadingTlsMaterial files = watch(ck, tls.cas().isEmpty() ? ck.cert() : tls.cas().get(0), where);
    return derived(files, m -> build(SslContextBuilder.forServer(m.privateKey(), m.certificateChain()), SERVER_H2));
  }

  private ReloadingTlsMaterial watch(MeshConfig.CertKey ck, String trust, String where) throws IOException {
    if (ck == null) {
      throw new IllegalArgumentException(where + ".certs[0]: empty (expected: {cert, key})");
    }
    ReloadingTlsMaterial files;
    try {
      files = ReloadingTlsMaterial.builder(path(ck.cert(), where + ".certs[0].cert"),
          path(ck.key(), where + ".certs[0].key"), path(trust, where + ".cas[0]"))
          .checkInterval(checkInterval).build();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
    }
    watchers.add(files);
    watched.put(where, files);
    return files;
  }

  private static Path path(String file, String where) {
    if (file == null || file.isBlank()) {
      throw new IllegalArgumentException(where + ": empty (expected: a PEM file path)");
    }
    return Path.of(file);
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
