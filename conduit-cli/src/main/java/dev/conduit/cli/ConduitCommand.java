package dev.conduit.cli;

import static java.util.Objects.requireNonNull;

import dev.conduit.cli.command.CacheCommand;
import dev.conduit.cli.command.CaCommand;
import dev.conduit.cli.command.CertCommand;
import dev.conduit.cli.command.ManagerCommand;
import dev.conduit.cli.command.CheckCommand;
import dev.conduit.cli.command.CompletionCommand;
import dev.conduit.cli.command.Converters;
import dev.conduit.cli.command.DoctorCommand;
import dev.conduit.cli.command.EgressCommand;
import dev.conduit.cli.command.ManPageCommand;
import dev.conduit.cli.command.NetfilterCommand;
import dev.conduit.cli.command.ProxyCommand;
import dev.conduit.cli.command.RunCommand;
import dev.conduit.cli.command.VersionCommand;
import dev.conduit.cli.config.ConfigException;
import dev.conduit.cli.logging.JsonLayout;
import dev.conduit.cli.logging.Logging;
import dev.conduit.core.TcpKeepAlive;
import dev.conduit.netfilter.NetfilterException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * The {@code conduit} command. {@link #newCommandLine} is the single place that wires the commands,
 * converters, output and error handling: a bad flag or configuration prints one line on standard
 * error and exits with {@link ExitCode#USAGE}; a failure prints one line and exits with
 * {@link ExitCode#FAILURE}; {@code --verbose} adds the stack trace.
 *
 * <p>Shorthands kept from the seeds (see {@link #expandShorthands}): {@code conduit --http-listen ...}
 * means {@code conduit proxy --http-listen ...} (seed 001), {@code conduit -c FILE} means
 * {@code conduit run -c FILE} (seed 000).
 */
@Command(name = "conduit", mixinStandardHelpOptions = true, versionProvider = VersionCommand.Provider.class,
    description = "An embeddable proxy toolkit: forward proxy, transparent capture, mTLS mesh, caching MITM.",
    subcommands = {ProxyCommand.class, RunCommand.class, CheckCommand.class, CaCommand.class, CertCommand.class,
        NetfilterCommand.class, DoctorCommand.class, CacheCommand.class, ManagerCommand.class, EgressCommand.class,
        VersionCommand.class, CompletionCommand.class, ManPageCommand.class, CommandLine.HelpCommand.class},
    footer = {"", "Seed forms: 'conduit --http-listen IP:PORT ...' runs 'conduit proxy', "
        + "'conduit -c FILE' runs 'conduit run -c FILE'."})
public final class ConduitCommand implements Runnable {

  private final CliContext context;

  @Spec
  CommandSpec spec;

  @Option(names = "--verbose", scope = ScopeType.INHERIT,
      description = "Print stack traces with errors.")
  boolean verbose;

  ConduitCommand(CliContext context) {
    this.context = requireNonNull(context, "context");
  }

  /** The environment the commands run in. */
  public CliContext context() {
    return context;
  }

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "missing command (expected one of: "
        + String.join(", ", spec.subcommands().keySet()) + ")");
  }

  /** A command line on the system environment (signals, real processes). */
  public static CommandLine newCommandLine(PrintWriter out, PrintWriter err) {
    return newCommandLine(out, err, CliContext.system());
  }

  /**
   * The single factory: the command tree with converters, output writers, exit codes and error
   * handlers. Call {@link CommandLine#execute} with {@link #expandShorthands} applied to the arguments
   * (or use {@link #execute}).
   */
  public static CommandLine newCommandLine(PrintWriter out, PrintWriter err, CliContext context) {
    requireNonNull(out, "out");
    requireNonNull(err, "err");
    CommandLine cl = new CommandLine(new ConduitCommand(context));
    cl.registerConverter(Duration.class, Converters::duration);
    cl.registerConverter(TcpKeepAlive.class, Converters::tcpKeepAlive);
    cl.setOut(out);
    cl.setErr(err);
    cl.setCaseInsensitiveEnumValuesAllowed(true);
    cl.setParameterExceptionHandler((ex, args) -> {
      CommandLine where = ex.getCommandLine();
      error(where.getErr(), where.getCommandSpec().qualifiedName() + ": " + oneLine(ex.getMessage())
          + " (see '" + where.getCommandSpec().qualifiedName() + " --help')", ex, args);
      return ExitCode.USAGE;
    });
    cl.setExecutionExceptionHandler((ex, where, parseResult) -> {
      int code = exitCode(ex);
      error(where.getErr(), where.getCommandSpec().qualifiedName() + ": " + oneLine(message(ex)), ex,
          parseResult.originalArgs().toArray(new String[0]));
      return code;
    });
    cl.setExitCodeExceptionMapper(ConduitCommand::exitCode);
    return cl;
  }

  /** {@link #newCommandLine} and {@link CommandLine#execute} with the shorthands expanded. */
  public static int execute(PrintWriter out, PrintWriter err, CliContext context, String... args) {
    CommandLine cl = newCommandLine(out, err, context);
    Logging.forgetFormat();
    int code = cl.execute(expandShorthands(cl, args));
    out.flush();
    err.flush();
    return code;
  }

  /**
   * Seed 001 runs {@code conduit --http-listen ...} without a subcommand, and seed 000
   * {@code conduit -c FILE}: when the first argument (after {@code --verbose}) is an option of
   * {@code proxy} the arguments go to {@code proxy}, when it is {@code -c}/{@code --config} to
   * {@code run}.
   */
  public static String[] expandShorthands(CommandLine cl, String... args) {
    int i = 0;
    while (i < args.length && args[i].equals("--verbose")) {
      i++;
    }
    if (i == args.length || !args[i].startsWith("-")) {
      return args;
    }
    String name = args[i].contains("=") ? args[i].substring(0, args[i].indexOf('=')) : args[i];
    String target = null;
    if (name.equals("-c") || name.startsWith("-c") && !name.startsWith("--") || name.equals("--config")) {
      target = "run";
    } else {
      OptionSpec option = cl.getSubcommands().get("proxy").getCommandSpec().findOption(name);
      if (option != null && cl.getCommandSpec().findOption(name) == null) {
        target = "proxy";
      }
    }
    if (target == null) {
      return args;
    }
    List<String> out = new ArrayList<>(Arrays.asList(args));
    out.add(0, target);
    return out.toArray(new String[0]);
  }

  /**
   * Prints the one-line error (and with {@code --verbose} the stack trace): as one JSON line when the
   * log format is JSON (configured, or asked by {@code --log-format json}), so every line of the stream parses.
   */
  private static void error(PrintWriter err, String line, Throwable ex, String[] args) {
    if (Logging.json() || jsonAsked(args)) {
      StringWriter trace = null;
      if (verbose(args)) {
        trace = new StringWriter();
        ex.printStackTrace(new PrintWriter(trace));
      }
      err.println(JsonLayout.line("ERROR", "conduit", line, trace == null ? null : trace.toString()));
    } else {
      err.println(line);
      if (verbose(args)) {
        ex.printStackTrace(err);
      }
    }
    err.flush();
  }

  private static boolean jsonAsked(String[] args) {
    List<String> list = Arrays.asList(args);
    int i = list.indexOf("--log-format");
    return list.contains("--log-format=json") || i >= 0 && i + 1 < list.size() && list.get(i + 1).equals("json");
  }

  private static boolean verbose(String[] args) {
    return Arrays.asList(args).contains("--verbose");
  }

  static int exitCode(Throwable ex) {
    if (ex instanceof CliException c) {
      return c.exitCode();
    }
    if (ex instanceof ConfigException || ex instanceof CommandLine.ParameterException
        || ex instanceof IllegalArgumentException) {
      return ExitCode.USAGE;
    }
    return ExitCode.FAILURE;
  }

  static String message(Throwable ex) {
    if (ex instanceof UncheckedIOException u) {
      ex = u.getCause();
    }
    if (ex instanceof NoSuchFileException e) {
      return e.getFile() + ": no such file";
    }
    if (ex instanceof AccessDeniedException e) {
      return e.getFile() + ": permission denied";
    }
    if (ex instanceof FileAlreadyExistsException e) {
      return e.getFile() + ": already exists" + (e.getReason() == null ? "" : " (" + e.getReason() + ")");
    }
    if (ex instanceof CliException || ex instanceof ConfigException || ex instanceof NetfilterException
        || ex instanceof IOException || ex instanceof IllegalArgumentException || ex instanceof IllegalStateException) {
      return ex.getMessage() == null ? ex.toString() : ex.getMessage();
    }
    return "internal error: " + ex + " (run with --verbose for the stack trace)";
  }

  private static String oneLine(String s) {
    return s == null ? "" : s.strip().replaceAll("\\s*\\R\\s*", "; ");
  }
}
