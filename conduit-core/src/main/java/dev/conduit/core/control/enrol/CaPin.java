package dev.conduit.core.control.enrol;

import static java.util.Objects.requireNonNull;

import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A certificate authority's fingerprint as nodes pin it: {@code "sha256:" + hex(sha256(SubjectPublicKeyInfo))},
 * the format of kubeadm's {@code --discovery-token-ca-cert-hash}. It names the CA's key, so a CA certificate
 * re-issued for the same key keeps its pin.
 */
public final class CaPin {

  private static final Pattern FORMAT = Pattern.compile("sha256:[0-9a-f]{64}");

  private CaPin() {}

  /** Returns the pin of {@code certificate}'s public key. */
  public static String of(X509Certificate certificate) {
    return of(requireNonNull(certificate, "certificate").getPublicKey());
  }

  /** Returns the pin of a public key (its X.509 SubjectPublicKeyInfo encoding). */
  public static String of(PublicKey key) {
    requireNonNull(key, "key");
    return "sha256:" + HexFormat.of().formatHex(sha256(key.getEncoded()));
  }

  /**
   * Normalises a pin given by a person (upper-case hex accepted, surrounding space ignored).
   *
   * @throws IllegalArgumentException if it is not {@code sha256:} and 64 hex digits
   */
  public static String parse(String pin) {
    requireNonNull(pin, "pin");
    String normal = pin.trim().toLowerCase(Locale.ROOT);
    if (!FORMAT.matcher(normal).matches()) {
      throw new IllegalArgumentException("ca pin: '" + pin + "' (expected: sha256: and 64 hex digits, as "
          + "'conduit manager' prints at start)");
    }
    return normal;
  }

  static byte[] sha256(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 is not available", e);
    }
  }
}
