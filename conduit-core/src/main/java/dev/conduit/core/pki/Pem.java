package dev.conduit.core.pki;

import static java.util.Objects.requireNonNull;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1Null;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.sec.ECPrivateKey;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.edec.EdECObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * Reads and writes PEM text: certificates and chains, private keys and certificate signing requests.
 *
 * <p>Private keys are read from PKCS#8 ({@code PRIVATE KEY}), SEC1 ({@code EC PRIVATE KEY}, also with a
 * leading {@code EC PARAMETERS} block as written by {@code openssl ecparam -genkey}) and PKCS#1
 * ({@code RSA PRIVATE KEY}); they are always written as unencrypted PKCS#8. Encrypted keys are refused.
 * All conversions use the JDK's providers; BouncyCastle is used only for parsing, and is never installed
 * as a global security provider.
 */
public final class Pem {

  private static final int LINE_LENGTH = 64;

  private Pem() {}

  /**
   * Reads every certificate in {@code pem}, in order (leaf first for a chain).
   *
   * @throws IllegalArgumentException if the text holds no certificate or a malformed one
   */
  public static List<X509Certificate> readCertificates(String pem) {
    requireNonNull(pem, "pem");
    List<X509Certificate> certificates = new ArrayList<>();
    for (Object object : parseAll(pem)) {
      if (object instanceof X509CertificateHolder) {
        certificates.add(toX509((X509CertificateHolder) object));
      }
    }
    if (certificates.isEmpty()) {
      throw new IllegalArgumentException("pem: no CERTIFICATE block found");
    }
    return List.copyOf(certificates);
  }

  /** Reads every certificate in the PEM file {@code file}; see {@link #readCertificates(String)}. */
  public static List<X509Certificate> readCertificates(Path file) throws IOException {
    return withFile(file, () -> readCertificates(readString(file)));
  }

  /** Reads the first certificate in {@code pem}. */
  public static X509Certificate readCertificate(String pem) {
    return readCertificates(pem).get(0);
  }

  /**
   * Reads the first private key in {@code pem} (PKCS#8, SEC1 EC or PKCS#1 RSA).
   *
   * @throws IllegalArgumentException if no key is found, the key is encrypted, or its algorithm is unknown
   */
  public static PrivateKey readPrivateKey(String pem) {
    requireNonNull(pem, "pem");
    ASN1ObjectIdentifier ecParameters = null;
    for (Object object : parseAll(pem)) {
      if (object instanceof ASN1ObjectIdentifier) {
        ecParameters = (ASN1ObjectIdentifier) object; // an EC PARAMETERS block naming the curve
      }
      if (object instanceof PrivateKeyInfo) {
        return toPrivateKey(withCurve((PrivateKeyInfo) object, ecParameters));
      }
      if (object instanceof PEMKeyPair) {
        return toPrivateKey(withCurve(((PEMKeyPair) object).getPrivateKeyInfo(), ecParameters));
      }
      if (object instanceof PEMEncryptedKeyPair || object instanceof PKCS8EncryptedPrivateKeyInfo) {
        throw new IllegalArgumentException("pem: encrypted private keys are not supported (decrypt it first, "
            + "e.g. openssl pkey -in key.pem -out key-plain.pem)");
      }
    }
    throw new IllegalArgumentException(
        "pem: no private key block found (expected: PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)");
  }

  /** Reads the first private key in the PEM file {@code file}; see {@link #readPrivateKey(String)}. */
  public static PrivateKey readPrivateKey(Path file) throws IOException {
    return withFile(file, () -> readPrivateKey(readString(file)));
  }

