package dev.conduit.core.pki;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.DERIA5String;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x500.style.IETFUtils;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.PKCSException;

/**
 * What to put into a certificate issued by {@link CertificateAuthority#issue(CertificateRequest)}: subject
 * names, usages, validity, and either the subject's public key (e.g. from a CSR) or none, in which case the
 * authority generates an ECDSA P-256 key pair and returns its private key with the certificate.
 *
 * <pre>{@code
 * CertificateRequest request = CertificateRequest.builder()
 *     .commonName("node-a")
 *     .subjectAlternativeName(SubjectAlternativeName.uri("spiffe://conduit/node/a"))
 *     .subjectAlternativeName(SubjectAlternativeName.dns("node-a.mesh.internal"))
 *     .usages(CertificateRequest.Usage.SERVER, CertificateRequest.Usage.CLIENT)
 *     .validity(Duration.ofDays(90))
 *     .build();
 * }</pre>
 */
public final class CertificateRequest {

  /** Default validity of issued certificates. */
  public static final Duration DEFAULT_VALIDITY = Duration.ofDays(90);
  /** Longest validity conduit issues (the CA/Browser Forum's historical limit). */
  public static final Duration MAX_VALIDITY = Duration.ofDays(825);
  /** How far {@code notBefore} is moved into the past by default, so peers with a slow clock accept it. */
  public static final Duration DEFAULT_BACKDATE = Duration.ofHours(1);

  /** What the certificate may be used for in TLS (its extended key usage). */
  public enum Usage {
    /** TLS server authentication ({@code id-kp-serverAuth}). */
    SERVER,
    /** TLS client authentication ({@code id-kp-clientAuth}). */
    CLIENT
  }

  private final String commonName;
  private final String organization;
  private final List<SubjectAlternativeName> subjectAlternativeNames;
  private final Set<Usage> usages;
  private final Duration validity;
  private final Instant notBefore;
  private final PublicKey publicKey;

  private CertificateRequest(Builder builder) {
    this.commonName = builder.commonName;
    this.organization = builder.organization;
    this.subjectAlternativeNames = List.copyOf(builder.subjectAlternativeNames);
    this.usages = Set.copyOf(builder.usages);
    this.validity = builder.validity;
    this.notBefore = builder.notBefore;
    this.publicKey = builder.publicKey;
  }

  /** Returns a new builder with no names, usages server and client, and a validity of 90 days. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Returns a builder pre-filled from a PKCS#10 certificate signing request in PEM or DER form: the public
   * key, the common name, and the subject alternative names the CSR asks for. The CSR's signature is verified,
   * which proves the requester holds the private key. The requested names are not trusted: an enrolling
   * authority must check them (or replace them with {@link Builder#clearSubjectAlternativeNames()}) before
   * issuing.
   *
   * @throws IllegalArgumentException if the CSR is malformed, its signature does not verify, or it asks for a
   *     name that is not valid
   */
  public static Builder fromCsr(byte[] pemOrDer) {
    requireNonNull(pemOrDer, "pemOrDer");
    String text = new String(pemOrDer, StandardCharsets.ISO_8859_1);
    byte[] der = text.contains("-----BEGIN") ? Pem.readCsr(text) : pemOrDer;
    PKCS10CertificationRequest csr;
    try {
      csr = new PKCS10CertificationRequest(der);
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException("csr: malformed (" + e.getMessage() + ")", e);
    }
    PublicKey publicKey = Pem.toPublicKey(csr.getSubjectPublicKeyInfo());
    try {
      if (!csr.isSignatureValid(new JcaContentVerifierProviderBuilder().build(publicKey))) {
        throw new IllegalArgumentException("csr: signature does not verify with the CSR's public key");
      }
    } catch (PKCSException | OperatorCreationException e) {
      throw new IllegalArgumentException("csr: signature cannot be verified (" + e.getMessage() + ")", e);
    }
    Builder builder = builder().publicKey(publicKey);
    commonNameOf(csr.getSubject()).ifPresent(builder::commonName);
    Extensions extensions = csr.getRequestedExtensions();
    GeneralNames names = extensions == null ? null : GeneralNames.fromExtensions(extensions,
        Extension.subjectAlternativeName);
    if (names != null) {
      for (GeneralName name : names.getNames()) {
        builder.subjectAlternativeName(fromGeneralName(name));
      }
    }
    return builder;
  }

