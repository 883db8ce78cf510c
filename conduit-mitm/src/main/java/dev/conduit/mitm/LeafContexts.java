package dev.conduit.mitm;

import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.IssuedCertificate;
import dev.conduit.core.pki.TlsMaterial;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.concurrent.Promise;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * Server contexts with leaf certificates minted per intercepted host, off the event loop, shared
 * by concurrent handshakes and cached in a bounded map until half their validity has passed.
 */
final class LeafContexts {

  private record Leaf(CompletableFuture<SslContext> context, Instant renewAt) {
  }

  private final CertificateAuthority ca;
  private final Duration validity;
  private final Executor executor;
  private final int maxEntries;
  private final Map<String, Leaf> leaves = new LinkedHashMap<>(16, 0.75f, true);

  LeafContexts(CertificateAuthority ca, Duration validity, Executor executor, int maxEntries) {
    this.ca = ca;
    this.validity = validity;
    this.executor = executor;
    this.maxEntries = maxEntries;
  }

  /** Completes {@code promise} with the server context for {@code host}. */
  void contextFor(String host, Promise<SslContext> promise) {
    get(host).whenComplete((ctx, t) -> {
      if (t != null) {
        promise.tryFailure(t instanceof java.util.concurrent.CompletionException && t.getCause() != null
            ? t.getCause() : t);
      } else {
        promise.trySuccess(ctx);
      }
    });
  }

  CompletableFuture<SslContext> get(String host) {
    String key = HostSet.normalise(host);
    synchronized (leaves) {
      Leaf leaf = leaves.get(key);
      Instant now = Instant.now();
      if (leaf != null && now.isBefore(leaf.renewAt()) && !leaf.context().isCompletedExceptionally()) {
        return leaf.context();
      }
      CompletableFuture<SslContext> minted = CompletableFuture.supplyAsync(() -> mint(key), executor);
      leaves.put(key, new Leaf(minted, now.plus(validity.dividedBy(2))));
      for (Iterator<String> it = leaves.keySet().iterator(); leaves.size() > maxEntries && it.hasNext(); ) {
        it.next();
        it.remove();
      }
      return minted;
    }
  }

  int size() {
    synchronized (leaves) {
      return leaves.size();
    }
  }

  private SslContext mint(String host) {
    IssuedCertificate leaf = ca.mintServerLeaf(host, validity);
    try {
      return SslContextBuilder.forServer(leaf.privateKey().orElseThrow(), leaf.chain())
          .sslProvider(TlsMaterial.preferredProvider())
          .protocols(TlsMaterial.PROTOCOLS)
          .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
              ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
              ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
              ApplicationProtocolNames.HTTP_1_1))
          .build();
    } catch (javax.net.ssl.SSLException e) {
      throw new IllegalStateException("leaf SslContext for " + host + ": " + e.getMessage(), e);
    }
  }
}
