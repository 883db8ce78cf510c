package dev.conduit.cli.command;

import dev.conduit.cli.CliException;
import dev.conduit.cli.ExitCode;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateInfo;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.pki.IssuedCertificate;
import dev.conduit.core.pki.Pem;
import dev.conduit.core.pki.SubjectAlternativeName;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code conduit cert issue|show}. */
@Command(name = "cert", mixinStandardHelpOptions = true, description = "Issue and inspect certificates.",
    subcommands = {CertCommand.Issue.class, CertCommand.Show.class})
public final class CertCommand {

  /** {@code conduit cert issue}. */
  @Command(name = "issue", mixinStandardHelpOptions = true, sortOptions = false,
      description = {"Issue a certificate signed by the CA in --ca-dir.",
          "Without --csr a P-256 key is generated and written to --out-key (mode 0600)."})
  public static final class Issue extends BaseCommand implements Callable<Integer> {
    @Option(names = "--ca-dir", paramLabel = "DIR", required = true, description = "The CA directory (ca.crt, ca.key).")
    Path caDir;

    @Option(names = "--name", paramLabel = "NAME", required = true,
        description = "The subject common name; also the DNS/IP name when no --san is given.")
    String name;

    @Option(names = "--san", paramLabel = "TYPE:VALUE",
        description = "A subject alternative name: DNS:host, IP:1.2.3.4 or URI:spiffe://...; repeatable.")
    List<String> sans = new ArrayList<>();

    @ArgGroup(exclusive = true)
    Usage usage;

    static final class Usage {
      @Option(names = "--client", description = "Client authentication only.")
      boolean client;

      @Option(names = "--server", description = "Server authentication only.")
      boolean server;
    }

    @Option(names = "--org", paramLabel = "NAME", description = "The subject organization.")
    String organization;

    @Option(names = "--csr", paramLabel = "FILE",
        description = "Certify the public key of this PKCS#10 request (PEM or DER); its requested names are ignored.")
    Path csr;

    @Option(names = "--validity", paramLabel = "DURATION", defaultValue = "90d",
        description = "How long the certificate is valid, at most 825d (default: ${DEFAULT-VALUE}).")
    Duration validity;

    @Option(names = "--out-cert", paramLabel = "FILE", required = true,
        description = "Where to write the certificate chain (leaf first).")
    Path outCert;

    @Option(names = "--out-key", paramLabel = "FILE", description = "Where to write the private key (mode 0600).")
    Path outKey;

    @Override
    public Integer call() throws IOException {
      if (csr == null && outKey == null) {
        throw CliException.usage("--out-key is required (or --csr to certify an existing key)");
      }
      if (csr != null && outKey != null) {
        throw CliException.usage("--out-key cannot be used with --csr (the key stays with the requester)");
      }
      CertificateAuthority ca = CertificateAuthority.load(caDir);
      CertificateRequest.Builder b = csr == null ? CertificateRequest.builder()
          : CertificateRequest.fromCsr(Files.readAllBytes(csr)).clearSubjectAlternativeNames();
      b.commonName(name).validity(validity);
      if (organization != null) {
        b.organization(organization);
      }
      if (sans.isEmpty()) {
        b.subjectAlternativeName(SubjectAlternativeName.parse(name));
      }
      for (String san : sans) {
        b.subjectAlternativeName(SubjectAlternativeName.parse(san));
      }
      if (usage != null) {
        b.usages(usage.client ? CertificateRequest.Usage.CLIENT : CertificateRequest.Usage.SERVER);
      }
      IssuedCertificate issued = ca.issue(b.build());
      if (outKey != null) {
        issued.writeTo(outCert, outKey);
        out().println("wrote " + outCert + " and " + outKey + " (mode 0600)");
      } else {
        issued.writeCertificateTo(outCert);
        out().println("wrote " + outCert);
      }
      out().print(CertificateInfo.describe(issued.certificate()));
      return ExitCode.OK;
    }
  }

  /** {@code conduit cert show FILE}. */
  @Command(name = "show", mixinStandardHelpOptions = true, description = "Describe the certificates in a PEM file.")
  public static final class Show extends BaseCommand implements Callable<Integer> {
    @Parameters(paramLabel = "FILE", description = "A PEM file with one or more certificates.")
    Path file;

    @Override
    public Integer call() throws IOException {
      List<X509Certificate> certs = Pem.readCertificates(file);
      for (int i = 0; i < certs.size(); i++) {
        if (certs.size() > 1) {
          out().println((i == 0 ? "" : "\n") + "# certificate " + (i + 1) + " of " + certs.size());
        }
        out().print(CertificateInfo.describe(certs.get(i)));
      }
      return ExitCode.OK;
    }
  }
}
