package dev.conduit.core.tunnel;

import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.pki.IssuedCertificate;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Writes a test CA's certificate, or a certificate it issues with its key, as PEM files in a directory. */
final class TunnelTestPki {
  private TunnelTestPki() {}

  /** {@code <name>.pem} (and {@code <name>.key} when {@code request} is given) in {@code dir}. */
  static void write(Path dir, CertificateAuthority ca, String name, CertificateRequest request) throws IOException {
    if (request == null) {
      Files.writeString(dir.resolve(name + ".pem"), ca.certificatePem());
      return;
    }
    IssuedCertificate issued = ca.issue(request);
    // replace atomically, as certificate renewal tools do (reload tests rewrite files a listener watches)
    Path tmpCert = dir.resolve(name + ".pem.tmp");
    Path tmpKey = dir.resolve(name + ".key.tmp");
    issued.writeTo(tmpCert, tmpKey);
    Files.move(tmpKey, dir.resolve(name + ".key"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    Files.move(tmpCert, dir.resolve(name + ".pem"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
