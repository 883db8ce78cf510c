package dev.conduit.cli.command;

import dev.conduit.cli.CliException;
import dev.conduit.cli.ExitCode;
import dev.conduit.netfilter.CaptureMode;
import dev.conduit.netfilter.CapturePlan;
import dev.conduit.netfilter.Command;
import dev.conduit.netfilter.IpFamily;
import dev.conduit.netfilter.NetfilterBackend;
import dev.conduit.netfilter.NetfilterException;
import dev.conduit.netfilter.PortRange;
import dev.conduit.netfilter.Prerequisites;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code conduit netfilter plan|apply|clear|show}. */
@CommandLine.Command(name = "netfilter", mixinStandardHelpOptions = true,
    description = "Install, remove and inspect the netfilter rules that capture traffic for the transparent listener.",
    subcommands = {NetfilterCommand.Plan.class, NetfilterCommand.Apply.class, NetfilterCommand.Clear.class,
        NetfilterCommand.Show.class})
public final class NetfilterCommand {

  /** {@code --prefix} and {@code --backend}. */
  static final class BackendOptions {
    @Option(names = "--prefix", paramLabel = "PREFIX", defaultValue = "CONDUIT",
        description = "Names of everything installed ([A-Z][A-Z0-9_]*, default: ${DEFAULT-VALUE}).")
    String prefix;

    @Option(names = "--backend", paramLabel = "BACKEND",
        description = "iptables (with ipset) or nft (plan, apply: default iptables; show, clear: default"
            + " whichever holds the prefix's rules).")
    String backend;

    NetfilterBackend backend(dev.conduit.netfilter.CommandRunner runner) {
      if (backend == null) {
        return NetfilterBackend.iptables(runner);
      }
      return switch (backend.toLowerCase(Locale.ROOT)) {
        case "iptables" -> NetfilterBackend.iptables(runner);
        case "nft", "nftables" -> NetfilterBackend.nftables(runner);
        default -> throw CliException.usage("--backend: '" + backend + "' (expected: iptables or nft)");
      };
    }

    /** The named backend, or every backend that holds something of the prefix. */
    List<NetfilterBackend> holding(dev.conduit.netfilter.CommandRunner runner) throws NetfilterException {
      return backend != null ? List.of(backend(runner)) : NetfilterBackend.holding(prefix(), runner);
    }

    /** The --backend value that names a backend in a command line conduit prints. */
    static String flag(NetfilterBackend backend) {
      return backend.name().equals("nftables") ? "nft" : backend.name();
    }

    String prefix() {
      try {
        return CapturePlan.validatePrefix(prefix);
      } catch (IllegalArgumentException e) {
        throw CliException.usage("--prefix: " + e.getMessage());
      }
    }
  }

  /** What to capture. */
  static final class PlanOptions {
    @Option(names = "--mode", paramLabel = "MODE", defaultValue = "redirect",
        description = "redirect (nat REDIRECT, SO_ORIGINAL_DST) or tproxy (mangle TPROXY, policy routing)"
            + " (default: ${DEFAULT-VALUE}).")
    CaptureMode mode;

    @Option(names = "--port", paramLabel = "PORT", required = true, description = "The transparent listener's port.")
    int port;

    @Option(names = "--capture-port", paramLabel = "PORT[-PORT]", description = "Capture this destination port (range); repeatable.")
    List<String> capturePorts = new ArrayList<>();

    @Option(names = "--capture-cidr", paramLabel = "CIDR", description = "Capture this destination network; repeatable.")
    List<String> captureCidrs = new ArrayList<>();

    @Option(names = "--capture-ip", paramLabel = "IP", description = "Capture this destination address; repeatable.")
    List<String> captureIps = new ArrayList<>();

    @Option(names = "--capture-endpoint", paramLabel = "IP:PORT", description = "Capture this destination; repeatable.")
    List<String> captureEndpoints = new ArrayList<>();

    @Option(names = "--capture-all", description = "Capture every TCP connection that is not excluded.")
    boolean captureAll;

    @Option(names = "--exclude-source", paramLabel = "CIDR", description = "Never capture from this network; repeatable.")
    List<String> excludeSources = new ArrayList<>();

