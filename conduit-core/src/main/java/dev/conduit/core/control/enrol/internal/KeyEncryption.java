package dev.conduit.core.control.enrol.internal;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * AES-256-GCM with a key kept in a file (32 random bytes, base64, mode 0600): how the CA's private key is kept in
 * the database, so that the database alone (a dump, a backup) does not give it away.
 */
public final class KeyEncryption {

  private static final byte[] ASSOCIATED_DATA = "conduit ca key v1".getBytes(StandardCharsets.US_ASCII);
  private static final SecureRandom RANDOM = new SecureRandom();

  private final byte[] key;

  private KeyEncryption(byte[] key) {
    this.key = key;
  }

  /** Reads the key file, or creates it (mode 0600) when missing and {@code create} is true. */
  public static KeyEncryption loadOrCreate(Path file, boolean create) throws IOException {
    requireNonNull(file, "file");
    if (!Files.exists(file)) {
      if (!create) {
        throw new IllegalArgumentException(file + ": no such file (the certificate authority in the database is "
            + "encrypted with the key file of the manager that created it; copy that file here)");
      }
      byte[] key = new byte[32];
      RANDOM.nextBytes(key);
      SecretFiles.write(file, (Base64.getEncoder().encodeToString(key) + "\n").getBytes(StandardCharsets.US_ASCII),
          true);
      return new KeyEncryption(key);
    }
    SecretFiles.requireOwnerOnly(file);
    byte[] key;
    try {
      key = Base64.getDecoder().decode(Files.readString(file, StandardCharsets.US_ASCII).trim());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": not a conduit key file (expected: 32 bytes in base64)", e);
    }
    if (key.length != 32) {
      throw new IllegalArgumentException(file + ": " + key.length + " bytes (expected: 32 bytes in base64)");
    }
    return new KeyEncryption(key);
  }

  /** Returns {@code sha256:HEX} of the key, stored beside what it encrypted. */
  public String fingerprint() {
    try {
      return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(key));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Returns nonce (12 bytes) followed by ciphertext and tag. */
  public byte[] encrypt(byte[] plain) {
    byte[] nonce = new byte[12];
    RANDOM.nextBytes(nonce);
    try {
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, nonce));
      cipher.updateAAD(ASSOCIATED_DATA);
      byte[] sealed = cipher.doFinal(plain);
      byte[] out = Arrays.copyOf(nonce, nonce.length + sealed.length);
      System.arraycopy(sealed, 0, out, nonce.length, sealed.length);
      return out;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("AES-GCM: " + e.getMessage(), e);
    }
  }

  /**
   * Reverses {@link #encrypt(byte[])}.
   *
   * @throws IllegalArgumentException if the data was not encrypted with this key or was altered
   */
  public byte[] decrypt(byte[] sealed) {
    if (sealed.length < 12 + 16) {
      throw new IllegalArgumentException("encrypted key: too short");
    }
    try {
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, sealed, 0, 12));
      cipher.updateAAD(ASSOCIATED_DATA);
      return cipher.doFinal(sealed, 12, sealed.length - 12);
    } catch (javax.crypto.AEADBadTagException e) {
      throw new IllegalArgumentException("encrypted key: does not decrypt with this key file", e);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("AES-GCM: " + e.getMessage(), e);
    }
  }

  /** Never shows the key. */
  @Override
  public String toString() {
    return "KeyEncryption{" + fingerprint() + "}";
  }

}