  /**
   * Returns the DER encoding of the first {@code CERTIFICATE REQUEST} (or {@code NEW CERTIFICATE REQUEST})
   * block in {@code pem}; pass it to {@link CertificateRequest#fromCsr(byte[])}.
   */
  public static byte[] readCsr(String pem) {
    requireNonNull(pem, "pem");
    for (Object object : parseAll(pem)) {
      if (object instanceof PKCS10CertificationRequest) {
        try {
          return ((PKCS10CertificationRequest) object).getEncoded();
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
    }
    throw new IllegalArgumentException("pem: no CERTIFICATE REQUEST block found");
  }

  /** Encodes {@code certificates} as consecutive {@code CERTIFICATE} blocks. */
  public static String encodeCertificates(List<X509Certificate> certificates) {
    requireNonNull(certificates, "certificates");
    StringBuilder out = new StringBuilder();
    for (X509Certificate certificate : certificates) {
      try {
        out.append(encode("CERTIFICATE", certificate.getEncoded()));
      } catch (CertificateEncodingException e) {
        throw new IllegalArgumentException("certificate: cannot be encoded", e);
      }
    }
    return out.toString();
  }

  /** Encodes {@code certificate} as one {@code CERTIFICATE} block. */
  public static String encodeCertificate(X509Certificate certificate) {
    return encodeCertificates(List.of(requireNonNull(certificate, "certificate")));
  }

  /** Encodes {@code key} as an unencrypted PKCS#8 {@code PRIVATE KEY} block. */
  public static String encodePrivateKey(PrivateKey key) {
    requireNonNull(key, "key");
    if (!"PKCS#8".equals(key.getFormat()) || key.getEncoded() == null) {
      throw new IllegalArgumentException("key: format " + key.getFormat() + " (expected: PKCS#8)");
    }
    return encode("PRIVATE KEY", key.getEncoded());
  }

  /** Encodes {@code der} as a PEM block with the given {@code type}, e.g. {@code "CERTIFICATE REQUEST"}. */
  public static String encode(String type, byte[] der) {
    requireNonNull(type, "type");
    requireNonNull(der, "der");
    String base64 = Base64.getEncoder().encodeToString(der);
    StringBuilder out = new StringBuilder(base64.length() + base64.length() / LINE_LENGTH + 64);
    out.append("-----BEGIN ").append(type).append("-----\n");
    for (int i = 0; i < base64.length(); i += LINE_LENGTH) {
      out.append(base64, i, Math.min(base64.length(), i + LINE_LENGTH)).append('\n');
    }
    return out.append("-----END ").append(type).append("-----\n").toString();
  }

  static PublicKey toPublicKey(SubjectPublicKeyInfo info) {
    try {
      return keyFactory(info.getAlgorithm().getAlgorithm())
          .generatePublic(new X509EncodedKeySpec(info.getEncoded()));
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException("public key: cannot be decoded (" + e.getMessage() + ")", e);
    }
  }

  static X509Certificate toX509(X509CertificateHolder holder) {
    try {
      return (X509Certificate) CertificateFactory.getInstance("X.509")
          .generateCertificate(new ByteArrayInputStream(holder.getEncoded()));
    } catch (IOException | CertificateException e) {
      throw new IllegalArgumentException("certificate: cannot be decoded (" + e.getMessage() + ")", e);
    }
  }

  /**
   * SEC1 keys may leave the curve out of the key itself and name it in a preceding EC PARAMETERS block; the
   * JDK needs it in the PKCS#8 algorithm identifier.
   */
  private static PrivateKeyInfo withCurve(PrivateKeyInfo info, ASN1ObjectIdentifier ecParameters) {
    AlgorithmIdentifier algorithm = info.getPrivateKeyAlgorithm();
    if (!X9ObjectIdentifiers.id_ecPublicKey.equals(algorithm.getAlgorithm())) {
      return info;
    }
    ASN1Encodable parameters = algorithm.getParameters();
    if (parameters != null && !(parameters instanceof ASN1Null)) {
      return info;
    }
    try {
      ECPrivateKey key = ECPrivateKey.getInstance(info.parsePrivateKey());
      ASN1Encodable curve = key.getParametersObject(); // getParameters() throws when absent
      if (curve == null) {
        curve = ecParameters;
      }
      if (curve == null) {
        throw new IllegalArgumentException("private key: EC key does not name its curve");
      }
      return new PrivateKeyInfo(new AlgorithmIdentifier(X9ObjectIdentifiers.id_ecPublicKey, curve), key);
    } catch (IOException e) {
      throw new IllegalArgumentException("private key: malformed EC key (" + e.getMessage() + ")", e);
    }
  }

  private static PrivateKey toPrivateKey(PrivateKeyInfo info) {
    try {
      return keyFactory(info.getPrivateKeyAlgorithm().getAlgorithm())
          .generatePrivate(new PKCS8EncodedKeySpec(info.getEncoded()));
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException("private key: cannot be decoded (" + e.getMessage() + ")", e);
    }
  }

  private static KeyFactory keyFactory(ASN1ObjectIdentifier algorithm) throws GeneralSecurityException {
    if (X9ObjectIdentifiers.id_ecPublicKey.equals(algorithm)) {
      return KeyFactory.getInstance("EC");
    }
    if (PKCSObjectIdentifiers.rsaEncryption.equals(algorithm)) {
      return KeyFactory.getInstance("RSA");
    }
    if (EdECObjectIdentifiers.id_Ed25519.equals(algorithm)) {
      return KeyFactory.getInstance("Ed25519");
    }
    throw new IllegalArgumentException("key algorithm: " + algorithm + " (expected: EC, RSA or Ed25519)");
  }

  private static List<Object> parseAll(String pem) {
    List<Object> objects = new ArrayList<>();
    try (PEMParser parser = new PEMParser(new StringReader(pem))) {
      for (Object object = parser.readObject(); object != null; object = parser.readObject()) {
        objects.add(object);
      }
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException("pem: malformed (" + e.getMessage() + ")", e);
    }
    return objects;
  }

  private static String readString(Path file) throws IOException {
    return Files.readString(requireNonNull(file, "file"), StandardCharsets.ISO_8859_1);
  }

  /** Prefixes parse errors with the file name, so a CLI user sees which file is bad. */
  private static <T> T withFile(Path file, IoSupplier<T> reader) throws IOException {
    try {
      return reader.get();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
    }
  }

  @FunctionalInterface
  private interface IoSupplier<T> {
    T get() throws IOException;
  }
}
