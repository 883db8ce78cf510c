package dev.conduit.core.pki;

import static java.util.Objects.requireNonNull;

import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.nist.NISTNamedCurves;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x9.ECNamedCurveTable;

/**
 * Human-readable facts about a certificate, as {@code conduit cert show} prints them.
 *
 * <pre>
 * Subject:             CN=node-a,O=example
 * Issuer:              CN=conduit CA
 * Serial:              5e:0c:...
 * Not before:          2025-01-01T00:00:00Z
 * Not after:           2025-04-01T00:00:00Z (expires in 89 days)
 * CA:                  no
 * Alternative names:   URI:spiffe://conduit/node/a, DNS:node-a.mesh
 * Public key:          EC P-256 (256 bits)
 * Signature algorithm: SHA256withECDSA
 * Key usage:           digitalSignature
 * Extended key usage:  serverAuth, clientAuth
 * SHA-256 fingerprint: AB:CD:...
 * </pre>
 */
public final class CertificateInfo {

  private static final String[] KEY_USAGES = {"digitalSignature", "nonRepudiation", "keyEncipherment",
      "dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"};
  private static final Map<String, String> EXTENDED_KEY_USAGES = Map.of(
      "1.3.6.1.5.5.7.3.1", "serverAuth",
      "1.3.6.1.5.5.7.3.2", "clientAuth",
      "1.3.6.1.5.5.7.3.3", "codeSigning",
      "1.3.6.1.5.5.7.3.4", "emailProtection",
      "1.3.6.1.5.5.7.3.8", "timeStamping",
      "1.3.6.1.5.5.7.3.9", "OCSPSigning",
      "2.5.29.37.0", "anyExtendedKeyUsage");

  private CertificateInfo() {}

  /** Returns a multi-line description of {@code certificate}, one {@code "Label: value"} fact per line. */
  public static String describe(X509Certificate certificate) {
    requireNonNull(certificate, "certificate");
    Instant now = Instant.now();
    Instant notBefore = certificate.getNotBefore().toInstant();
    Instant notAfter = certificate.getNotAfter().toInstant();
    String state;
    if (now.isBefore(notBefore)) {
      state = "NOT YET VALID, starts in " + humanDuration(Duration.between(now, notBefore));
    } else if (now.isAfter(notAfter)) {
      state = "EXPIRED " + humanDuration(Duration.between(notAfter, now)) + " ago";
    } else {
      state = "expires in " + humanDuration(Duration.between(now, notAfter));
    }
    int pathLength = certificate.getBasicConstraints();
    String ca = pathLength < 0 ? "no"
        : "yes" + (pathLength == Integer.MAX_VALUE ? "" : " (max intermediates " + pathLength + ")");
    List<SubjectAlternativeName> names = subjectAlternativeNames(certificate);
    StringBuilder out = new StringBuilder();
    line(out, "Subject", certificate.getSubjectX500Principal().getName());
    line(out, "Issuer", certificate.getIssuerX500Principal().getName());
    line(out, "Serial", hex(unsigned(certificate.getSerialNumber().toByteArray()), true));
    line(out, "Not before", notBefore.toString());
    line(out, "Not after", notAfter + " (" + state + ")");
    line(out, "CA", ca);
    line(out, "Alternative names", names.isEmpty() ? "none" : join(names));
    line(out, "Public key", describeKey(certificate.getPublicKey()));
    line(out, "Signature algorithm", certificate.getSigAlgName());
    line(out, "Key usage", keyUsage(certificate));
    line(out, "Extended key usage", extendedKeyUsage(certificate));
    line(out, "SHA-256 fingerprint", sha256Fingerprint(certificate));
    return out.toString();
  }

