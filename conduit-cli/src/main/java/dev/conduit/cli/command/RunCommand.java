package dev.conduit.cli.command;

import dev.conduit.cli.config.ConduitConfig;
import dev.conduit.cli.config.ConfigLoader;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code conduit run -c conduit.yaml}. */
@Command(name = "run", mixinStandardHelpOptions = true,
    description = {"Run conduit from a YAML configuration file.",
        "Runs until SIGTERM or SIGINT, then stops accepting and drains open connections.",
        "SIGHUP re-reads the file: rules and outbounds apply to new connections; listener changes need a restart."})
public final class RunCommand extends BaseCommand implements Callable<Integer> {

  @Option(names = {"-c", "--config"}, paramLabel = "FILE", required = true, description = "The configuration file.")
  Path config;

  @Mixin
  LogOptions logOptions = new LogOptions();

  @Override
  public Integer call() throws Exception {
    return ProxyRole.run(load(), context(), this::load);
  }

  /** Reads the file; flags win over it. */
  private ConduitConfig load() throws java.io.IOException {
    ConduitConfig loaded = ConfigLoader.standard().load(config);
    if (loaded.listeners().isEmpty() && !loaded.runsMesh() && loaded.cache().isEmpty()) {
      // the loader accepts a file whose only role is egress_server: that role has its own command
      throw dev.conduit.cli.CliException.usage(config + ": nothing for conduit run (expected: listeners; run the"
          + " egress_server section with: conduit egress server -c " + config + ")");
    }
    ConduitConfig.Builder b = ConduitConfig.builder().from(loaded);
    try {
      b.log(logOptions.apply(loaded.log()));
    } catch (IllegalArgumentException e) {
      throw dev.conduit.cli.CliException.usage(e.getMessage());
    }
    return b.build();
  }
}
