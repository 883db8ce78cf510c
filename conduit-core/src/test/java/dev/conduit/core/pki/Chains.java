package dev.conduit.core.pki;

import java.security.cert.CertPath;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.Date;
import java.util.List;
import java.util.Set;

/** Test helper: validates chains with the JDK's PKIX validator. */
final class Chains {

  private Chains() {}

  /** Validates {@code chain} (leaf first, may end with the root) against {@code root} at {@code at}. */
  static void verify(List<X509Certificate> chain, X509Certificate root, Date at) throws Exception {
    List<X509Certificate> path = chain.get(chain.size() - 1).equals(root) ? chain.subList(0, chain.size() - 1) : chain;
    CertPath certPath = CertificateFactory.getInstance("X.509").generateCertPath(path);
    PKIXParameters parameters = new PKIXParameters(Set.of(new TrustAnchor(root, null)));
    parameters.setRevocationEnabled(false);
    parameters.setDate(at);
    CertPathValidator.getInstance("PKIX").validate(certPath, parameters);
  }

  static void verify(List<X509Certificate> chain, X509Certificate root) throws Exception {
    verify(chain, root, new Date());
  }
}
