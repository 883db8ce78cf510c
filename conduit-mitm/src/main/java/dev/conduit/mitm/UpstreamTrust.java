package dev.conduit.mitm;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/** The client context for upstream TLS: system trust roots plus configured CAs, hostname verified. */
final class UpstreamTrust {

  private UpstreamTrust() {
  }

  static SslContext clientContext(boolean systemTrust, List<X509Certificate> extraCas) {
    try {
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      int i = 0;
      if (systemTrust) {
        TrustManagerFactory system = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        system.init((KeyStore) null);
        for (TrustManager tm : system.getTrustManagers()) {
          if (tm instanceof X509TrustManager x) {
            for (X509Certificate c : x.getAcceptedIssuers()) {
              store.setCertificateEntry("system-" + i++, c);
            }
          }
        }
      }
      for (X509Certificate c : extraCas) {
        store.setCertificateEntry("extra-" + i++, c);
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(store);
      // the JDK provider gives the clearest reasons (PKIX path building failed, no matching SAN)
      return SslContextBuilder.forClient()
          .sslProvider(SslProvider.JDK)
          .trustManager(tmf)
          .protocols("TLSv1.3", "TLSv1.2")
          .endpointIdentificationAlgorithm("HTTPS")
          .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
              ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
              ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
              ApplicationProtocolNames.HTTP_1_1))
          .build();
    } catch (GeneralSecurityException | java.io.IOException e) {
      throw new IllegalStateException("upstream trust: " + e.getMessage(), e);
    }
  }
}
