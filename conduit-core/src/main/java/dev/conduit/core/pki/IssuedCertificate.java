package dev.conduit.core.pki;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A certificate issued by a {@link CertificateAuthority}, with its chain up to and including the CA, and the
 * private key when the authority generated it. {@link #toString()} never shows key material.
 */
public final class IssuedCertificate {

  private final X509Certificate certificate;
  private final List<X509Certificate> chain;
  private final PrivateKey privateKey;

  IssuedCertificate(X509Certificate certificate, List<X509Certificate> issuerChain, PrivateKey privateKey) {
    this.certificate = certificate;
    List<X509Certificate> fullChain = new ArrayList<>(issuerChain.size() + 1);
    fullChain.add(certificate);
    fullChain.addAll(issuerChain);
    this.chain = List.copyOf(fullChain);
    this.privateKey = privateKey;
  }

  /** Returns the issued certificate. */
  public X509Certificate certificate() {
    return certificate;
  }

  /** Returns the issued certificate followed by the CA certificate (and the CA's issuers, if any). */
  public List<X509Certificate> chain() {
    return chain;
  }

  /** Returns the private key if the authority generated the key pair; empty when issued for a given key. */
  public Optional<PrivateKey> privateKey() {
    return Optional.ofNullable(privateKey);
  }

  /** Returns the issued certificate alone as PEM. */
  public String certificatePem() {
    return Pem.encodeCertificate(certificate);
  }

  /** Returns the whole {@link #chain()} as PEM, leaf first: what a TLS peer should present. */
  public String chainPem() {
    return Pem.encodeCertificates(chain);
  }

  /**
   * Returns the private key as an unencrypted PKCS#8 PEM block.
   *
   * @throws IllegalStateException if there is no private key (issued from a CSR or public key)
   */
  public String privateKeyPem() {
    return Pem.encodePrivateKey(requirePrivateKey());
  }

  /**
   * Writes the {@link #chainPem() chain} to {@code certificateFile} and the private key to {@code keyFile}
   * (mode 0600, created with that mode), each replaced atomically. The key is written first, so a watcher
   * never sees a new certificate next to an old key for longer than the gap between two renames.
   *
   * @throws IllegalStateException if there is no private key; use {@link #writeCertificateTo(Path)} then
   */
  public void writeTo(Path certificateFile, Path keyFile) throws IOException {
    requireNonNull(certificateFile, "certificateFile");
    requireNonNull(keyFile, "keyFile");
    SecureFiles.write(keyFile, privateKeyPem().getBytes(StandardCharsets.US_ASCII), true);
    writeCertificateTo(certificateFile);
  }

  /** Writes the {@link #chainPem() chain} to {@code certificateFile}, replacing it atomically. */
  public void writeCertificateTo(Path certificateFile) throws IOException {
    SecureFiles.write(requireNonNull(certificateFile, "certificateFile"),
        chainPem().getBytes(StandardCharsets.US_ASCII), false);
  }

  /**
   * Returns the key and chain as a PKCS#12 key store protected by {@code password} (alias {@code conduit}).
   *
   * @throws IllegalStateException if there is no private key
   */
  public byte[] toPkcs12(char[] password) {
    return Keys.pkcs12("conduit", requirePrivateKey(), chain, password);
  }

  /** Describes the certificate without key material. */
  @Override
  public String toString() {
    return "IssuedCertificate{subject=" + certificate.getSubjectX500Principal()
        + ", subjectAlternativeNames=" + CertificateInfo.subjectAlternativeNames(certificate)
        + ", serial=" + certificate.getSerialNumber().toString(16)
        + ", notAfter=" + certificate.getNotAfter().toInstant()
        + ", privateKey=" + (privateKey == null ? "<none>" : "<" + privateKey.getAlgorithm() + ", hidden>") + "}";
  }

  private PrivateKey requirePrivateKey() {
    if (privateKey == null) {
      throw new IllegalStateException("privateKey: none (the certificate was issued for a given public key)");
    }
    return privateKey;
  }
}