    @Option(names = "--exclude-destination", paramLabel = "CIDR", description = "Never capture to this network; repeatable.")
    List<String> excludeDestinations = new ArrayList<>();

    @Option(names = "--exclude-interface", paramLabel = "NAME",
        description = "Never capture through this interface (NAME+ matches a prefix); repeatable.")
    List<String> excludeInterfaces = new ArrayList<>();

    @Option(names = "--ipv4", description = "IPv4 only (default: both families unless --ipv6 is given).")
    boolean ipv4;

    @Option(names = "--ipv6", description = "IPv6 only (default: both families unless --ipv4 is given).")
    boolean ipv6;

    @Option(names = "--mark", paramLabel = "MARK[/MASK]",
        description = "The mark of conduit's own sockets, never captured (default: 0x5a4).")
    String mark;

    @Option(names = "--gateway", description = "Also capture traffic routed through this host (PREROUTING).")
    boolean gateway;

    @Option(names = "--gateway-interface", paramLabel = "NAME",
        description = "Capture gateway traffic from this interface only; repeatable; implies --gateway.")
    List<String> gatewayInterfaces = new ArrayList<>();

    @Option(names = "--no-local", description = "Do not capture connections made on this host (OUTPUT).")
    boolean noLocal;

    @Option(names = "--udp", description = "Capture UDP too, by the same matches (tproxy mode only).")
    boolean udp;

    @Option(names = "--capture-local-destinations",
        description = "Capture connections to this host's own addresses when a captured network or port"
            + " contains them (default: only when named with --capture-ip/--capture-endpoint).")
    boolean captureLocalDestinations;

    CapturePlan plan(String prefix) {
      try {
        CapturePlan.Builder b = CapturePlan.builder().prefix(prefix).mode(mode).targetPort(port);
        if (ipv4 != ipv6) {
          b.families(ipv4 ? IpFamily.IPV4 : IpFamily.IPV6);
        }
        capturePorts.forEach(p -> b.capturePorts(PortRange.parse(p)));
        captureCidrs.forEach(b::captureNetwork);
        captureIps.forEach(b::captureAddress);
        captureEndpoints.forEach(b::captureEndpoint);
        if (captureAll) {
          b.captureAllTcp();
        }
        excludeSources.forEach(b::excludeSource);
        excludeDestinations.forEach(b::excludeDestination);
        for (String i : excludeInterfaces) {
          b.excludeOutputInterface(i);
          b.excludeInputInterface(i);
        }
        if (mark != null) {
          String[] parts = mark.split("/", 2);
          int m = parseMark(parts[0]);
          b.bypassMark(m, parts.length == 2 ? parseMark(parts[1]) : 0xffffffff);
        }
        b.localCapture(!noLocal).captureUdp(udp).captureLocalDestinations(captureLocalDestinations);
        if (gateway) {
          b.gatewayCapture(true);
        }
        if (!gatewayInterfaces.isEmpty()) {
          b.gatewayInterfaces(gatewayInterfaces.toArray(new String[0]));
        }
        return b.build();
      } catch (IllegalArgumentException e) {
        throw CliException.usage(e.getMessage());
      }
    }

    private static int parseMark(String text) {
      String t = text.trim().toLowerCase(Locale.ROOT);
      try {
        return t.startsWith("0x") ? Integer.parseUnsignedInt(t.substring(2), 16) : Integer.parseUnsignedInt(t);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--mark: '" + text + "' (expected: a number such as 0x5a4 or 1444)");
      }
    }
  }

  static void print(java.io.PrintWriter out, NetfilterBackend backend, CapturePlan plan) {
    out.println("# " + backend.name() + " plan for " + plan);
    for (Command c : backend.plan(plan)) {
      out.println(c);
    }
  }

  /** {@code conduit netfilter plan}. */
  @CommandLine.Command(name = "plan", mixinStandardHelpOptions = true, sortOptions = false,
      description = "Print the exact commands and payloads 'apply' would run (runs nothing).")
  public static final class Plan extends BaseCommand implements Callable<Integer> {
    @Mixin
    PlanOptions plan = new PlanOptions();
    @Mixin
    BackendOptions backend = new BackendOptions();

