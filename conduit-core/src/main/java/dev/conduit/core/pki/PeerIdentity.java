package dev.conduit.core.pki;

import static java.util.Objects.requireNonNull;

import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.x500.X500Name;

/**
 * The identity of a TLS peer, taken from its verified certificate for authorization decisions: the first URI
 * subject alternative name (e.g. {@code spiffe://conduit/node/a}), else the first DNS name, else the subject
 * common name.
 *
 * <p>Only call this with a certificate the TLS stack has already verified against the trust roots; the
 * identity of an unverified certificate means nothing.
 *
 * @param kind where the identity came from
 * @param value the identity
 */
public record PeerIdentity(Kind kind, String value) {

  /** Where in the certificate the identity was found. */
  public enum Kind {
    /** A URI subject alternative name. */
    URI,
    /** A DNS subject alternative name. */
    DNS,
    /** The subject's common name. */
    COMMON_NAME
  }

  /** Checks the components. */
  public PeerIdentity {
    requireNonNull(kind, "kind");
    requireNonNull(value, "value");
  }

  /**
   * Returns the identity in {@code certificate}.
   *
   * @throws IllegalArgumentException if it has no URI or DNS name and no common name
   */
  public static PeerIdentity of(X509Certificate certificate) {
    requireNonNull(certificate, "certificate");
    List<SubjectAlternativeName> names = CertificateInfo.subjectAlternativeNames(certificate);
    for (SubjectAlternativeName.Type type :
        new SubjectAlternativeName.Type[] {SubjectAlternativeName.Type.URI, SubjectAlternativeName.Type.DNS}) {
      for (SubjectAlternativeName name : names) {
        if (name.type() == type) {
          return new PeerIdentity(type == SubjectAlternativeName.Type.URI ? Kind.URI : Kind.DNS, name.value());
        }
      }
    }
    X500Principal subject = certificate.getSubjectX500Principal();
    Optional<String> commonName = CertificateRequest.commonNameOf(X500Name.getInstance(subject.getEncoded()));
    if (commonName.isPresent() && !commonName.get().isEmpty()) {
      return new PeerIdentity(Kind.COMMON_NAME, commonName.get());
    }
    throw new IllegalArgumentException("certificate " + subject + ": no URI or DNS name and no common name");
  }

  /**
   * Returns the identity of the peer of a completed handshake, or empty if the peer sent no certificate or it
   * carries no usable name.
   */
  public static Optional<PeerIdentity> of(SSLSession session) {
    requireNonNull(session, "session");
    Certificate[] certificates;
    try {
      certificates = session.getPeerCertificates();
    } catch (SSLPeerUnverifiedException e) {
      return Optional.empty();
    }
    if (certificates.length == 0 || !(certificates[0] instanceof X509Certificate)) {
      return Optional.empty();
    }
    try {
      return Optional.of(of((X509Certificate) certificates[0]));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  /** Returns the {@link #value()}. */
  @Override
  public String toString() {
    return value;
  }
}
