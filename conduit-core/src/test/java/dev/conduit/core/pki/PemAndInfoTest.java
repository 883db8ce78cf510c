package dev.conduit.core.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class PemAndInfoTest {

  private static final CertificateAuthority CA = CertificateAuthority.builder().commonName("info CA").build();

  @Test
  void readsChainAndKeyBack() {
    IssuedCertificate issued = CA.mintServerLeaf("pem.test");

    assertThat(Pem.readCertificates(issued.chainPem())).containsExactly(issued.certificate(), CA.certificate());
    assertThat(Pem.readCertificate("some text before\n" + issued.certificatePem())).isEqualTo(issued.certificate());
    assertThat(Pem.readPrivateKey(issued.privateKeyPem())).isEqualTo(issued.privateKey().orElseThrow());
    assertThat(issued.chainPem()).startsWith("-----BEGIN CERTIFICATE-----\n")
        .doesNotContain("\r");
  }

  @Test
  void refusesBadPem() {
    assertThatThrownBy(() -> Pem.readCertificates("nothing here"))
        .hasMessage("pem: no CERTIFICATE block found");
    assertThatThrownBy(() -> Pem.readPrivateKey(CA.certificatePem()))
        .hasMessageStartingWith("pem: no private key block found");
    assertThatThrownBy(() -> Pem.readPrivateKey(Pem.encode("ENCRYPTED PRIVATE KEY", new byte[] {0x30, 0x00})))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Pem.readCertificates("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("pem: malformed");
    assertThatThrownBy(() -> Pem.readCsr(CA.certificatePem()))
        .hasMessage("pem: no CERTIFICATE REQUEST block found");
  }

  @Test
  void describesCertificate() throws Exception {
    X509Certificate certificate = CA.issue(CertificateRequest.builder().commonName("node-a").organization("acme")
        .uri("spiffe://conduit/node/a").dnsName("node-a.mesh").ipAddress("198.18.0.1").build())
        .certificate();

    String description = CertificateInfo.describe(certificate);

    String fingerprint = HexFormat.ofDelimiter(":").withUpperCase()
        .formatHex(MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded()));
    assertThat(description).contains(
        "Subject:             CN=node-a,O=acme\n",
        "Issuer:              CN=info CA\n",
        "CA:                  no\n",
        "Alternative names:   URI:spiffe://conduit/node/a, DNS:node-a.mesh, IP:198.18.0.1\n",
        "Public key:          EC P-256 (256 bits)\n",
        "Signature algorithm: SHA256withECDSA\n",
        "Key usage:           digitalSignature\n",
        "Extended key usage:  serverAuth, clientAuth\n",
        "SHA-256 fingerprint: " + fingerprint + "\n",
        "(expires in 89 days)");
    assertThat(CertificateInfo.sha256Fingerprint(certificate)).isEqualTo(fingerprint);
    assertThat(description).contains("Serial:              "
        + HexFormat.ofDelimiter(":").formatHex(trimSign(certificate.getSerialNumber().toByteArray())));
    assertThat(CertificateInfo.describe(CA.certificate()))
        .contains("CA:                  yes (max intermediates 0)", "Key usage:           keyCertSign, cRLSign");
  }

  @Test
  void fingerprintKeepsALeadingZeroByte() throws Exception {
    // about 1 certificate in 256 has a digest starting with 0x00; it was once dropped like a serial's sign byte
    X509Certificate certificate = null;
    for (int i = 0; i < 20_000 && certificate == null; i++) {
      X509Certificate c = CA.issue(CertificateRequest.builder().commonName("zero-" + i).build()).certificate();
      if (MessageDigest.getInstance("SHA-256").digest(c.getEncoded())[0] == 0) {
        certificate = c;
      }
    }
    assertThat(certificate).as("a certificate whose SHA-256 starts with 0x00").isNotNull();

    String fingerprint = CertificateInfo.sha256Fingerprint(certificate);

    assertThat(fingerprint).startsWith("00:").hasSize(32 * 3 - 1);
    assertThat(CertificateInfo.describe(certificate)).contains("SHA-256 fingerprint: " + fingerprint + "\n");
  }

  @Test
  void peerIdentityPrefersUriThenDnsThenCommonName() {
    X509Certificate all = CA.issue(CertificateRequest.builder().commonName("cn").dnsName("dns.test")
        .uri("spiffe://conduit/node/u").build()).certificate();
    X509Certificate dnsAndIp = CA.issue(CertificateRequest.builder().commonName("cn").ipAddress("198.18.0.2")
        .dnsName("dns.test").build()).certificate();
    X509Certificate commonNameOnly = CA.issue(CertificateRequest.builder().commonName("cn")
        .ipAddress("198.18.0.3").build()).certificate();

    assertThat(PeerIdentity.of(all)).isEqualTo(new PeerIdentity(PeerIdentity.Kind.URI, "spiffe://conduit/node/u"));
    assertThat(PeerIdentity.of(dnsAndIp)).isEqualTo(new PeerIdentity(PeerIdentity.Kind.DNS, "dns.test"));
    assertThat(PeerIdentity.of(commonNameOnly)).isEqualTo(new PeerIdentity(PeerIdentity.Kind.COMMON_NAME, "cn"));
    X509Certificate ipOnly = CA.issue(CertificateRequest.builder().ipAddress("198.18.0.4").build()).certificate();
    assertThatThrownBy(() -> PeerIdentity.of(ipOnly)).hasMessageContaining("no URI or DNS name and no common name");
  }

  private static byte[] trimSign(byte[] bytes) {
    return bytes.length > 1 && bytes[0] == 0 ? java.util.Arrays.copyOfRange(bytes, 1, bytes.length) : bytes;
  }
}