    @Option(names = "--dry-run", description = "Accepted for symmetry with apply: plan never runs anything.")
    boolean dryRun;

    @Override
    public Integer call() {
      print(out(), backend.backend(context().commandRunner()), plan.plan(backend.prefix()));
      return ExitCode.OK;
    }
  }

  /** {@code conduit netfilter apply}. */
  @CommandLine.Command(name = "apply", mixinStandardHelpOptions = true, sortOptions = false,
      description = {"Check prerequisites, then install the rules (replacing whatever the prefix had installed).",
          "Exit 1 with what to fix when a prerequisite is missing."})
  public static final class Apply extends BaseCommand implements Callable<Integer> {
    @Mixin
    PlanOptions plan = new PlanOptions();
    @Mixin
    BackendOptions backend = new BackendOptions();

    @Option(names = "--dry-run", description = "Print the commands instead of running them.")
    boolean dryRun;

    @Override
    public Integer call() throws NetfilterException {
      NetfilterBackend b = backend.backend(context().commandRunner());
      CapturePlan p = plan.plan(backend.prefix());
      if (dryRun) {
        print(out(), b, p);
        return ExitCode.OK;
      }
      List<Prerequisites.Problem> problems = Prerequisites.check(p, b.name(), context().commandRunner());
      if (!problems.isEmpty()) {
        for (Prerequisites.Problem problem : problems) {
          err().println(spec.qualifiedName() + ": " + problem);
        }
        return ExitCode.FAILURE;
      }
      for (NetfilterBackend other : NetfilterBackend.holding(p.prefix(), context().commandRunner())) {
        if (!other.name().equals(b.name())) {
          // one set of rules per prefix: what the other backend holds would capture too
          other.clear(p.prefix());
          out().println("cleared " + other.name() + " rules of prefix " + p.prefix() + " (replaced by " + b.name()
              + ")");
        }
      }
      b.apply(p);
      out().println("applied " + b.name() + " rules for prefix " + p.prefix() + " (remove with: conduit netfilter"
          + " clear --prefix " + p.prefix() + ")");
      return ExitCode.OK;
    }
  }

  /** {@code conduit netfilter clear}. */
  @CommandLine.Command(name = "clear", mixinStandardHelpOptions = true,
      description = {"Remove every rule, set, table and route installed under the prefix, and nothing else,",
          "in whichever backend holds them (or only the one --backend names)."})
  public static final class Clear extends BaseCommand implements Callable<Integer> {
    @Mixin
    BackendOptions backend = new BackendOptions();

    @Override
    public Integer call() throws NetfilterException {
      List<NetfilterBackend> holding = backend.holding(context().commandRunner());
      if (holding.isEmpty()) {
        out().println("nothing installed under prefix " + backend.prefix());
        return ExitCode.OK;
      }
      for (NetfilterBackend b : holding) {
        b.clear(backend.prefix());
        out().println("cleared " + b.name() + " rules of prefix " + backend.prefix());
      }
      return ExitCode.OK;
    }
  }

  /** {@code conduit netfilter show}. */
  @CommandLine.Command(name = "show", mixinStandardHelpOptions = true,
      description = {"List what is installed under the prefix, in the tools' own syntax,",
          "in whichever backend holds it (or only the one --backend names)."})
  public static final class Show extends BaseCommand implements Callable<Integer> {
    @Mixin
    BackendOptions backend = new BackendOptions();

    @Override
    public Integer call() throws NetfilterException {
      StringBuilder shown = new StringBuilder();
      for (NetfilterBackend b : backend.holding(context().commandRunner())) {
        String listing = b.show(backend.prefix());
        if (!listing.isEmpty()) {
          shown.append("# ").append(b.name()).append(" (conduit netfilter clear --prefix ").append(backend.prefix())
              .append(" --backend ").append(BackendOptions.flag(b)).append(")\n").append(listing);
        }
      }
      out().print(shown.length() == 0 ? "# nothing installed under prefix " + backend.prefix() + "\n" : shown);
      return ExitCode.OK;
    }
  }
}
