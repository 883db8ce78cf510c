package dev.conduit.core.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.ASN1BitString;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.sec.ECPrivateKey;
import org.bouncycastle.asn1.sec.SECObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CertificateAuthorityTest {

  @TempDir
  Path directory;

  @Test
  void newCaHasCaExtensions() throws Exception {
    CertificateAuthority ca = CertificateAuthority.builder()
        .commonName("conduit test CA").organization("conduit").validity(Duration.ofDays(30)).build();
    X509Certificate certificate = ca.certificate();

    assertThat(certificate.getSubjectX500Principal().getName()).isEqualTo("CN=conduit test CA,O=conduit");
    assertThat(certificate.getIssuerX500Principal()).isEqualTo(certificate.getSubjectX500Principal());
    assertThat(certificate.getSigAlgName()).isEqualTo("SHA256withECDSA");
    assertThat(certificate.getPublicKey().getAlgorithm()).isEqualTo("EC");
    assertThat(certificate.getBasicConstraints()).isZero();
    assertThat(certificate.getCriticalExtensionOIDs())
        .contains(Extension.basicConstraints.getId(), Extension.keyUsage.getId());
    assertThat(certificate.getKeyUsage()).containsExactly(false, false, false, false, false, true, true, false, false);
    assertThat(certificate.getExtensionValue(Extension.subjectKeyIdentifier.getId())).isNotNull();
    assertThat(certificate.getSerialNumber().signum()).isPositive();
    assertThat(Duration.between(certificate.getNotBefore().toInstant(), certificate.getNotAfter().toInstant()))
        .isBetween(Duration.ofDays(30), Duration.ofDays(30).plusHours(2));
    certificate.verify(certificate.getPublicKey());
    assertThat(ca.toString()).contains("conduit test CA").doesNotContain("PRIVATE");
  }

  @Test
  void saveAndLoadRoundTrip() throws Exception {
    CertificateAuthority ca = CertificateAuthority.builder().commonName("round trip CA").build();
    Path pki = directory.resolve("pki");
    ca.save(pki);

    Path keyFile = pki.resolve(CertificateAuthority.KEY_FILE);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(keyFile))).isEqualTo("rw-------");
    assertThat(Files.readString(keyFile)).startsWith("-----BEGIN PRIVATE KEY-----");
    assertThat(Files.readString(pki.resolve(CertificateAuthority.CERTIFICATE_FILE)))
        .isEqualTo(ca.certificatePem());
    try (var files = Files.list(pki)) {
      assertThat(files).hasSize(2); // no temporary files left behind
    }

    CertificateAuthority loaded = CertificateAuthority.load(pki);
    assertThat(loaded.certificate()).isEqualTo(ca.certificate());
    IssuedCertificate issued = loaded.issue(CertificateRequest.builder().commonName("node").build());
    Chains.verify(issued.chain(), ca.certificate());

    assertThatThrownBy(() -> ca.save(pki))
        .isInstanceOf(FileAlreadyExistsException.class)
        .hasMessageContaining("ca.key");
  }

  @Test
  void loadsSec1EcKeys() throws Exception {
    CertificateAuthority ca = CertificateAuthority.builder().commonName("sec1 CA").build();
    Path certFile = directory.resolve("ca.crt");
    Path keyFile = directory.resolve("ca.key");
    ca.writeTo(certFile, keyFile);
    PrivateKey key = Pem.readPrivateKey(keyFile);
    ECPrivateKey inner = ECPrivateKey.getInstance(PrivateKeyInfo.getInstance(key.getEncoded()).parsePrivateKey());
    ASN1BitString publicKey = SubjectPublicKeyInfo.getInstance(ca.certificate().getPublicKey().getEncoded())
        .getPublicKeyData();

    // as OpenSSL writes it: the curve inside the key
    Files.writeString(keyFile, Pem.encode("EC PRIVATE KEY",
        new ECPrivateKey(256, inner.getKey(), publicKey, SECObjectIdentifiers.secp256r1).getEncoded()));
    Chains.verify(CertificateAuthority.load(certFile, keyFile).mintServerLeaf("a.test").chain(), ca.certificate());

    // as "openssl ecparam -genkey" without -noout writes it: the curve named in a preceding block
    Files.writeString(keyFile, Pem.encode("EC PARAMETERS", SECObjectIdentifiers.secp256r1.getEncoded())
        + Pem.encode("EC PRIVATE KEY", new ECPrivateKey(256, inner.getKey(), publicKey, null).getEncoded()));
    Chains.verify(CertificateAuthority.load(certFile, keyFile).mintServerLeaf("b.test").chain(), ca.certificate());
  }

  @Test
  void loadsRsaCaWithPkcs1Key() throws Exception {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    KeyPair keyPair = generator.generateKeyPair();
    X500Name name = new X500Name("CN=legacy RSA CA");
    Instant now = Instant.now();
    X509Certificate rsaCa = Pem.toX509(new JcaX509v3CertificateBuilder(name, BigInteger.TEN,
        Date.from(now.minusSeconds(60)), Date.from(now.plus(Duration.ofDays(10))), name, keyPair.getPublic())
        .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
        .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign))
        .build(new JcaContentSignerBuilder("SHA256withRSA").build(keyPair.getPrivate())));
    StringWriter pem = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(pem)) {
      writer.writeObject(keyPair); // PKCS#1 "RSA PRIVATE KEY"
    }
    String pkcs1 = pem.toString();
    assertThat(pkcs1).contains("BEGIN RSA PRIVATE KEY");

    CertificateAuthority ca = CertificateAuthority.fromPem(Pem.encodeCertificate(rsaCa), pkcs1);
    IssuedCertificate issued = ca.issue(CertificateRequest.builder().commonName("node").dnsName("node.test").build());

    assertThat(issued.certificate().getSigAlgName()).isEqualTo("SHA256withRSA");
    assertThat(issued.certificate().getNotAfter()).isBeforeOrEqualTo(rsaCa.getNotAfter()); // capped at the CA's
    Chains.verify(issued.chain(), rsaCa);
  }

  @Test
  void refusesKeyOfAnotherCaAndNonCaCertificate() {
    CertificateAuthority ca = CertificateAuthority.builder().commonName("one").build();
    CertificateAuthority other = CertificateAuthority.builder().commonName("two").build();
    IssuedCertificate leaf = ca.mintServerLeaf("leaf.test");
    String otherKey = privateKeyPemOf(other);

    assertThatThrownBy(() -> CertificateAuthority.fromPem(ca.certificatePem(), otherKey))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("does not belong to the CA certificate");
    assertThatThrownBy(() -> CertificateAuthority.fromPem(leaf.certificatePem(), leaf.privateKeyPem()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not a CA");
  }

  @Test
  void exportsPkcs12() throws Exception {
    CertificateAuthority ca = CertificateAuthority.builder().commonName("p12 CA").build();
    Path file = directory.resolve("ca.p12");
    ca.writePkcs12(file, "secret".toCharArray());

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(new ByteArrayInputStream(Files.readAllBytes(file)), "secret".toCharArray());
    assertThat(store.getCertificate("ca")).isEqualTo(ca.certificate());
    assertThat(store.getKey("ca", "secret".toCharArray())).isNotNull();
    assertThatThrownBy(() -> ca.toPkcs12(new char[0])).hasMessageContaining("password: empty");
  }

  @Test
  void builderRefusesBadInput() {
    assertThatThrownBy(() -> CertificateAuthority.builder().build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("commonName: not set");
    assertThatThrownBy(() -> CertificateAuthority.builder().commonName("  "))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("commonName: \"  \" (expected: 1-64");
    assertThatThrownBy(() -> CertificateAuthority.builder().validity(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("validity: PT0S");
  }

  private String privateKeyPemOf(CertificateAuthority ca) {
    try {
      ca.writeTo(directory.resolve("other.crt"), directory.resolve("other.key"));
      return Files.readString(directory.resolve("other.key"));
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

}
