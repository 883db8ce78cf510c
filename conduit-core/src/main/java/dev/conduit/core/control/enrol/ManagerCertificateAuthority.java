package dev.conduit.core.control.enrol;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.control.enrol.internal.KeyEncryption;
import dev.conduit.core.control.store.ControlStore;
import dev.conduit.core.control.store.StoredCa;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.Pem;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mesh's certificate authority, created once and kept in the {@link ControlStore}: its certificate in clear,
 * its private key encrypted (AES-256-GCM) with a key file of mode 0600 kept beside the manager, never in the
 * database. A restart, or a second manager on the same PostgreSQL database given a copy of the key file, loads the
 * same CA; it never makes a new one over an existing one.
 */
public final class ManagerCertificateAuthority {

  private static final Logger log = LoggerFactory.getLogger(ManagerCertificateAuthority.class);

  private ManagerCertificateAuthority() {}

  /**
   * Loads the CA from {@code store}, or creates one (common name, organization, lifetime) and stores it when the
   * store has none. The key file is created (mode 0600) only together with a new CA.
   *
   * @param organization the CA's organization, or null
   * @throws IllegalArgumentException if the key file is missing, unreadable by its mode, or not the one the CA
   *     was encrypted with
   */
  public static CertificateAuthority loadOrCreate(ControlStore store, Path keyFile, String commonName,
      String organization, CertificateLifetime lifetime) throws IOException {
    requireNonNull(store, "store");
    requireNonNull(keyFile, "keyFile");
    requireNonNull(commonName, "commonName");
    requireNonNull(lifetime, "lifetime");
    Optional<StoredCa> stored = store.certificateAuthority();
    if (stored.isEmpty()) {
      KeyEncryption encryption = KeyEncryption.loadOrCreate(keyFile, true);
      CertificateAuthority.Builder builder = CertificateAuthority.builder().commonName(commonName)
          .validity(lifetime.from(Instant.now()));
      if (organization != null) {
        builder.organization(organization);
      }
      CertificateAuthority created = builder.build();
      byte[] key = keyBytes(created);
      StoredCa record = new StoredCa(created.certificatePem(), encryption.encrypt(key), encryption.fingerprint(),
          Instant.now());
      if (store.storeCertificateAuthorityIfAbsent(record)) {
        log.info("manager: created the mesh certificate authority {} (pin {}), key encrypted with {}",
            created.certificate().getSubjectX500Principal(), CaPin.of(created.certificate()), keyFile);
        return created;
      }
      stored = store.certificateAuthority(); // another manager stored one first: use that one
    }
    KeyEncryption encryption = KeyEncryption.loadOrCreate(keyFile, false);
    StoredCa ca = stored.orElseThrow();
    if (!ca.keyFingerprint().equals(encryption.fingerprint())) {
      throw new IllegalArgumentException(keyFile + ": not the key file the certificate authority was encrypted with "
          + "(copy the key file of the manager that created it)");
    }
    PrivateKey key = Pem.readPrivateKey(new String(encryption.decrypt(ca.encryptedKey()), StandardCharsets.US_ASCII));
    CertificateAuthority loaded = CertificateAuthority.of(List.copyOf(Pem.readCertificates(ca.certificatePem())), key);
    Duration left = Duration.between(Instant.now(), loaded.certificate().getNotAfter().toInstant());
    if (left.compareTo(Duration.ofDays(90)) < 0) {
      log.warn("manager: the mesh certificate authority expires in {} days ({}); every node certificate ends with it",
          left.toDays(), loaded.certificate().getNotAfter().toInstant());
    }
    return loaded;
  }

  private static byte[] keyBytes(CertificateAuthority ca) {
    // the PKCS#12 form would need a password; the PEM of the key is what Pem reads back
    String pem = Pem.encodePrivateKey(privateKeyOf(ca));
    return pem.getBytes(StandardCharsets.US_ASCII);
  }

  private static PrivateKey privateKeyOf(CertificateAuthority ca) {
    char[] password = "conduit".toCharArray();
    try {
      java.security.KeyStore store = java.security.KeyStore.getInstance("PKCS12");
      store.load(new java.io.ByteArrayInputStream(ca.toPkcs12(password)), password);
      return (PrivateKey) store.getKey("ca", password);
    } catch (IOException | java.security.GeneralSecurityException e) {
      throw new IllegalStateException("ca key: " + e.getMessage(), e);
    }
  }
}
