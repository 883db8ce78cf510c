package dev.conduit.cli.command;

import dev.conduit.cli.CliException;
import dev.conduit.cli.ExitCode;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateInfo;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code conduit ca init|export}. */
@Command(name = "ca", mixinStandardHelpOptions = true, description = "Create and export conduit's certificate authority.",
    subcommands = {CaCommand.Init.class, CaCommand.Export.class})
public final class CaCommand {

  /** {@code conduit ca init --dir DIR}. */
  @Command(name = "init", mixinStandardHelpOptions = true,
      description = "Create a CA (ECDSA P-256): DIR/ca.crt and DIR/ca.key (mode 0600). Never overwrites.")
  public static final class Init extends BaseCommand implements Callable<Integer> {
    @Option(names = "--dir", paramLabel = "DIR", required = true, description = "Where to write ca.crt and ca.key.")
    Path dir;

    @Option(names = "--cn", paramLabel = "NAME", defaultValue = "conduit CA",
        description = "The CA's common name (default: ${DEFAULT-VALUE}).")
    String commonName;

    @Option(names = "--org", paramLabel = "NAME", description = "The CA's organization.")
    String organization;

    @Option(names = "--validity", paramLabel = "DURATION", defaultValue = "3650d",
        description = "How long the CA is valid (default: ${DEFAULT-VALUE}).")
    Duration validity;

    @Override
    public Integer call() throws IOException {
      Path cert = dir.resolve(CertificateAuthority.CERTIFICATE_FILE);
      Path key = dir.resolve(CertificateAuthority.KEY_FILE);
      for (Path p : new Path[] {cert, key}) {
        if (Files.exists(p)) {
          throw CliException.failure(p + ": already exists (a CA is never overwritten; choose another --dir)");
        }
      }
      CertificateAuthority.Builder b = CertificateAuthority.builder().commonName(commonName).validity(validity);
      if (organization != null) {
        b.organization(organization);
      }
      CertificateAuthority ca = b.build();
      ca.save(dir);
      out().println("wrote " + cert + " and " + key + " (mode 0600)");
      out().print(CertificateInfo.describe(ca.certificate()));
      return ExitCode.OK;
    }
  }

  /** {@code conduit ca export --dir DIR [--p12 FILE --password-file F]}. */
  @Command(name = "export", mixinStandardHelpOptions = true,
      description = {"Print the CA certificate as PEM (to install as a trust root),",
          "or with --p12 write the CA key and certificate as PKCS#12 (alias 'ca')."})
  public static final class Export extends BaseCommand implements Callable<Integer> {
    @Option(names = "--dir", paramLabel = "DIR", required = true, description = "The CA directory (ca.crt, ca.key).")
    Path dir;

    @Option(names = "--p12", paramLabel = "FILE", description = "Write PKCS#12 here (mode 0600).")
    Path p12;

    @Option(names = "--password-file", paramLabel = "FILE", description = "The PKCS#12 password (first line).")
    Path passwordFile;

    @Override
    public Integer call() throws IOException {
      if ((p12 == null) != (passwordFile == null)) {
        throw CliException.usage("--p12 and --password-file go together");
      }
      CertificateAuthority ca = CertificateAuthority.load(dir);
      if (p12 == null) {
        out().print(ca.certificatePem());
        return ExitCode.OK;
      }
      char[] password = readPassword(passwordFile);
      try {
        ca.writePkcs12(p12, password);
      } finally {
        Arrays.fill(password, '\0');
      }
      out().println("wrote " + p12 + " (PKCS#12, alias ca, mode 0600)");
      return ExitCode.OK;
    }
  }

  /** The first line of a password file, without its line break. */
  static char[] readPassword(Path file) throws IOException {
    String text = Files.readString(file, StandardCharsets.UTF_8);
    int nl = text.indexOf('\n');
    String line = nl < 0 ? text : text.substring(0, nl);
    if (line.endsWith("\r")) {
      line = line.substring(0, line.length() - 1);
    }
    if (line.isEmpty()) {
      throw CliException.usage(file + ": empty password");
    }
    return line.toCharArray();
  }
}
