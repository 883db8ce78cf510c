package dev.conduit.core.pki;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECKey;
import java.security.interfaces.RSAKey;
import java.security.spec.ECGenParameterSpec;
import java.util.List;

/** Key generation, signature algorithm choice and key/certificate matching, all with the JDK's providers. */
final class Keys {

  static final SecureRandom RANDOM = new SecureRandom();

  private Keys() {}

  /** Generates an ECDSA key pair on NIST P-256 (secp256r1). CPU work of well under a millisecond. */
  static KeyPair generateP256() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("EC P-256 key generation is not available in this JDK", e);
    }
  }

  /** Returns a random positive serial number of 128 bits (RFC 5280 allows up to 20 octets). */
  static BigInteger randomSerial() {
    byte[] bytes = new byte[16];
    BigInteger serial;
    do {
      RANDOM.nextBytes(bytes);
      serial = new BigInteger(1, bytes);
    } while (serial.signum() == 0);
    return serial;
  }

  /** Returns the JCA signature algorithm a CA with this key signs with. */
  static String signatureAlgorithm(PrivateKey key) {
    String algorithm = key.getAlgorithm();
    if (key instanceof ECKey) {
      int bits = ((ECKey) key).getParams().getCurve().getField().getFieldSize();
      return bits > 384 ? "SHA512withECDSA" : bits > 256 ? "SHA384withECDSA" : "SHA256withECDSA";
    }
    if (key instanceof RSAKey || "RSA".equals(algorithm)) {
      return "SHA256withRSA";
    }
    if ("Ed25519".equals(algorithm) || "EdDSA".equals(algorithm)) {
      return "Ed25519";
    }
    throw new IllegalArgumentException("key algorithm: " + algorithm + " (expected: EC, RSA or Ed25519)");
  }

  /** Returns true if {@code privateKey} is the private half of {@code publicKey} (checked by signing). */
  static boolean matches(PrivateKey privateKey, PublicKey publicKey) {
    try {
      String algorithm = signatureAlgorithm(privateKey);
      byte[] probe = new byte[32];
      RANDOM.nextBytes(probe);
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(privateKey);
      signer.update(probe);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(publicKey);
      verifier.update(probe);
      return verifier.verify(signature);
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      return false;
    }
  }

  /** Encodes a key entry with its chain as a password-protected PKCS#12 key store. */
  static byte[] pkcs12(String alias, PrivateKey key, List<X509Certificate> chain, char[] password) {
    if (password == null || password.length == 0) {
      throw new IllegalArgumentException("password: empty (expected: a non-empty password)");
    }
    try {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      store.setKeyEntry(alias, key, password, chain.toArray(new Certificate[0]));
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      store.store(out, password);
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("PKCS#12 encoding failed: " + e.getMessage(), e);
    }
  }
}
