package dev.conduit.core.testing;

import dev.conduit.core.pki.IssuedCertificate;
import java.io.ByteArrayInputStream;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/** TLS for the JDK's own clients (HttpClient, WebSocket) in tests: a test CA to trust, a client certificate. */
public final class JdkTls {
  private JdkTls() {
  }

  /**
   * Returns a context trusting {@code trustAnchor} only and presenting {@code certificate} when not null.
   *
   * @param certificate the client certificate with its key, or null for none
   * @param trustAnchor the CA the server's certificate must chain to
   * @return the context
   * @throws Exception when the key stores cannot be built
   */
  public static SSLContext context(IssuedCertificate certificate, X509Certificate trustAnchor) throws Exception {
    KeyManagerFactory kmf = null;
    if (certificate != null) {
      char[] password = "test".toCharArray();
      KeyStore keys = KeyStore.getInstance("PKCS12");
      keys.load(new ByteArrayInputStream(certificate.toPkcs12(password)), password);
      kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(keys, password);
    }
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", trustAnchor);
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    return context;
  }
}
