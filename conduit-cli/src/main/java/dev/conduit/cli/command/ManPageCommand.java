package dev.conduit.cli.command;

import java.time.LocalDate;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code conduit manpage}: prints {@code conduit(1)} in man(7) format, generated from the command
 * definitions, so the page cannot drift from the options. The build installs its output as
 * {@code man/conduit.1} in the release archive.
 */
@Command(name = "manpage", hidden = true, description = "Print the conduit(1) manual page (man(7) format).")
public final class ManPageCommand extends BaseCommand implements Runnable {

  @Override
  public void run() {
    out().print(render(spec.root(), VersionCommand.version(), LocalDate.now()));
    out().flush();
  }

  /** The page for {@code root} and every visible subcommand, recursively. */
  static String render(CommandSpec root, String version, LocalDate date) {
    StringBuilder sb = new StringBuilder();
    sb.append(".TH CONDUIT 1 \"").append(date).append("\" \"conduit ").append(escape(version))
        .append("\" \"conduit manual\"\n");
    sb.append(".SH NAME\nconduit \\- ").append(escape(first(root.usageMessage().description()))).append('\n');
    sb.append(".SH SYNOPSIS\n.B conduit\n.I COMMAND\n[\\fIOPTIONS\\fR]\n");
    sb.append(".SH DESCRIPTION\n");
    for (String line : root.usageMessage().description()) {
      sb.append(escape(line)).append("\n.br\n");
    }
    options(sb, root);
    sb.append(".SH COMMANDS\n");
    commands(sb, root, "conduit");
    sb.append(".SH EXIT STATUS\n0 on success, 1 on a failure, 2 on a usage or configuration error.\n");
    sb.append(".SH SEE ALSO\n.BR iptables (8),\n.BR nft (8),\n.BR ipset (8)\n");
    return sb.toString();
  }

  private static void commands(StringBuilder sb, CommandSpec spec, String path) {
    for (Map.Entry<String, CommandLine> e : spec.subcommands().entrySet()) {
      CommandSpec sub = e.getValue().getCommandSpec();
      if (sub.usageMessage().hidden() || !sub.name().equals(e.getKey())) {
        continue; // hidden commands, and aliases listed under their command
      }
      String name = path + " " + sub.name();
      sb.append(".SS \"").append(escape(name)).append("\"\n");
      for (String line : sub.usageMessage().description()) {
        sb.append(escape(line)).append("\n.br\n");
      }
      for (PositionalParamSpec p : sub.positionalParameters()) {
        if (!p.hidden()) {
          sb.append(".TP\n.I ").append(escape(p.paramLabel())).append('\n')
              .append(escape(String.join(" ", p.description()))).append('\n');
        }
      }
      options(sb, sub);
      commands(sb, sub, name);
    }
  }

  private static void options(StringBuilder sb, CommandSpec spec) {
    for (OptionSpec o : spec.options()) {
      if (o.hidden() || (o.inherited() && spec.parent() != null)) {
        continue;
      }
      sb.append(".TP\n.B ").append(escape(String.join(", ", o.names())));
      if (o.typeInfo() != null && !o.typeInfo().isBoolean()) {
        sb.append(" \\fI").append(escape(o.paramLabel())).append("\\fR");
      }
      String defaultValue = o.defaultValue() == null ? "none" : o.defaultValue();
      sb.append('\n').append(escape(String.join(" ", o.description()).replace("${DEFAULT-VALUE}", defaultValue)))
          .append('\n');
    }
  }

  private static String first(String[] lines) {
    return lines.length == 0 ? "" : lines[0];
  }

  /** Escapes backslashes, and a leading dot or quote that man would read as a request. */
  static String escape(String text) {
    String s = text.replace("\\", "\\e").replace("-", "\\-");
    List<String> lines = s.lines().map(l -> l.startsWith(".") || l.startsWith("'") ? "\\&" + l : l).toList();
    return String.join("\n", lines);
  }
}
