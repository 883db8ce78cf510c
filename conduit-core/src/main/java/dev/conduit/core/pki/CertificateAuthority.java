package dev.conduit.core.pki;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.security.interfaces.RSAKey;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A certificate authority: a CA certificate with its private key, which issues node certificates for the
 * mesh ({@link #issue(CertificateRequest)}) and short-lived server leaves for TLS interception
 * ({@link #mintServerLeaf(String)}).
 *
 * <p>Create a new one with {@link #builder()} (ECDSA P-256, self-signed), or load one from PEM with
 * {@link #load(Path, Path)}; CAs with RSA, P-384 or Ed25519 keys made by other tools are accepted when loading.
 * Instances are immutable and thread-safe. Issuing does CPU-bound key generation and signing (about a
 * millisecond); call it off the Netty event loop.
 *
 * <pre>{@code
 * CertificateAuthority ca = CertificateAuthority.builder()
 *     .commonName("conduit mesh CA").organization("example").validity(Duration.ofDays(3650))
 *     .build();
 * ca.save(Path.of("/etc/conduit/pki"));            // ca.crt, ca.key (0600)
 * IssuedCertificate node = ca.issue(CertificateRequest.builder()
 *     .commonName("node-a").uri("spiffe://conduit/node/a").build());
 * }</pre>
 */
public final class CertificateAuthority {

  /** File name {@link #save(Path)} writes the CA certificate to. */
  public static final String CERTIFICATE_FILE = "ca.crt";
  /** File name {@link #save(Path)} writes the CA private key to, with mode 0600. */
  public static final String KEY_FILE = "ca.key";
  /** Default validity of a new CA certificate. */
  public static final Duration DEFAULT_CA_VALIDITY = Duration.ofDays(3650);
  /** Default validity of leaves minted by {@link #mintServerLeaf(String)}. */
  public static final Duration DEFAULT_LEAF_VALIDITY = Duration.ofDays(7);

  private final List<X509Certificate> chain;
  private final PrivateKey privateKey;
  private final X500Name subject;
  private final AuthorityKeyIdentifier authorityKeyIdentifier;
  private final String signatureAlgorithm;
  private final KeyPair sharedLeafKeyPair;

  private CertificateAuthority(List<X509Certificate> chain, PrivateKey privateKey, KeyPair sharedLeafKeyPair) {
    this.chain = List.copyOf(chain);
    this.privateKey = privateKey;
    this.sharedLeafKeyPair = sharedLeafKeyPair;
    X509Certificate certificate = chain.get(0);
    this.subject = X500Name.getInstance(certificate.getSubjectX500Principal().getEncoded());
    this.authorityKeyIdentifier = new AuthorityKeyIdentifier(keyIdentifierOf(certificate));
    this.signatureAlgorithm = Keys.signatureAlgorithm(privateKey);
  }

  /** Returns a builder for a new self-signed ECDSA P-256 CA. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Loads a CA from PEM files: {@code certificateFile} holds the CA certificate first, optionally followed by
   * its own issuers; {@code keyFile} holds its private key (PKCS#8, SEC1 EC or PKCS#1 RSA).
   *
   * @throws IllegalArgumentException if the files are malformed, the certificate is not a CA, or the key does
   *     not belong to it
   */
  public static CertificateAuthority load(Path certificateFile, Path keyFile) throws IOException {
    requireNonNull(certificateFile, "certificateFile");
    requireNonNull(keyFile, "keyFile");
    List<X509Certificate> certificates = Pem.readCertificates(certificateFile);
    PrivateKey key = Pem.readPrivateKey(keyFile);
    try {
      return of(certificates, key);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(certificateFile + ", " + keyFile + ": " + e.getMessage(), e);
    }
  }

  /** Loads {@code ca.crt} and {@code ca.key} from {@code directory}; see {@link #load(Path, Path)}. */
  public static CertificateAuthority load(Path directory) throws IOException {
    requireNonNull(directory, "directory");
    return load(directory.resolve(CERTIFICATE_FILE), directory.resolve(KEY_FILE));
  }

  /** Loads a CA from PEM text; see {@link #load(Path, Path)}. */
  public static CertificateAuthority fromPem(String certificatePem, String privateKeyPem) {
    return of(Pem.readCertificates(requireNonNull(certificatePem, "certificatePem")),
        Pem.readPrivateKey(requireNonNull(privateKeyPem, "privateKeyPem")));
  }

  /**
   * Returns a CA for a certificate chain (CA certificate first) and the CA's private key.
   *
   * @throws IllegalArgumentException if the certificate is not a CA or the key does not belong to it
   */
  public static CertificateAuthority of(List<X509Certificate> chain, PrivateKey privateKey) {
    requireNonNull(chain, "chain");
    requireNonNull(privateKey, "privateKey");
    if (chain.isEmpty()) {
      throw new IllegalArgumentException("chain: empty (expected: the CA certificate first)");
    }
    X509Certificate certificate = chain.get(0);
    if (certificate.getBasicConstraints() < 0) {
      throw new IllegalArgumentException("certificate " + certificate.getSubjectX500Principal()
          + ": not a CA (basicConstraints CA:FALSE or absent)");
    }
    boolean[] keyUsage = certificate.getKeyUsage();
    if (keyUsage != null && !keyUsage[5]) {
      throw new IllegalArgumentException("certificate " + certificate.getSubjectX500Principal()
          + ": key usage lacks keyCertSign");
    }
    if (!Keys.matches(privateKey, certificate.getPublicKey())) {
      throw new IllegalArgumentException("private key: does not belong to the CA certificate "
          + certificate.getSubjectX500Principal());
    }
    return new CertificateAuthority(chain, privateKey, null);
  }

  /**
   * Returns a copy of this CA whose {@link #mintServerLeaf(String) minted leaves} all share one P-256 key pair,
   * generated now. This saves the key generation per leaf (roughly a third of the minting time), at the cost
   * that one leaked leaf key lets an attacker impersonate every host this CA minted for. Certificates from
   * {@link #issue(CertificateRequest)} are not affected. Off by default.
   */
  public CertificateAuthority withSharedLeafKey() {
    return new CertificateAuthority(chain, privateKey, Keys.generateP256());
  }

  /** Returns the CA certificate. */
  public X509Certificate certificate() {
    return chain.get(0);
  }

  /** Returns the CA certificate followed by its issuers, if it was loaded with them. */
  public List<X509Certificate> certificateChain() {
    return chain;
  }

  /** Returns the CA certificate as PEM, e.g. to install as a trust root (what {@code ca export} prints). */
  public String certificatePem() {
    return Pem.encodeCertificate(certificate());
  }

  /**
   * Issues a certificate for {@code request}, generating a P-256 key pair when the request has no public key.
   * The end of validity is capped at the CA's own.
   *
   * @throws IllegalStateException if the CA has expired or the requested validity lies after the CA's
   */
  public IssuedCertificate issue(CertificateRequest request) {
    requireNonNull(request, "request");
    KeyPair generated = request.publicKey().isPresent() ? null : Keys.generateP256();
    PublicKey publicKey = generated != null ? generated.getPublic() : request.publicKey().get();
    Instant now = Instant.now();
    Instant notBefore = request.notBefore().orElse(now.minus(CertificateRequest.DEFAULT_BACKDATE));
    Instant notAfter = request.notBefore().orElse(now).plus(request.validity());
    X500Name subjectName = subjectName(request.commonName().orElse(null), request.organization().orElse(null));
    X509Certificate certificate = sign(subjectName, request.subjectAlternativeNames(),
        request.usages().contains(CertificateRequest.Usage.SERVER),
        request.usages().contains(CertificateRequest.Usage.CLIENT), publicKey, notBefore, notAfter);
    return new IssuedCertificate(certificate, chain, generated != null ? generated.getPrivate() : null);
  }

  /**
   * Mints a TLS server certificate for one host, as a MITM proxy presents for an intercepted SNI host: the
   * exact name as its only subject alternative name (an IP SAN for IP literals, a DNS SAN otherwise, never a
   * wildcard), valid {@link #DEFAULT_LEAF_VALIDITY 7 days} from one hour ago, with a fresh P-256 key (see
   * {@link #withSharedLeafKey()}). Thread-safe; takes about a millisecond of CPU, so call it off the event
   * loop and cache the result per host.
   *
   * @throws IllegalArgumentException if {@code hostOrIp} is not a valid host name or IP literal, or a wildcard
   */
  public IssuedCertificate mintServerLeaf(String hostOrIp) {
    return mintServerLeaf(hostOrIp, DEFAULT_LEAF_VALIDITY);
  }

  /** Same as {@link #mintServerLeaf(String)} with an explicit validity (at most 825 days). */
  public IssuedCertificate mintServerLeaf(String hostOrIp, Duration validity) {
    requireNonNull(hostOrIp, "hostOrIp");
    requireNonNull(validity, "validity");
    if (validity.isNegative() || validity.isZero() || validity.compareTo(CertificateRequest.MAX_VALIDITY) > 0) {
      throw new IllegalArgumentException("validity: " + validity + " (expected: > 0 and <= "
          + CertificateRequest.MAX_VALIDITY.toDays() + " days)");
    }
    String host = hostOrIp.trim();
    SubjectAlternativeName name = SubjectAlternativeName.ipBytes(host) != null
        ? SubjectAlternativeName.ip(host)
        : new SubjectAlternativeName(SubjectAlternativeName.Type.DNS,
            SubjectAlternativeName.normaliseDnsName(host, false));
    KeyPair keyPair = sharedLeafKeyPair != null ? sharedLeafKeyPair : Keys.generateP256();
    Instant now = Instant.now();
    // browsers ignore the CN, but some tools still show it; it is limited to 64 characters
    String commonName = name.value().length() <= 64 ? name.value() : null;
    X509Certificate certificate = sign(subjectName(commonName, null), List.of(name), true, false,
        keyPair.getPublic(), now.minus(CertificateRequest.DEFAULT_BACKDATE), now.plus(validity));
    return new IssuedCertificate(certificate, chain, keyPair.getPrivate());
  }

  /**
   * Writes {@code ca.crt} and {@code ca.key} (mode 0600, created with that mode) into {@code directory},
   * creating it if needed.
   *
   * @throws FileAlreadyExistsException if {@code ca.key} already exists: a CA key is never overwritten
   *     silently; use {@link #writeTo(Path, Path)} to replace files on purpose
   */
  public void save(Path directory) throws IOException {
    requireNonNull(directory, "directory");
    Path keyFile = directory.resolve(KEY_FILE);
    if (Files.exists(keyFile)) {
      throw new FileAlreadyExistsException(keyFile.toString(), null, "a CA key already exists there");
    }
    writeTo(directory.resolve(CERTIFICATE_FILE), keyFile);
  }

  /**
   * Writes the certificate chain and the private key (mode 0600) to the given files, each replaced atomically.
   */
  public void writeTo(Path certificateFile, Path keyFile) throws IOException {
    requireNonNull(certificateFile, "certificateFile");
    requireNonNull(keyFile, "keyFile");
    SecureFiles.write(keyFile, Pem.encodePrivateKey(privateKey).getBytes(StandardCharsets.US_ASCII), true);
    SecureFiles.write(certificateFile, Pem.encodeCertificates(chain).getBytes(StandardCharsets.US_ASCII), false);
  }

  /** Returns the CA key and chain as a PKCS#12 key store protected by {@code password} (alias {@code ca}). */
  public byte[] toPkcs12(char[] password) {
    return Keys.pkcs12("ca", privateKey, chain, password);
  }

  /** Writes {@link #toPkcs12(char[])} to {@code file} atomically with mode 0600. */
  public void writePkcs12(Path file, char[] password) throws IOException {
    SecureFiles.write(requireNonNull(file, "file"), toPkcs12(password), true);
  }

  /** Describes the CA without key material. */
  @Override
  public String toString() {
    return "CertificateAuthority{subject=" + certificate().getSubjectX500Principal()
        + ", serial=" + certificate().getSerialNumber().toString(16)
        + ", notAfter=" + certificate().getNotAfter().toInstant()
        + ", key=" + privateKey.getAlgorithm() + ", sharedLeafKey=" + (sharedLeafKeyPair != null) + "}";
  }

  private X509Certificate sign(X500Name subjectName, List<SubjectAlternativeName> names, boolean server,
      boolean client, PublicKey publicKey, Instant notBefore, Instant notAfter) {
    Instant caNotAfter = certificate().getNotAfter().toInstant();
    Instant now = Instant.now();
    if (caNotAfter.isBefore(now)) {
      throw new IllegalStateException("ca " + certificate().getSubjectX500Principal() + ": expired at "
          + caNotAfter);
    }
    if (notAfter.isAfter(caNotAfter)) {
      notAfter = caNotAfter; // a certificate cannot outlive its issuer in any useful way
    }
    if (!notAfter.isAfter(notBefore)) {
      throw new IllegalStateException("validity: notBefore " + notBefore + " is not before notAfter " + notAfter
          + " (the CA expires at " + caNotAfter + ")");
    }
    try {
      SubjectPublicKeyInfo publicKeyInfo = SubjectPublicKeyInfo.getInstance(publicKey.getEncoded());
      X509v3CertificateBuilder builder = new X509v3CertificateBuilder(subject, Keys.randomSerial(),
          Date.from(notBefore.truncatedTo(ChronoUnit.SECONDS)), Date.from(notAfter.truncatedTo(ChronoUnit.SECONDS)),
          subjectName, publicKeyInfo);
      builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      int keyUsage = KeyUsage.digitalSignature;
      if (publicKey instanceof RSAKey) {
        keyUsage |= KeyUsage.keyEncipherment; // TLS 1.2 RSA key exchange
      }
      builder.addExtension(Extension.keyUsage, true, new KeyUsage(keyUsage));
      List<KeyPurposeId> purposes = new ArrayList<>(2);
      if (server) {
        purposes.add(KeyPurposeId.id_kp_serverAuth);
      }
      if (client) {
        purposes.add(KeyPurposeId.id_kp_clientAuth);
      }
      builder.addExtension(Extension.extendedKeyUsage, false,
          new ExtendedKeyUsage(purposes.toArray(new KeyPurposeId[0])));
      if (!names.isEmpty()) {
        // RFC 5280 4.2.1.6: critical when the subject is empty
        builder.addExtension(Extension.subjectAlternativeName, subjectName.getRDNs().length == 0,
            new GeneralNames(CertificateRequest.toGeneralNames(names).toArray(new GeneralName[0])));
      }
      builder.addExtension(Extension.subjectKeyIdentifier, false,
          new SubjectKeyIdentifier(keyIdentifier(publicKeyInfo)));
      builder.addExtension(Extension.authorityKeyIdentifier, false, authorityKeyIdentifier);
      ContentSigner signer = new JcaContentSignerBuilder(signatureAlgorithm).build(privateKey);
      return Pem.toX509(builder.build(signer));
    } catch (CertIOException | OperatorCreationException e) {
      throw new IllegalStateException("signing failed: " + e.getMessage(), e);
    }
  }

  static X500Name subjectName(String commonName, String organization) {
    X500NameBuilder builder = new X500NameBuilder(BCStyle.INSTANCE);
    if (organization != null) {
      builder.addRDN(BCStyle.O, organization);
    }
    if (commonName != null) {
      builder.addRDN(BCStyle.CN, commonName);
    }
    return builder.build();
  }

  /** The key identifier: SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2, method 1). */
  static byte[] keyIdentifier(SubjectPublicKeyInfo publicKeyInfo) {
    try {
      return MessageDigest.getInstance("SHA-1").digest(publicKeyInfo.getPublicKeyData().getBytes());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-1 is not available", e);
    }
  }

  private static byte[] keyIdentifierOf(X509Certificate certificate) {
    byte[] extension = certificate.getExtensionValue(Extension.subjectKeyIdentifier.getId());
    if (extension != null) {
      return SubjectKeyIdentifier.getInstance(ASN1OctetString.getInstance(extension).getOctets())
          .getKeyIdentifier();
    }
    return keyIdentifier(SubjectPublicKeyInfo.getInstance(certificate.getPublicKey().getEncoded()));
  }

  /** Builds a new self-signed CA. Not thread-safe. */
  public static final class Builder {
    private String commonName;
    private String organization;
    private Duration validity = DEFAULT_CA_VALIDITY;
    private int maxIntermediates;

    private Builder() {}

    /** Sets the CA's common name (required, 1-64 characters). */
    public Builder commonName(String commonName) {
      this.commonName = checkName("commonName", commonName);
      return this;
    }

    /** Sets the CA's organization (optional, 1-64 characters). */
    public Builder organization(String organization) {
      this.organization = checkName("organization", organization);
      return this;
    }

    /** Sets how long the CA is valid (default 10 years), counted from now. */
    public Builder validity(Duration validity) {
      requireNonNull(validity, "validity");
      if (validity.isNegative() || validity.isZero()) {
        throw new IllegalArgumentException("validity: " + validity + " (expected: > 0)");
      }
      this.validity = validity;
      return this;
    }

    /**
     * Sets how many intermediate CAs may appear below this one (the basicConstraints path length, default 0:
     * this CA signs only end-entity certificates).
     */
    public Builder maxIntermediates(int maxIntermediates) {
      if (maxIntermediates < 0) {
        throw new IllegalArgumentException("maxIntermediates: " + maxIntermediates + " (expected: >= 0)");
      }
      this.maxIntermediates = maxIntermediates;
      return this;
    }

    /**
     * Generates the P-256 key pair and the self-signed CA certificate: SHA256withECDSA, basicConstraints CA
     * (critical), keyUsage keyCertSign and cRLSign (critical), subject key identifier.
     *
     * @throws IllegalStateException if no common name was set
     */
    public CertificateAuthority build() {
      if (commonName == null) {
        throw new IllegalStateException("commonName: not set (expected: the CA's name)");
      }
      KeyPair keyPair = Keys.generateP256();
      X500Name name = subjectName(commonName, organization);
      Instant now = Instant.now();
      try {
        SubjectPublicKeyInfo publicKeyInfo = SubjectPublicKeyInfo.getInstance(keyPair.getPublic().getEncoded());
        X509v3CertificateBuilder builder = new X509v3CertificateBuilder(name, Keys.randomSerial(),
            Date.from(now.minus(CertificateRequest.DEFAULT_BACKDATE).truncatedTo(ChronoUnit.SECONDS)),
            Date.from(now.plus(validity).truncatedTo(ChronoUnit.SECONDS)), name, publicKeyInfo);
        builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(maxIntermediates));
        builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
        builder.addExtension(Extension.subjectKeyIdentifier, false,
            new SubjectKeyIdentifier(keyIdentifier(publicKeyInfo)));
        ContentSigner signer = new JcaContentSignerBuilder("SHA256withECDSA").build(keyPair.getPrivate());
        X509Certificate certificate = Pem.toX509(builder.build(signer));
        return new CertificateAuthority(List.of(certificate), keyPair.getPrivate(), null);
      } catch (CertIOException | OperatorCreationException e) {
        throw new IllegalStateException("CA creation failed: " + e.getMessage(), e);
      }
    }

    private static String checkName(String what, String value) {
      requireNonNull(value, what);
      String trimmed = value.trim();
      if (trimmed.isEmpty() || trimmed.length() > 64) {
        throw new IllegalArgumentException(what + ": " + SubjectAlternativeName.quote(value)
            + " (expected: 1-64 characters)");
      }
      return trimmed;
    }
  }
}
