package dev.conduit.mitm;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.pki.CertificateAuthority;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The interception CA kept on disk, as dduct's {@code cert_dir}: loaded from {@code ca.crt} and
 * {@code ca.key} when they exist (the user's own files work the same way), otherwise created on first
 * start and written as {@code ca.crt}, {@code ca.key} (mode 0600) and {@code ca.p12} (mode 0600) for
 * clients and tools that want PKCS#12. Clients must trust {@code ca.crt}.
 */
public final class MitmCa {

  /** The PKCS#12 file written next to the PEM files. */
  public static final String PKCS12_FILE = "ca.p12";

  private static final Logger log = LoggerFactory.getLogger(MitmCa.class);

  private MitmCa() {
  }

  /**
   * Loads the CA in {@code directory}, or creates one there (with common name {@code commonName}).
   * Blocking file I/O and key generation: call it at start-up, not on an event loop.
   *
   * @param directory the certificate directory, created if missing
   * @param commonName the new CA's common name, e.g. {@code conduit MITM CA}
   * @param pkcs12Password the password of {@code ca.p12}
   * @throws IOException if the files cannot be read or written, or only one of {@code ca.crt} and
   *     {@code ca.key} exists
   */
  public static CertificateAuthority loadOrCreate(Path directory, String commonName, char[] pkcs12Password)
      throws IOException {
    return loadOrCreate(directory, commonName, pkcs12Password, null);
  }

  /**
   * As {@link #loadOrCreate(Path, String, char[])}, with the lifetime of a newly created CA.
   *
   * @param validity the new CA certificate's lifetime; null for the default
   * @throws IOException as {@link #loadOrCreate(Path, String, char[])}
   */
  public static CertificateAuthority loadOrCreate(Path directory, String commonName, char[] pkcs12Password,
      java.time.Duration validity) throws IOException {
    requireNonNull(directory, "directory");
    requireNonNull(commonName, "commonName");
    requireNonNull(pkcs12Password, "pkcs12Password");
    Path cert = directory.resolve(CertificateAuthority.CERTIFICATE_FILE);
    Path key = directory.resolve(CertificateAuthority.KEY_FILE);
    boolean hasCert = Files.exists(cert);
    boolean hasKey = Files.exists(key);
    if (hasCert && hasKey) {
      log.info("Read {} and {}", cert, key);
      return CertificateAuthority.load(cert, key);
    }
    if (hasCert || hasKey) {
      throw new IOException("CA in " + directory + ": found only " + (hasCert ? cert : key)
          + " (expected: both " + CertificateAuthority.CERTIFICATE_FILE + " and " + CertificateAuthority.KEY_FILE
          + ", or neither to create a new CA)");
    }
    Files.createDirectories(directory);
    CertificateAuthority.Builder b = CertificateAuthority.builder().commonName(commonName);
    if (validity != null) {
      b.validity(validity);
    }
    CertificateAuthority ca = b.build();
    ca.save(directory);
    ca.writePkcs12(directory.resolve(PKCS12_FILE), pkcs12Password);
    log.info("Wrote {}, {} and {}", cert, key, directory.resolve(PKCS12_FILE));
    return ca;
  }
}