  /** Returns the SHA-256 fingerprint of the DER encoding as upper-case hex pairs separated by colons. */
  public static String sha256Fingerprint(X509Certificate certificate) {
    requireNonNull(certificate, "certificate");
    try {
      return hex(MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded()), false);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 fingerprint failed: " + e.getMessage(), e);
    }
  }

  /** Returns the DNS, IP and URI subject alternative names of {@code certificate}, in order; others are skipped. */
  public static List<SubjectAlternativeName> subjectAlternativeNames(X509Certificate certificate) {
    requireNonNull(certificate, "certificate");
    Collection<List<?>> entries;
    try {
      entries = certificate.getSubjectAlternativeNames();
    } catch (CertificateParsingException e) {
      throw new IllegalArgumentException("certificate: malformed subject alternative names", e);
    }
    if (entries == null) {
      return List.of();
    }
    List<SubjectAlternativeName> names = new ArrayList<>(entries.size());
    for (List<?> entry : entries) {
      int type = (Integer) entry.get(0);
      Object value = entry.get(1);
      if (!(value instanceof String)) {
        continue;
      }
      // values come from a signed certificate: reported as they are, not normalised
      if (type == 2) {
        names.add(new SubjectAlternativeName(SubjectAlternativeName.Type.DNS, (String) value));
      } else if (type == 7) {
        names.add(new SubjectAlternativeName(SubjectAlternativeName.Type.IP, canonicalIp((String) value)));
      } else if (type == 6) {
        names.add(new SubjectAlternativeName(SubjectAlternativeName.Type.URI, (String) value));
      }
    }
    return List.copyOf(names);
  }

  private static String canonicalIp(String address) {
    byte[] bytes = SubjectAlternativeName.ipBytes(address);
    return bytes == null ? address : SubjectAlternativeName.ipToString(bytes);
  }

  private static String describeKey(PublicKey key) {
    if (key instanceof ECPublicKey) {
      int bits = ((ECPublicKey) key).getParams().getCurve().getField().getFieldSize();
      String curve = null;
      try {
        SubjectPublicKeyInfo info = SubjectPublicKeyInfo.getInstance(key.getEncoded());
        if (info.getAlgorithm().getParameters() instanceof ASN1ObjectIdentifier) {
          ASN1ObjectIdentifier oid = (ASN1ObjectIdentifier) info.getAlgorithm().getParameters();
          curve = NISTNamedCurves.getName(oid); // "P-256" rather than "prime256v1"
          if (curve == null) {
            curve = ECNamedCurveTable.getName(oid);
          }
        }
      } catch (RuntimeException e) {
        // fall back to the size alone
      }
      return "EC " + (curve != null ? curve + " " : "") + "(" + bits + " bits)";
    }
    if (key instanceof RSAPublicKey) {
      return "RSA (" + ((RSAPublicKey) key).getModulus().bitLength() + " bits)";
    }
    return key.getAlgorithm();
  }

  private static String keyUsage(X509Certificate certificate) {
    boolean[] bits = certificate.getKeyUsage();
    if (bits == null) {
      return "none";
    }
    List<String> usages = new ArrayList<>();
    for (int i = 0; i < bits.length && i < KEY_USAGES.length; i++) {
      if (bits[i]) {
        usages.add(KEY_USAGES[i]);
      }
    }
    return usages.isEmpty() ? "none" : String.join(", ", usages);
  }

  private static String extendedKeyUsage(X509Certificate certificate) {
    List<String> oids;
    try {
      oids = certificate.getExtendedKeyUsage();
    } catch (CertificateException e) {
      return "malformed";
    }
    if (oids == null || oids.isEmpty()) {
      return "none";
    }
    List<String> usages = new ArrayList<>(oids.size());
    for (String oid : oids) {
      usages.add(EXTENDED_KEY_USAGES.getOrDefault(oid, oid));
    }
    return String.join(", ", usages);
  }

  private static String humanDuration(Duration duration) {
    long days = duration.toDays();
    if (days >= 2) {
      return days + " days";
    }
    long hours = duration.toHours();
    return hours >= 1 ? hours + " hours" : Math.max(0, duration.toMinutes()) + " minutes";
  }

  private static String join(List<?> values) {
    StringBuilder out = new StringBuilder();
    for (Object value : values) {
      if (out.length() > 0) {
        out.append(", ");
      }
      out.append(value);
    }
    return out.toString();
  }

  private static void line(StringBuilder out, String label, String value) {
    out.append(label).append(':');
    for (int i = label.length() + 1; i < 21; i++) {
      out.append(' ');
    }
    out.append(value).append('\n');
  }

  /** A positive BigInteger's bytes without the sign byte it adds when the top bit is set. */
  private static byte[] unsigned(byte[] bytes) {
    return bytes.length > 1 && bytes[0] == 0 ? Arrays.copyOfRange(bytes, 1, bytes.length) : bytes;
  }

  private static String hex(byte[] bytes, boolean lowerCase) {
    StringBuilder out = new StringBuilder(bytes.length * 3);
    for (int i = 0; i < bytes.length; i++) {
      if (i > 0) {
        out.append(':');
      }
      out.append(String.format(lowerCase ? "%02x" : "%02X", bytes[i] & 0xff));
    }
    return out.toString();
  }
}
