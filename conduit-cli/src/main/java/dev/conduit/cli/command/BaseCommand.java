package dev.conduit.cli.command;

import dev.conduit.cli.CliContext;
import dev.conduit.cli.ConduitCommand;
import java.io.PrintWriter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** What every subcommand needs: its output writers and the {@link CliContext}. */
abstract class BaseCommand {

  @Spec
  CommandSpec spec;

  PrintWriter out() {
    return spec.commandLine().getOut();
  }

  PrintWriter err() {
    return spec.commandLine().getErr();
  }

  CliContext context() {
    return ((ConduitCommand) spec.root().userObject()).context();
  }
}
