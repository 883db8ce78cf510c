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
        "Runs until SIGTERM or SIGINT, then stops accepting and drains open connections."})
public final class RunCommand extends BaseCommand implements Callable<Integer> {

  @Option(names = {"-c", "--config"}, paramLabel = "FILE", required = true, description = "The configuration file.")
  Path config;

  @Mixin
  LogOptions logOptions = new LogOptions();

  @Override
  public Integer call() throws Exception {
    ConduitConfig loaded = ConfigLoader.standard().load(config);
    ConduitConfig.Builder b = ConduitConfig.builder();
    // flags win over the file
    loaded.listeners().forEach(b::listener);
    loaded.outbounds().forEach(b::outbound);
    loaded.rules().forEach(b::rule);
    b.defaultDecision(loaded.defaultDecision()).timeouts(loaded.timeouts()).tcpKeepAlive(loaded.tcpKeepAlive())
        .log(logOptions.apply(loaded.log()));
    return Serve.serve(b.build(), context().runControl());
  }
}
