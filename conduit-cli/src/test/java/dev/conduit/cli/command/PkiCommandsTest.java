package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.Cli;
import dev.conduit.cli.ExitCode;
import dev.conduit.core.pki.CertificateInfo;
import dev.conduit.core.pki.Pem;
import dev.conduit.core.pki.SubjectAlternativeName;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PkiCommandsTest {

  @Test
  void caInitCertIssueCertShowRoundTrip(@TempDir Path dir) throws Exception {
    Path ca = dir.resolve("ca");
    Cli.Result init = Cli.run("ca", "init", "--dir", ca.toString(), "--cn", "Test CA", "--validity", "30d");
    assertThat(init.exitCode()).as(init.toString()).isZero();
    assertThat(init.out()).contains("Subject:             CN=Test CA", "CA:                  yes");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(ca.resolve("ca.key")))).isEqualTo("rw-------");

    Cli.Result again = Cli.run("ca", "init", "--dir", ca.toString());
    assertThat(again.exitCode()).isEqualTo(ExitCode.FAILURE);
    assertThat(again.errLines()).hasSize(1);
    assertThat(again.err()).contains("already exists");

    Path crt = dir.resolve("node.crt");
    Path key = dir.resolve("node.key");
    Cli.Result issue = Cli.run("cert", "issue", "--ca-dir", ca.toString(), "--name", "node-a",
        "--san", "DNS:node-a.mesh", "--san", "IP:198.18.0.1", "--san", "URI:spiffe://conduit/node/a", "--server",
        "--validity", "10d", "--out-cert", crt.toString(), "--out-key", key.toString());
    assertThat(issue.exitCode()).as(issue.toString()).isZero();
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key))).isEqualTo("rw-------");
    List<X509Certificate> chain = Pem.readCertificates(crt);
    assertThat(chain).hasSize(2);
    assertThat(CertificateInfo.subjectAlternativeNames(chain.get(0))).containsExactly(
        SubjectAlternativeName.dns("node-a.mesh"), SubjectAlternativeName.ip("198.18.0.1"),
        SubjectAlternativeName.uri("spiffe://conduit/node/a"));
    assertThat(chain.get(0).getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1");
    assertThat(Pem.readPrivateKey(key).getAlgorithm()).isEqualTo("EC");
    chain.get(0).verify(chain.get(1).getPublicKey());

    Cli.Result show = Cli.run("cert", "show", crt.toString());
    assertThat(show.exitCode()).isZero();
    assertThat(show.out()).contains("# certificate 1 of 2", "Subject:             CN=node-a",
        "URI:spiffe://conduit/node/a", "Extended key usage:  serverAuth", "# certificate 2 of 2");

    Cli.Result export = Cli.run("ca", "export", "--dir", ca.toString());
    assertThat(export.out()).startsWith("-----BEGIN CERTIFICATE-----");
    assertThat(Pem.readCertificate(export.out())).isEqualTo(chain.get(1));

    Path pass = dir.resolve("pass");
    Files.writeString(pass, "changeit\n");
    Path p12 = dir.resolve("ca.p12");
    Cli.Result exportP12 = Cli.run("ca", "export", "--dir", ca.toString(), "--p12", p12.toString(),
        "--password-file", pass.toString());
    assertThat(exportP12.exitCode()).as(exportP12.toString()).isZero();
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(new ByteArrayInputStream(Files.readAllBytes(p12)), "changeit".toCharArray());
    assertThat(ks.isKeyEntry("ca")).isTrue();
  }

  @Test
  void issueFromCsrAndClientOnlyWithNameAsSan(@TempDir Path dir) throws Exception {
    Path ca = dir.resolve("ca");
    assertThat(Cli.run("ca", "init", "--dir", ca.toString()).exitCode()).isZero();
    // a CSR made with the JDK's keytool, as an operator would
    Path ks = dir.resolve("ks.p12");
    dev.conduit.core.testing.Processes.Result gen = dev.conduit.core.testing.Processes.run("keytool", "-genkeypair",
        "-keystore", ks.toString(), "-storepass", "changeit", "-alias", "k", "-keyalg", "EC", "-dname", "CN=ignored");
    assertThat(gen.exitCode()).as(gen.stderr()).isZero();
    Path csr = dir.resolve("req.csr");
    dev.conduit.core.testing.Processes.Result req = dev.conduit.core.testing.Processes.run("keytool", "-certreq",
        "-keystore", ks.toString(), "-storepass", "changeit", "-alias", "k", "-file", csr.toString());
    assertThat(req.exitCode()).as(req.stderr()).isZero();
    Path crt = dir.resolve("client.crt");
    Cli.Result issue = Cli.run("cert", "issue", "--ca-dir", ca.toString(), "--name", "svc.example", "--client",
        "--csr", csr.toString(), "--out-cert", crt.toString());
    assertThat(issue.exitCode()).as(issue.toString()).isZero();
    X509Certificate leaf = Pem.readCertificates(crt).get(0);
    assertThat(CertificateInfo.subjectAlternativeNames(leaf)).containsExactly(SubjectAlternativeName.dns("svc.example"));
    assertThat(leaf.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.2");

    Cli.Result both = Cli.run("cert", "issue", "--ca-dir", ca.toString(), "--name", "x", "--csr", csr.toString(),
        "--out-cert", crt.toString(), "--out-key", dir.resolve("k").toString());
    assertThat(both.exitCode()).isEqualTo(ExitCode.USAGE);
    Cli.Result badSan = Cli.run("cert", "issue", "--ca-dir", ca.toString(), "--name", "x", "--san", "IP:999.1.1.1",
        "--out-cert", crt.toString(), "--out-key", dir.resolve("k").toString());
    assertThat(badSan.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(badSan.errLines()).hasSize(1);
    Cli.Result noCa = Cli.run("cert", "issue", "--ca-dir", dir.resolve("none").toString(), "--name", "x",
        "--out-cert", crt.toString(), "--out-key", dir.resolve("k").toString());
    assertThat(noCa.exitCode()).isEqualTo(ExitCode.FAILURE);
    assertThat(noCa.err()).contains("no such file");
  }
}
