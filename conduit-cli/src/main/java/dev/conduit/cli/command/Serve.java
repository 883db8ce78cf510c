package dev.conduit.cli.command;

import dev.conduit.cli.CliException;
import dev.conduit.cli.ExitCode;
import dev.conduit.cli.RunControl;
import dev.conduit.cli.config.ConduitConfig;
import dev.conduit.cli.config.Durations;
import dev.conduit.cli.logging.AccessLog;
import dev.conduit.cli.logging.Logging;
import dev.conduit.core.Conduit;
import java.io.IOException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Runs a conduit from a configuration until the {@link RunControl} says stop, then drains. */
final class Serve {
  private static final Logger log = LoggerFactory.getLogger("conduit");

  private Serve() {}

  static int serve(ConduitConfig config, RunControl control) throws InterruptedException {
    Logging.configure(config.log());
    Conduit conduit;
    try {
      conduit = config.toConduitBuilder().observer(new AccessLog()).build();
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw CliException.usage(e.getMessage());
    }
    try {
      conduit.start();
    } catch (IOException e) {
      throw CliException.failure(e.getMessage(), e);
    }
    log.info("started: {} listener(s), {} outbound(s), {} rule(s), default {}; timeouts dial {} negotiation {}"
            + " drain {}", config.listeners().size(), config.outbounds().size(), config.rules().size(),
        config.defaultDecision(), Durations.format(config.timeouts().dial()),
        Durations.format(config.timeouts().negotiation()), Durations.format(config.timeouts().drain()));
    control.started(conduit);
    try {
      control.awaitStop();
    } finally {
      try {
        conduit.stop().get(config.timeouts().drain().toMillis() + 10_000, TimeUnit.MILLISECONDS);
        log.info("stopped");
      } catch (ExecutionException | TimeoutException e) {
        log.warn("stop did not finish cleanly: {}", e.toString());
      }
    }
    return ExitCode.OK;
  }
}