  /** Same as {@link #fromCsr(byte[])} for PEM text. */
  public static Builder fromCsr(String pem) {
    return fromCsr(requireNonNull(pem, "pem").getBytes(StandardCharsets.ISO_8859_1));
  }

  /** Returns the subject common name, if any. */
  public Optional<String> commonName() {
    return Optional.ofNullable(commonName);
  }

  /** Returns the subject organization, if any. */
  public Optional<String> organization() {
    return Optional.ofNullable(organization);
  }

  /** Returns the subject alternative names, in order. */
  public List<SubjectAlternativeName> subjectAlternativeNames() {
    return subjectAlternativeNames;
  }

  /** Returns the TLS usages; never empty. */
  public Set<Usage> usages() {
    return usages;
  }

  /** Returns how long the certificate is valid, counted from {@link #notBefore()} if set, else from now. */
  public Duration validity() {
    return validity;
  }

  /** Returns the explicit start of validity, if any; otherwise the authority uses now minus one hour. */
  public Optional<Instant> notBefore() {
    return Optional.ofNullable(notBefore);
  }

  /** Returns the subject's public key, if given; otherwise the authority generates a key pair. */
  public Optional<PublicKey> publicKey() {
    return Optional.ofNullable(publicKey);
  }

  @Override
  public String toString() {
    return "CertificateRequest{commonName=" + commonName + ", organization=" + organization
        + ", subjectAlternativeNames=" + subjectAlternativeNames + ", usages=" + usages
        + ", validity=" + validity + ", notBefore=" + notBefore
        + ", publicKey=" + (publicKey == null ? "<generate>" : publicKey.getAlgorithm()) + "}";
  }

  static Optional<String> commonNameOf(X500Name name) {
    RDN[] rdns = name.getRDNs(BCStyle.CN);
    if (rdns.length == 0) {
      return Optional.empty();
    }
    return Optional.of(IETFUtils.valueToString(rdns[0].getFirst().getValue()));
  }

  static SubjectAlternativeName fromGeneralName(GeneralName name) {
    ASN1Encodable value = name.getName();
    switch (name.getTagNo()) {
      case GeneralName.dNSName:
        return SubjectAlternativeName.dns(DERIA5String.getInstance(value).getString());
      case GeneralName.uniformResourceIdentifier:
        return SubjectAlternativeName.uri(DERIA5String.getInstance(value).getString());
      case GeneralName.iPAddress:
        byte[] bytes = ASN1OctetString.getInstance(value).getOctets();
        if (bytes.length != 4 && bytes.length != 16) {
          throw new IllegalArgumentException("subject alternative name: IP address of " + bytes.length
              + " bytes (expected: 4 or 16)");
        }
        return SubjectAlternativeName.ip(SubjectAlternativeName.ipToString(bytes));
      default:
        throw new IllegalArgumentException("subject alternative name: type " + name.getTagNo()
            + " (expected: DNS, IP or URI)");
    }
  }

  /** Builds a {@link CertificateRequest}. Not thread-safe. */
  public static final class Builder {
    private String commonName;
    private String organization;
    private final Set<SubjectAlternativeName> subjectAlternativeNames = new LinkedHashSet<>();
    private final Set<Usage> usages = EnumSet.of(Usage.SERVER, Usage.CLIENT);
    private Duration validity = DEFAULT_VALIDITY;
    private Instant notBefore;
    private PublicKey publicKey;

    private Builder() {}

    /** Sets the subject common name (1-64 characters). */
    public Builder commonName(String commonName) {
      this.commonName = checkName("commonName", commonName);
      return this;
    }

