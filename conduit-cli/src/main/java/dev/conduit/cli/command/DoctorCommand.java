package dev.conduit.cli.command;

import dev.conduit.cli.CliException;
import dev.conduit.cli.ExitCode;
import dev.conduit.netfilter.CaptureDoctor;
import dev.conduit.netfilter.CaptureDoctor.Check;
import dev.conduit.netfilter.CaptureDoctor.Status;
import dev.conduit.netfilter.CapturePlan;
import dev.conduit.netfilter.NetfilterException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code conduit doctor}: can transparent capture work here, and if not, what to change. */
@Command(name = "doctor", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Check whether transparent capture can work on this host, and say what to change if not:",
        "kernel modules, sysctls (forwarding, route_localnet, rp_filter per interface), the iptables flavour,",
        "policy routing, marks of other tools, conntrack; the rules conduit installed (routes, forwarding,",
        "colliding marks, a listener on the port they divert to, capture networks holding this host's",
        "addresses); then live probes through a real conduit listener in network namespaces it makes",
        "(IPv4 and IPv6 x TCP and UDP x REDIRECT and TPROXY).",
        "Exit 0 when nothing failed, 1 otherwise; every failure names the command that fixes it."})
public final class DoctorCommand extends BaseCommand implements Callable<Integer> {

  @Option(names = "--prefix", paramLabel = "PREFIX",
      description = "Inspect the rules installed under this prefix; repeatable (default: every prefix found).")
  List<String> prefixes = new ArrayList<>();

  @Option(names = "--no-probes", description = "Skip the live probes (they need root and start child JVMs).")
  boolean noProbes;

  @Option(names = "--json", description = "Print the checks as one JSON object (for automation).")
  boolean json;

  @Override
  public Integer call() throws NetfilterException {
    for (String p : prefixes) {
      try {
        CapturePlan.validatePrefix(p);
      } catch (IllegalArgumentException e) {
        throw CliException.usage("--prefix: " + e.getMessage());
      }
    }
    List<Check> checks = CaptureDoctor.of(context().commandRunner(), prefixes, !noProbes).run();
    boolean healthy = CaptureDoctor.healthy(checks);
    if (json) {
      printJson(out(), checks, healthy);
    } else {
      printHuman(out(), checks);
    }
    out().flush();
    return healthy ? ExitCode.OK : ExitCode.FAILURE;
  }

  static void printHuman(PrintWriter out, List<Check> checks) {
    int failed = 0;
    int warned = 0;
    for (Check c : checks) {
      out.printf("%-4s  %s: %s%n", c.status(), c.name(), c.detail());
      if (c.status() != Status.PASS) {
        out.println("      fix: " + c.fix());
      }
      failed += c.status() == Status.FAIL ? 1 : 0;
      warned += c.status() == Status.WARN ? 1 : 0;
    }
    out.println(failed == 0
        ? "transparent capture can work here (" + checks.size() + " checks, " + warned + " warnings)"
        : failed + " of " + checks.size() + " checks failed (" + warned + " warnings): run the fix commands above");
  }

  static void printJson(PrintWriter out, List<Check> checks, boolean healthy) {
    StringBuilder s = new StringBuilder("{\"ok\":").append(healthy).append(",\"checks\":[");
    for (int i = 0; i < checks.size(); i++) {
      Check c = checks.get(i);
      s.append(i == 0 ? "" : ",").append("{\"name\":").append(quote(c.name()))
          .append(",\"status\":").append(quote(c.status().name().toLowerCase(java.util.Locale.ROOT)))
          .append(",\"detail\":").append(quote(c.detail()))
          .append(",\"fix\":").append(quote(c.fix())).append('}');
    }
    out.println(s.append("]}"));
  }

  private static String quote(String text) {
    StringBuilder s = new StringBuilder("\"");
    for (char ch : text.toCharArray()) {
      switch (ch) {
        case '"' -> s.append("\\\"");
        case '\\' -> s.append("\\\\");
        case '\n' -> s.append("\\n");
        case '\r' -> s.append("\\r");
        case '\t' -> s.append("\\t");
        default -> {
          if (ch < 0x20) {
            s.append(String.format("\\u%04x", (int) ch));
          } else {
            s.append(ch);
          }
        }
      }
    }
    return s.append('"').toString();
  }
}
