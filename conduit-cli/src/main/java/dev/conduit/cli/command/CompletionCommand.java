package dev.conduit.cli.command;

import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code conduit completion bash}: prints a bash (and zsh, through bashcompinit) completion script
 * for every command and option, generated from the command definitions themselves.
 */
@Command(name = "completion", description = {"Print a shell completion script.",
    "  source <(conduit completion bash)          # this shell",
    "  conduit completion bash > /etc/bash_completion.d/conduit"})
public final class CompletionCommand extends BaseCommand implements Runnable {

  @Parameters(index = "0", arity = "0..1", defaultValue = "bash", paramLabel = "SHELL",
      description = "The shell: bash (zsh: after 'autoload -U bashcompinit && bashcompinit').")
  String shell;

  @Override
  public void run() {
    if (!shell.equals("bash") && !shell.equals("zsh")) {
      throw new CommandLine.ParameterException(spec.commandLine(), "shell: " + shell + " (expected: bash or zsh)");
    }
    out().print(AutoComplete.bash("conduit", spec.root().commandLine()));
    out().flush();
  }
}