    /** Sets the subject organization (1-64 characters). */
    public Builder organization(String organization) {
      this.organization = checkName("organization", organization);
      return this;
    }

    /** Adds a subject alternative name; duplicates are ignored. */
    public Builder subjectAlternativeName(SubjectAlternativeName name) {
      subjectAlternativeNames.add(requireNonNull(name, "name"));
      return this;
    }

    /** Adds a DNS subject alternative name; shorthand for {@link SubjectAlternativeName#dns(String)}. */
    public Builder dnsName(String name) {
      return subjectAlternativeName(SubjectAlternativeName.dns(name));
    }

    /** Adds an IP subject alternative name; shorthand for {@link SubjectAlternativeName#ip(String)}. */
    public Builder ipAddress(String address) {
      return subjectAlternativeName(SubjectAlternativeName.ip(address));
    }

    /** Adds a URI subject alternative name; shorthand for {@link SubjectAlternativeName#uri(String)}. */
    public Builder uri(String uri) {
      return subjectAlternativeName(SubjectAlternativeName.uri(uri));
    }

    /** Removes all subject alternative names added so far (e.g. those requested by a CSR). */
    public Builder clearSubjectAlternativeNames() {
      subjectAlternativeNames.clear();
      return this;
    }

    /** Sets the TLS usages (default: server and client). */
    public Builder usages(Usage... usages) {
      requireNonNull(usages, "usages");
      if (usages.length == 0) {
        throw new IllegalArgumentException("usages: none (expected: SERVER, CLIENT or both)");
      }
      this.usages.clear();
      for (Usage usage : usages) {
        this.usages.add(requireNonNull(usage, "usage"));
      }
      return this;
    }

    /**
     * Sets the validity (default 90 days), counted from {@link #notBefore(Instant)} if set, else from now.
     *
     * @throws IllegalArgumentException if not positive or longer than {@link #MAX_VALIDITY} (825 days)
     */
    public Builder validity(Duration validity) {
      requireNonNull(validity, "validity");
      if (validity.isNegative() || validity.isZero() || validity.compareTo(MAX_VALIDITY) > 0) {
        throw new IllegalArgumentException("validity: " + validity + " (expected: > 0 and <= "
            + MAX_VALIDITY.toDays() + " days)");
      }
      this.validity = validity;
      return this;
    }

    /**
     * Sets an explicit start of validity, which may lie in the past or the future (e.g. to make expired or
     * not-yet-valid certificates for tests). Default: now minus {@link #DEFAULT_BACKDATE}.
     */
    public Builder notBefore(Instant notBefore) {
      this.notBefore = requireNonNull(notBefore, "notBefore");
      return this;
    }

    /** Sets the subject's public key; without one the authority generates a P-256 key pair. */
    public Builder publicKey(PublicKey publicKey) {
      this.publicKey = requireNonNull(publicKey, "publicKey");
      return this;
    }

    /**
     * Returns the request.
     *
     * @throws IllegalArgumentException if neither a common name nor a subject alternative name is set
     */
    public CertificateRequest build() {
      if (commonName == null && subjectAlternativeNames.isEmpty()) {
        throw new IllegalArgumentException(
            "names: none (expected: a commonName or at least one subject alternative name)");
      }
      return new CertificateRequest(this);
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

  static List<GeneralName> toGeneralNames(List<SubjectAlternativeName> names) {
    List<GeneralName> out = new ArrayList<>(names.size());
    for (SubjectAlternativeName name : names) {
      switch (name.type()) {
        case DNS:
          out.add(new GeneralName(GeneralName.dNSName, name.value()));
          break;
        case IP:
          out.add(new GeneralName(GeneralName.iPAddress,
              new org.bouncycastle.asn1.DEROctetString(SubjectAlternativeName.ipBytes(name.value()))));
          break;
        case URI:
          out.add(new GeneralName(GeneralName.uniformResourceIdentifier, name.value()));
          break;
        default:
          throw new AssertionError(name.type());
      }
    }
    return out;
  }
}
