package dev.conduit.core.control.store;

import static java.util.Objects.requireNonNull;

import java.time.Instant;

/**
 * The certificate authority as the store keeps it: the certificate in PEM and the private key encrypted (the
 * store never sees it in clear).
 *
 * @param certificatePem the CA certificate
 * @param encryptedKey the encrypted private key
 * @param keyFingerprint {@code sha256:HEX} of the encryption key, so a manager given another key file says so
 * @param createdAt when the CA was stored
 */
public record StoredCa(String certificatePem, byte[] encryptedKey, String keyFingerprint, Instant createdAt) {

  /** Checks the components and copies the key bytes. */
  public StoredCa {
    requireNonNull(certificatePem, "certificatePem");
    encryptedKey = requireNonNull(encryptedKey, "encryptedKey").clone();
    requireNonNull(keyFingerprint, "keyFingerprint");
    requireNonNull(createdAt, "createdAt");
  }

  /** Returns a copy of the encrypted key. */
  @Override
  public byte[] encryptedKey() {
    return encryptedKey.clone();
  }

  /** Describes the record without the key. */
  @Override
  public String toString() {
    return "StoredCa{keyFingerprint=" + keyFingerprint + ", createdAt=" + createdAt + "}";
  }
}
