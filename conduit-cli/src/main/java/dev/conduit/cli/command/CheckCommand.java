package dev.conduit.cli.command;

import dev.conduit.cli.ExitCode;
import dev.conduit.cli.config.ConduitConfig;
import dev.conduit.cli.config.ConfigLoader;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code conduit check -c conduit.yaml}. */
@Command(name = "check", mixinStandardHelpOptions = true,
    description = "Validate a configuration file and print the effective configuration (passwords masked).")
public final class CheckCommand extends BaseCommand implements Callable<Integer> {

  @Option(names = {"-c", "--config"}, paramLabel = "FILE", required = true, description = "The configuration file.")
  Path config;

  @Option(names = {"-q", "--quiet"}, description = "Print nothing when the file is valid.")
  boolean quiet;

  @Override
  public Integer call() throws Exception {
    ConduitConfig loaded = ConfigLoader.standard().load(config);
    loaded.toConduitBuilder(); // builds every core object, as run would

    if (!quiet) {
      out().println("# " + config + ": OK; effective configuration:");
      out().print(loaded.describe());
    }
    return ExitCode.OK;
  }
}
