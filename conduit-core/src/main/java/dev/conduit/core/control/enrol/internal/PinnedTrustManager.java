package dev.conduit.core.control.enrol.internal;

import dev.conduit.core.control.enrol.CaPin;
import dev.conduit.core.pki.CertificateInfo;
import dev.conduit.core.pki.SubjectAlternativeName;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Verifies a manager during the TLS handshake, before anything is sent to it: its chain must end in a CA whose
 * pin is the expected one (or, on first use without a pin, any CA, which is then remembered), the server
 * certificate must chain to that CA, and it must carry the manager identity ({@code spiffe://.../manager}), so a
 * node certificate from the same CA cannot pose as the manager.
 */
public final class PinnedTrustManager extends X509ExtendedTrustManager {

  private final String expectedPin;
  private volatile X509Certificate observedCa;

  /** Trusts the CA with {@code expectedPin}; with null, trusts the first CA seen (trust on first use). */
  public PinnedTrustManager(String expectedPin) {
    this.expectedPin = expectedPin;
  }

  /** Returns the CA the last verified server chained to, or null. */
  public X509Certificate observedCa() {
    return observedCa;
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    verify(chain);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    verify(chain);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    verify(chain);
  }

  private void verify(X509Certificate[] chain) throws CertificateException {
    if (chain == null || chain.length < 2) {
      throw new CertificateException("manager: sent no CA certificate with its own (expected: a conduit manager)");
    }
    X509Certificate ca = null;
    List<String> seen = new ArrayList<>();
    for (int i = chain.length - 1; i >= 1 && ca == null; i--) {
      if (chain[i].getBasicConstraints() < 0) {
        continue;
      }
      String pin = CaPin.of(chain[i]);
      seen.add(pin);
      if (expectedPin == null || expectedPin.equals(pin)) {
        ca = chain[i];
      }
    }
    if (ca == null) {
      throw new CertificateException("manager: its CA is " + (seen.isEmpty() ? "missing" : String.join(", ", seen))
          + ", not the pinned " + expectedPin + " (a different manager, or its CA was replaced)");
    }
    try {
      CertificateFactory factory = CertificateFactory.getInstance("X.509");
      List<X509Certificate> path = new ArrayList<>(Arrays.asList(chain).subList(0, Arrays.asList(chain).indexOf(ca)));
      PKIXParameters parameters = new PKIXParameters(Set.of(new TrustAnchor(ca, null)));
      parameters.setRevocationEnabled(false);
      CertPathValidator.getInstance("PKIX").validate(factory.generateCertPath(path), parameters);
    } catch (GeneralSecurityException e) {
      throw new CertificateException("manager: its certificate does not chain to its CA (" + e.getMessage() + ")", e);
    }
    boolean manager = CertificateInfo.subjectAlternativeNames(chain[0]).stream()
        .anyMatch(n -> n.type() == SubjectAlternativeName.Type.URI && n.value().startsWith("spiffe://")
            && n.value().endsWith("/manager"));
    if (!manager) {
      throw new CertificateException("manager: its certificate has no manager identity (spiffe://.../manager); "
          + "another member of the mesh may be posing as the manager");
    }
    observedCa = ca;
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    throw new CertificateException("client certificates are not checked here");
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    throw new CertificateException("client certificates are not checked here");
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    throw new CertificateException("client certificates are not checked here");
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return new X509Certificate[0];
  }
}
