package dev.conduit.mitm;

import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.pki.IssuedCertificate;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.http.HttpClient;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/** Certificates and clients for the tests. */
final class Pki {
  private Pki() {
  }

  static CertificateAuthority ca(String name) {
    return CertificateAuthority.builder().commonName(name).build();
  }

  static IssuedCertificate server(CertificateAuthority ca, String... names) {
    CertificateRequest.Builder b = CertificateRequest.builder().commonName(names[0])
        .usages(CertificateRequest.Usage.SERVER);
    for (String n : names) {
      if (Character.isDigit(n.charAt(0))) {
        b.ipAddress(n);
      } else {
        b.dnsName(n);
      }
    }
    return ca.issue(b.build());
  }

  /** An SSLContext trusting only {@code ca}. */
  static SSLContext trusting(X509Certificate ca) throws Exception {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    ks.setCertificateEntry("ca", ca);
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ks);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    return ctx;
  }

  /** A JDK HttpClient using {@code proxy} and trusting only {@code ca}. */
  static HttpClient client(InetSocketAddress proxy, X509Certificate ca) throws Exception {
    return HttpClient.newBuilder()
        .proxy(ProxySelector.of(proxy))
        .sslContext(trusting(ca))
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(10))
        .build();
  }
}
