package dev.conduit.cli.command;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;

/** {@code conduit version}. */
@Command(name = "version", description = "Print the version.")
public final class VersionCommand extends BaseCommand implements Runnable {

  @Override
  public void run() {
    out().println("conduit " + version());
    out().println("java " + System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + "), "
        + System.getProperty("os.name") + " " + System.getProperty("os.arch"));
  }

  /** The version recorded at build time. */
  static String version() {
    try (InputStream in = VersionCommand.class.getResourceAsStream("/dev/conduit/cli/version.properties")) {
      if (in != null) {
        Properties p = new Properties();
        p.load(in);
        return p.getProperty("version", "unknown");
      }
    } catch (IOException e) {
      // fall through
    }
    return "unknown";
  }

  /** {@code conduit --version}. */
  public static final class Provider implements IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"conduit " + version()};
    }
  }
}
