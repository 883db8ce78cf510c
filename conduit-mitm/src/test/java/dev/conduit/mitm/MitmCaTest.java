package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.pki.CertificateAuthority;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.KeyStore;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MitmCaTest {
  @TempDir
  Path dir;

  @Test
  void createdOnFirstStartThenLoaded() throws Exception {
    Path certs = dir.resolve("certs");
    CertificateAuthority created = MitmCa.loadOrCreate(certs, "conduit MITM CA", "dduct".toCharArray());
    assertThat(created.certificate().getSubjectX500Principal().getName()).contains("CN=conduit MITM CA");
    assertThat(Files.readString(certs.resolve("ca.crt"))).startsWith("-----BEGIN CERTIFICATE-----");
    assertThat(Files.getPosixFilePermissions(certs.resolve("ca.key")))
        .containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
    assertThat(Files.getPosixFilePermissions(certs.resolve("ca.p12")))
        .isEqualTo(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));
    KeyStore p12 = KeyStore.getInstance("PKCS12");
    p12.load(new ByteArrayInputStream(Files.readAllBytes(certs.resolve("ca.p12"))), "dduct".toCharArray());
    assertThat(p12.getCertificate("ca")).isEqualTo(created.certificate());

    CertificateAuthority loaded = MitmCa.loadOrCreate(certs, "ignored", "dduct".toCharArray());
    assertThat(loaded.certificate()).isEqualTo(created.certificate());
    // leaves minted by the loaded CA chain to the created one
    loaded.mintServerLeaf("quay.io").certificate().verify(created.certificate().getPublicKey());
  }

  @Test
  void aLoneCertificateOrKeyIsAnError() throws Exception {
    Files.writeString(dir.resolve("ca.crt"), "x");
    assertThatThrownBy(() -> MitmCa.loadOrCreate(dir, "ca", new char[0]))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("found only").hasMessageContaining("ca.crt");
    assertThat(dir.resolve("ca.key")).doesNotExist();
  }
}
