package dev.conduit.cli;

import static java.util.Objects.requireNonNull;

import dev.conduit.netfilter.CommandRunner;

/**
 * What the commands take from their environment, replaceable in tests (as kcctl's
 * {@code ConfigurationContext}).
 *
 * @param runControl when {@code run} and {@code proxy} stop
 * @param commandRunner runs iptables, nft, ip and friends for {@code netfilter}
 */
public record CliContext(RunControl runControl, CommandRunner commandRunner) {

  public CliContext {
    requireNonNull(runControl, "runControl");
    requireNonNull(commandRunner, "commandRunner");
  }

  /** Signals stop long-running commands; tools run as real processes. */
  public static CliContext system() {
    return new CliContext(RunControl.untilSignal(), CommandRunner.system());
  }
}
