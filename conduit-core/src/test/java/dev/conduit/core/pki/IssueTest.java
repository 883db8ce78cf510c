package dev.conduit.core.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.pki.CertificateRequest.Usage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.ArrayList;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IssueTest {

  private static final CertificateAuthority CA = CertificateAuthority.builder().commonName("issue test CA").build();

  @TempDir
  Path directory;

  @Test
  void issuesEachSanTypeWithGeneratedKey() throws Exception {
    IssuedCertificate issued = CA.issue(CertificateRequest.builder()
        .commonName("node-a")
        .organization("conduit")
        .uri("spiffe://conduit/node/a")
        .dnsName("Node-A.Mesh.Internal.")
        .ipAddress("198.18.0.1")
        .ipAddress("[fd00::1]")
        .usages(Usage.SERVER, Usage.CLIENT)
        .build());
    X509Certificate certificate = issued.certificate();

    assertThat(CertificateInfo.subjectAlternativeNames(certificate)).containsExactly(
        SubjectAlternativeName.uri("spiffe://conduit/node/a"),
        SubjectAlternativeName.dns("node-a.mesh.internal"),
        SubjectAlternativeName.ip("198.18.0.1"),
        SubjectAlternativeName.ip("fd00:0:0:0:0:0:0:1"));
    assertThat(certificate.getSubjectX500Principal().getName()).isEqualTo("CN=node-a,O=conduit");
    assertThat(certificate.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
    assertThat(certificate.getBasicConstraints()).isEqualTo(-1);
    assertThat(certificate.getKeyUsage()[0]).isTrue(); // digitalSignature
    assertThat(certificate.getExtensionValue(Extension.authorityKeyIdentifier.getId())).isNotNull();
    assertThat(issued.chain()).containsExactly(certificate, CA.certificate());
    assertThat(issued.privateKey()).isPresent();
    Duration validity = Duration.between(Instant.now(), certificate.getNotAfter().toInstant());
    assertThat(validity).isBetween(Duration.ofDays(90).minusMinutes(1), Duration.ofDays(90));
    assertThat(certificate.getNotBefore().toInstant()).isBefore(Instant.now().minus(Duration.ofMinutes(59)));
    Chains.verify(issued.chain(), CA.certificate());
    assertThat(issued.toString()).contains("node-a").contains("hidden").doesNotContain("BEGIN");
  }

  @Test
  void usagesMapToExtendedKeyUsage() throws Exception {
    X509Certificate server = CA.issue(CertificateRequest.builder().commonName("s").usages(Usage.SERVER).build())
        .certificate();
    X509Certificate client = CA.issue(CertificateRequest.builder().commonName("c").usages(Usage.CLIENT).build())
        .certificate();

    assertThat(server.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1");
    assertThat(client.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.2");
  }

  @Test
  void sanOnlyCertificateHasEmptySubjectAndCriticalSan() throws Exception {
    X509Certificate certificate = CA.issue(CertificateRequest.builder().uri("spiffe://conduit/node/b").build())
        .certificate();

    assertThat(certificate.getSubjectX500Principal().getName()).isEmpty();
    assertThat(certificate.getCriticalExtensionOIDs()).contains(Extension.subjectAlternativeName.getId());
    assertThat(PeerIdentity.of(certificate)).isEqualTo(new PeerIdentity(PeerIdentity.Kind.URI, "spiffe://conduit/node/b"));
  }

  @Test
  void issuesExpiredAndNotYetValidCertificates() throws Exception {
    Instant now = Instant.now();
    IssuedCertificate expired = CA.issue(CertificateRequest.builder().commonName("old")
        .notBefore(now.minus(Duration.ofDays(10))).validity(Duration.ofDays(1)).build());
    IssuedCertificate future = CA.issue(CertificateRequest.builder().commonName("future")
        .notBefore(now.plus(Duration.ofDays(1))).validity(Duration.ofDays(1)).build());

    assertThatThrownBy(() -> expired.certificate().checkValidity()).isInstanceOf(CertificateExpiredException.class);
    assertThatThrownBy(() -> future.certificate().checkValidity())
        .isInstanceOf(CertificateNotYetValidException.class);
    assertThatThrownBy(() -> Chains.verify(expired.chain(), CA.certificate()))
        .isInstanceOf(CertPathValidatorException.class);
    Chains.verify(future.chain(), CA.certificate(), Date.from(now.plus(Duration.ofHours(36))));
    assertThat(CertificateInfo.describe(expired.certificate())).contains("EXPIRED");
    assertThat(CertificateInfo.describe(future.certificate())).contains("NOT YET VALID");
  }

  @Test
  void issuesFromCsrAndVerifiesChain() throws Exception {
    KeyPair requester = Keys.generateP256();
    String csrPem = Pem.encode("CERTIFICATE REQUEST", csr(requester, requester, "node-c",
        new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://conduit/node/c"),
        new GeneralName(GeneralName.dNSName, "node-c.mesh")));

    CertificateRequest request = CertificateRequest.fromCsr(csrPem).usages(Usage.CLIENT).build();
    IssuedCertificate issued = CA.issue(request);

    assertThat(issued.certificate().getPublicKey()).isEqualTo(requester.getPublic());
    assertThat(issued.privateKey()).isEmpty();
    assertThat(issued.certificate().getSubjectX500Principal().getName()).isEqualTo("CN=node-c");
    assertThat(CertificateInfo.subjectAlternativeNames(issued.certificate())).containsExactly(
        SubjectAlternativeName.uri("spiffe://conduit/node/c"), SubjectAlternativeName.dns("node-c.mesh"));
    Chains.verify(issued.chain(), CA.certificate());
    assertThatThrownBy(issued::privateKeyPem).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("privateKey: none");

    // DER works as well, and the authority may override the requested names
    byte[] der = Pem.readCsr(csrPem);
    CertificateRequest overridden = CertificateRequest.fromCsr(der).clearSubjectAlternativeNames()
        .uri("spiffe://conduit/node/c2").build();
    assertThat(PeerIdentity.of(CA.issue(overridden).certificate()).value()).isEqualTo("spiffe://conduit/node/c2");
  }

  @Test
  void refusesCsrWithBadSignature() throws Exception {
    KeyPair claimed = Keys.generateP256();
    KeyPair signer = Keys.generateP256();
    byte[] forged = csr(claimed, signer, "forged");

    assertThatThrownBy(() -> CertificateRequest.fromCsr(forged))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("csr: signature does not verify with the CSR's public key");
    assertThatThrownBy(() -> CertificateRequest.fromCsr(new byte[] {0x30, 0x03, 0x02, 0x01, 0x01}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("csr: malformed");
  }

  @Test
  void refusesBadInput() {
    assertThatThrownBy(() -> CertificateRequest.builder().build())
        .hasMessage("names: none (expected: a commonName or at least one subject alternative name)");
    assertThatThrownBy(() -> CertificateRequest.builder().commonName(""))
        .hasMessage("commonName: \"\" (expected: 1-64 characters)");
    assertThatThrownBy(() -> CertificateRequest.builder().validity(Duration.ofDays(826)))
        .hasMessage("validity: PT19824H (expected: > 0 and <= 825 days)");
    assertThatThrownBy(() -> CertificateRequest.builder().validity(Duration.ofSeconds(-1)))
        .hasMessageStartingWith("validity: PT-1S");
    assertThatThrownBy(() -> CertificateRequest.builder().dnsName(""))
        .hasMessageStartingWith("dns name: \"\"");
    assertThatThrownBy(() -> CertificateRequest.builder().dnsName("bad name.example"))
        .hasMessageStartingWith("dns name: \"bad name.example\"");
    assertThatThrownBy(() -> CertificateRequest.builder().ipAddress("300.1.1.1"))
        .hasMessage("ip: \"300.1.1.1\" (expected: an IPv4 or IPv6 literal)");
    assertThatThrownBy(() -> CertificateRequest.builder().uri("no-scheme"))
        .hasMessageContaining("expected: an absolute URI");
    assertThatThrownBy(() -> CertificateRequest.builder().usages())
        .hasMessageStartingWith("usages: none");
    assertThatThrownBy(() -> CA.mintServerLeaf("*.example.com"))
        .hasMessageContaining("wildcards are not allowed");
    assertThatThrownBy(() -> CA.mintServerLeaf(""))
        .hasMessageStartingWith("dns name: \"\"");
    assertThatThrownBy(() -> CA.mintServerLeaf("a.test", Duration.ofDays(900)))
        .hasMessageStartingWith("validity: PT21600H");
  }

  @Test
  void parsesCommandLineNames() {
    assertThat(SubjectAlternativeName.parse("10.0.0.1")).isEqualTo(SubjectAlternativeName.ip("10.0.0.1"));
    assertThat(SubjectAlternativeName.parse("::1")).isEqualTo(SubjectAlternativeName.ip("::1"));
    assertThat(SubjectAlternativeName.parse("spiffe://conduit/node/a").type()).isEqualTo(SubjectAlternativeName.Type.URI);
    assertThat(SubjectAlternativeName.parse("DNS:*.Example.com")).isEqualTo(SubjectAlternativeName.dns("*.example.com"));
    assertThat(SubjectAlternativeName.parse("IP:198.18.0.9").value()).isEqualTo("198.18.0.9");
    assertThat(SubjectAlternativeName.parse("bücher.example").value()).isEqualTo("xn--bcher-kva.example");
  }

  @Test
  void mintsLeafWithExactSanForHostAndIp() throws Exception {
    IssuedCertificate host = CA.mintServerLeaf("Registry-1.Docker.IO");
    IssuedCertificate ipv4 = CA.mintServerLeaf("198.18.0.7");
    IssuedCertificate ipv6 = CA.mintServerLeaf("[fd00::7]");

    assertThat(CertificateInfo.subjectAlternativeNames(host.certificate()))
        .containsExactly(SubjectAlternativeName.dns("registry-1.docker.io"));
    assertThat(host.certificate().getSubjectX500Principal().getName()).isEqualTo("CN=registry-1.docker.io");
    assertThat(CertificateInfo.subjectAlternativeNames(ipv4.certificate()))
        .containsExactly(SubjectAlternativeName.ip("198.18.0.7"));
    assertThat(CertificateInfo.subjectAlternativeNames(ipv6.certificate()))
        .containsExactly(SubjectAlternativeName.ip("fd00::7"));
    for (IssuedCertificate leaf : List.of(host, ipv4, ipv6)) {
      X509Certificate certificate = leaf.certificate();
      Chains.verify(leaf.chain(), CA.certificate());
      assertThat(certificate.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1");
      assertThat(certificate.getPublicKey().getAlgorithm()).isEqualTo("EC");
      assertThat(certificate.getSerialNumber().signum()).isPositive();
      assertThat(certificate.getSerialNumber().bitLength()).isLessThanOrEqualTo(128);
      Instant notBefore = certificate.getNotBefore().toInstant();
      assertThat(Duration.between(notBefore, Instant.now())).isBetween(Duration.ofMinutes(59), Duration.ofMinutes(61));
      assertThat(Duration.between(Instant.now(), certificate.getNotAfter().toInstant()))
          .isBetween(Duration.ofDays(7).minusMinutes(1), Duration.ofDays(7));
    }
    assertThat(host.certificate().getPublicKey()).isNotEqualTo(ipv4.certificate().getPublicKey());
  }

  @Test
  void sharedLeafKeyIsAnExplicitOption() throws Exception {
    CertificateAuthority shared = CA.withSharedLeafKey();
    IssuedCertificate a = shared.mintServerLeaf("a.test");
    IssuedCertificate b = shared.mintServerLeaf("b.test");

    assertThat(a.certificate().getPublicKey()).isEqualTo(b.certificate().getPublicKey());
    assertThat(shared.issue(CertificateRequest.builder().commonName("n").build()).certificate().getPublicKey())
        .isNotEqualTo(a.certificate().getPublicKey());
    Chains.verify(b.chain(), CA.certificate());
  }

  @Test
  void mintsConcurrently() throws Exception {
    ExecutorService executor = Executors.newFixedThreadPool(4);
    try {
      List<Future<IssuedCertificate>> futures = new ArrayList<>();
      for (int i = 0; i < 64; i++) {
        String host = "host" + i + ".test";
        futures.add(executor.submit(() -> CA.mintServerLeaf(host)));
      }
      Set<Object> serials = new HashSet<>();
      for (int i = 0; i < futures.size(); i++) {
        IssuedCertificate leaf = futures.get(i).get(30, TimeUnit.SECONDS);
        assertThat(PeerIdentity.of(leaf.certificate()).value()).isEqualTo("host" + i + ".test");
        leaf.certificate().verify(CA.certificate().getPublicKey());
        serials.add(leaf.certificate().getSerialNumber());
      }
      assertThat(serials).hasSize(64);
    } finally {
      executor.shutdownNow();
    }
  }

  @Test
  void writesCertificateAndKeyFiles() throws Exception {
    IssuedCertificate issued = CA.issue(CertificateRequest.builder().commonName("files").build());
    Path cert = directory.resolve("node.crt");
    Path key = directory.resolve("node.key");
    issued.writeTo(cert, key);

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key))).isEqualTo("rw-------");
    assertThat(Pem.readCertificates(cert)).containsExactly(issued.certificate(), CA.certificate());
    assertThat(Pem.readPrivateKey(key)).isEqualTo(issued.privateKey().orElseThrow());
  }

  static byte[] csr(KeyPair subject, KeyPair signer, String commonName, GeneralName... names) throws Exception {
    PKCS10CertificationRequestBuilder builder = new PKCS10CertificationRequestBuilder(
        new X500Name("CN=" + commonName), SubjectPublicKeyInfo.getInstance(subject.getPublic().getEncoded()));
    if (names.length > 0) {
      ExtensionsGenerator extensions = new ExtensionsGenerator();
      extensions.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names));
      builder.addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, extensions.generate());
    }
    return builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer.getPrivate())).getEncoded();
  }
}
