package dev.conduit.cli.command;

import dev.conduit.cli.CliException;
import dev.conduit.core.runtime.ConduitRuntime;
import dev.conduit.core.runtime.Service;
import dev.conduit.core.net.IpPrefixSet;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.NetfilterException;
import dev.conduit.netfilter.Prerequisites.Problem;
import dev.conduit.netfilter.egress.Allowlist;
import dev.conduit.netfilter.egress.DeniedLog;
import dev.conduit.netfilter.egress.EgressGateway;
import dev.conduit.netfilter.egress.EgressGatewayConfig;
import dev.conduit.netfilter.egress.EgressMetrics;
import dev.conduit.netfilter.egress.EgressGatewayService;
import dev.conduit.netfilter.egress.EgressL7Check;
import dev.conduit.netfilter.egress.EgressL7CheckService;
import dev.conduit.netfilter.egress.NameAllowlist;
import dev.conduit.netfilter.egress.EgressMode;
import dev.conduit.netfilter.egress.EgressStateFile;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** {@code conduit egress gateway}: enforces an allowlist on the traffic this host forwards. */
@CommandLine.Command(name = "gateway", mixinStandardHelpOptions = true,
    description = "Forward the protected networks' traffic only to allowlisted addresses (nftables),"
        + " masquerade it, and export per-address traffic to Prometheus. Runs until SIGTERM, then"
        + " removes its rules.")
public final class EgressGatewayCommand extends BaseCommand implements Callable<Integer> {

  private static final Logger log = LoggerFactory.getLogger(EgressGatewayCommand.class);

  @Option(names = {"-iptables-wss-server", "--server"}, paramLabel = "HOST:PORT|URL",
      description = "The egress server to take the allowlist from and report to, over TLS: HOST:PORT"
          + " (wss://HOST:PORT/v1/push) or a wss:// URL. Needs --server-ca and --server-token-file (or"
          + " --client-cert and --client-key). Without it the allowlist comes from --allowlist,"
          + " --allowlist-file and the state file.")
  String server;

  @Option(names = "--server-ca", paramLabel = "FILE",
      description = "PEM certificates of the CA that signed the egress server's certificate.")
  Path serverCa;

  @Option(names = "--server-token-file", paramLabel = "FILE",
      description = "A file holding this gateway's token for the egress server (one line).")
  Path serverTokenFile;

  @Option(names = "--client-cert", paramLabel = "FILE",
      description = "This gateway's certificate chain (PEM) for the egress server, instead of a token.")
  Path clientCert;

  @Option(names = "--client-key", paramLabel = "FILE", description = "The private key of --client-cert (PEM).")
  Path clientKey;

  @Option(names = "--report-interval", paramLabel = "DURATION", defaultValue = "10s",
      description = "How often counters, active flows and denied flows are reported to the egress server"
          + " (default: ${DEFAULT-VALUE}).")
  Duration reportInterval;

  @Option(names = "--flow-log-group", paramLabel = "N", defaultValue = "0",
      description = "Copy the first packets of denied flows to this NFLOG group and read it with tcpdump, so"
          + " reports name their port and, in report-only mode, their TLS SNI or HTTP Host (0: off; default:"
          + " ${DEFAULT-VALUE}).")
  int flowLogGroup;

  @Option(names = "--protected-network", paramLabel = "CIDR", split = ",",
      description = "A network whose forwarded traffic is guarded; repeatable (default: 10.0.0.0/8,"
          + " 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, fc00::/7).")
  List<String> protectedNetworks = new ArrayList<>();

  // a comma before a bare number continues the entry's ports; any other comma starts the next entry
  @Option(names = "--allowlist", paramLabel = "IP|CIDR[ PORT,...]", split = ",(?!\\s*\\d+\\s*(?:,|$))",
      splitSynopsisLabel = ",",
      description = "Allowlisted addresses or prefixes, each optionally followed by the TCP/UDP ports it allows,"
          + " comma-separated (\"198.51.100.7 443,8443,203.0.113.0/24\": two ports for the first, every port for"
          + " the second); repeatable.")
  List<String> allowlist = new ArrayList<>();

  @Option(names = "--allowlist-file", paramLabel = "FILE",
      description = "A file of allowlisted addresses and prefixes, one per line, each optionally followed by the"
          + " TCP/UDP ports it allows (198.51.100.7 443,8443; # comments); re-read when it changes.")
  Path allowlistFile;

  @Option(names = "--allow-special", paramLabel = "CIDR", split = ",",
      description = "Special-purpose space (private, benchmarking, ...) that may be allowlisted all the same; repeatable.")
  List<String> allowSpecial = new ArrayList<>();

  @Option(names = "--state-file", paramLabel = "FILE", defaultValue = "/var/lib/conduit/egress-allowlist",
      description = "Where the allowlist in force is kept, to enforce it again after a restart (default: ${DEFAULT-VALUE}).")
  Path stateFile;

  @Option(names = "--mode", paramLabel = "MODE", defaultValue = "enforce",
      description = "enforce (drop what is not allowlisted) or report-only (drop nothing, log what enforce"
          + " would drop) (default: ${DEFAULT-VALUE}).")
  String mode;

  @Option(names = "--table", paramLabel = "NAME", defaultValue = "conduit_egress",
      description = "The nftables table the gateway owns (default: ${DEFAULT-VALUE}).")
  String table;

  @Option(names = "--no-masquerade", description = "Do not masquerade (another box does the NAT).")
  boolean noMasquerade;

  @Option(names = "--out-interface", paramLabel = "NAME", description = "Masquerade only traffic leaving through this interface.")
  String outInterface;

  @Option(names = "--metrics-listen", paramLabel = "HOST:PORT", defaultValue = "0.0.0.0:9900",
      description = "Where /metrics is served (default: ${DEFAULT-VALUE}).")
  String metricsListen;

  @Option(names = "--hostname", paramLabel = "NAME", description = "The hostname label of the metrics (default: this host's name).")
  String hostname;

  @Option(names = "--max-address-labels", paramLabel = "N", defaultValue = "1000",
      description = "Addresses with a metrics label of their own; the rest are summed under 'other' (default: ${DEFAULT-VALUE}).")
  int maxAddressLabels;

  @Option(names = "--denied-log-interval", paramLabel = "DURATION", defaultValue = "10s",
      description = "How often denied destinations are logged (default: ${DEFAULT-VALUE}).")
  Duration deniedLogInterval;

  @Option(names = "--denied-log-lines", paramLabel = "N", defaultValue = "20",
      description = "The most denied-destination lines per interval (default: ${DEFAULT-VALUE}).")
  int deniedLogLines;

  @Option(names = "--l7-check", description = "Divert new TCP flows to --l7-ports through the gateway's L7 check:"
      + " their TLS SNI or HTTP Host must be an allowlisted name and their destination one of its addresses"
      + " (*.suffix wildcards: an address the gateway resolves the name to). Off by default.")
  boolean l7Check;

  @Option(names = "--l7-check-port", paramLabel = "PORT", defaultValue = "15080",
      description = "The gateway port the L7 check listens on (default: ${DEFAULT-VALUE}).")
  int l7CheckPort;

  @Option(names = "--l7-ports", paramLabel = "PORT", split = ",",
      description = "The destination ports the L7 check decides (default: 80,443).")
  List<Integer> l7Ports = new ArrayList<>();

  @Option(names = "--l7-dns-server", paramLabel = "HOST[:PORT]", split = ",",
      description = "DNS servers the L7 check resolves names below wildcards with; repeatable (default: the system's).")
  List<String> l7DnsServers = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    IpPrefixSet special = special();
    EgressGatewayConfig config = config();
    EgressStateFile state = new EgressStateFile(stateFile);
    Allowlist initial = initialAllowlist(special, state);
    EgressGatewayPush.Settings push = server == null ? null : EgressGatewayPush.settings(server, serverCa,
        serverTokenFile, clientCert, clientKey, hostname(), flowLogGroup, reportInterval);
    CommandRunner runner = context().commandRunner();
    List<Problem> problems = EgressGateway.check(config, runner);
    if (!problems.isEmpty()) {
      throw CliException.failure("egress gateway cannot run here: " + problems.stream()
          .map(Problem::toString).reduce((a, b) -> a + "; " + b).orElse(""));
    }
    InetSocketAddress bind = bind(metricsListen);
    EgressMetrics metrics = new EgressMetrics(hostname(), maxAddressLabels);
    Optional<EgressL7CheckService> l7 = l7Check ? Optional.of(new EgressL7CheckService(EgressL7Check.builder()
        .bind(new InetSocketAddress("::", l7CheckPort)).protectedNetworks(config.protectedNetworks())
        .allowedSpecial(special).dnsServers(l7DnsServers()).reportOnly(config.mode() == EgressMode.REPORT_ONLY)
        .names(initialNames(state, initial)))) : Optional.empty();
    // a mode switch through the gateway switches the L7 check along
    EgressGatewayService gateway = new EgressGatewayService(config, initial, runner, bind, metrics, l7);
    l7.ifPresent(c -> metrics.l7Denied(() -> c.check().deniedTotal()));
    ConduitRuntime.Builder services = ConduitRuntime.builder();
    l7.ifPresent(services::service); // listening before the divert rules send flows to it
    services.service(gateway).service(background(gateway, state, initial, special, l7));
    if (push != null) {
      services.service(new EgressGatewayPush(gateway, push, special, state, l7));
      out().println("egress gateway: taking the allowlist from and reporting to " + push.server());
    }
    ConduitRuntime runtime = services.build();
    int code = Lifecycle.run(runtime, context(), null, e -> e.getCause() instanceof IOException io
        ? CliException.failure("--metrics-listen: " + io.getMessage()) : Lifecycle.startError(e));
    out().println("egress gateway: removed table inet " + config.table());
    return code;
  }

  /** Saves the state, announces the gateway, then re-reads the allowlist file and logs denied destinations. */
  private Service background(EgressGatewayService service, EgressStateFile state, Allowlist initial,
      IpPrefixSet special, Optional<EgressL7CheckService> l7) {
    ScheduledExecutorService background = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "conduit-egress-gateway");
      t.setDaemon(true);
      return t;
    });
    return new Service() {
      @Override
      public String name() {
        return "egress-background";
      }

      @Override
      public void start() throws Exception {
        EgressGateway gateway = service.gateway();
        EgressGatewayConfig config = gateway.config();
        state.save(initial);
        out().println("egress gateway: table inet " + config.table() + ", " + config.mode().name()
            .toLowerCase(Locale.ROOT).replace('_', '-') + ", " + initial.size() + " allowlist entries, protecting "
            + config.protectedNetworks() + "; metrics on http://" + format(service.metricsAddress()) + "/metrics");
        out().flush();
        DeniedLog denied = new DeniedLog(deniedLogLines);
        FileTime[] seen = {modified(allowlistFile)};
        l7.ifPresent(c -> out().println("egress gateway: L7 check on port " + c.check().address().getPort()
            + " for TCP ports " + config.l7Ports()));
        background.scheduleWithFixedDelay(() -> reloadFile(gateway, state, special, seen, l7), 2, 2,
            TimeUnit.SECONDS);
        long every = Math.max(100, deniedLogInterval.toMillis());
        background.scheduleWithFixedDelay(() -> {
          try {
            denied.lines(gateway.denied(), gateway.config().mode()).forEach(log::warn);
            l7.ifPresent(c -> denied.l7Lines(c.check().denied(), gateway.config().mode()).forEach(log::warn));
          } catch (NetfilterException | RuntimeException e) {
            log.warn("egress gateway: cannot read denied destinations: {}", e.getMessage());
          }
        }, every, every, TimeUnit.MILLISECONDS);
      }

      @Override
      public void close() throws InterruptedException {
        background.shutdownNow();
        background.awaitTermination(10, TimeUnit.SECONDS);
      }
    };
  }

  private void reloadFile(EgressGateway gateway, EgressStateFile state, IpPrefixSet special, FileTime[] seen,
      Optional<EgressL7CheckService> l7) {
    if (allowlistFile == null) {
      return;
    }
    try {
      FileTime now = modified(allowlistFile);
      if (now == null || now.equals(seen[0])) {
        return;
      }
      seen[0] = now;
      Allowlist next = fromFlags(special, Optional.of(Files.readString(allowlistFile)));
      gateway.update(next);
      l7.ifPresent(c -> c.check().update(NameAllowlist.ofAddresses(next)));
      state.save(next);
      log.info("egress gateway: {} re-read, {} allowlist entries", allowlistFile, next.size());
    } catch (IllegalArgumentException e) {
      log.warn("egress gateway: {} not applied (the allowlist in force stays): {}", allowlistFile, e.getMessage());
    } catch (IOException | RuntimeException e) {
      log.warn("egress gateway: cannot apply {}: {}", allowlistFile, e.getMessage());
    }
  }

  private static FileTime modified(Path file) {
    try {
      return file == null ? null : Files.getLastModifiedTime(file);
    } catch (IOException e) {
      return null;
    }
  }

  private IpPrefixSet special() {
    try {
      return IpPrefixSet.parse(allowSpecial.toArray(new String[0]));
    } catch (IllegalArgumentException e) {
      throw CliException.usage("--allow-special: " + e.getMessage());
    }
  }

  private EgressGatewayConfig config() {
    try {
      EgressGatewayConfig.Builder b = EgressGatewayConfig.builder().table(table).masquerade(!noMasquerade)
          .mode(switch (mode.toLowerCase(Locale.ROOT)) {
            case "enforce" -> EgressMode.ENFORCE;
            case "report-only", "report" -> EgressMode.REPORT_ONLY;
            default -> throw CliException.usage("--mode: " + mode + " (expected: enforce or report-only)");
          });
      List<String> networks = protectedNetworks.isEmpty()
          ? List.of("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
          : protectedNetworks;
      networks.forEach(b::protectedNetwork);
      if (outInterface != null) {
        b.outInterface(outInterface);
      }
      if (flowLogGroup != 0) {
        b.flowLogGroup(flowLogGroup);
      }
      if (l7Check) {
        b.l7CheckPort(l7CheckPort);
        if (!l7Ports.isEmpty()) {
          b.l7Ports(l7Ports);
        }
      } else if (!l7Ports.isEmpty() || !l7DnsServers.isEmpty()) {
        throw CliException.usage("--l7-ports and --l7-dns-server need --l7-check");
      }
      return b.build();
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
  }

  private Allowlist initialAllowlist(IpPrefixSet special, EgressStateFile state) throws IOException {
    if (!allowlist.isEmpty() || allowlistFile != null) {
      String file;
      try {
        file = allowlistFile == null ? null : Files.readString(allowlistFile);
      } catch (IOException e) {
        throw CliException.usage("--allowlist-file: cannot read " + allowlistFile + ": " + e.getMessage());
      }
      try {
        return fromFlags(special, Optional.ofNullable(file));
      } catch (IllegalArgumentException e) {
        throw CliException.usage(e.getMessage());
      }
    }
    try {
      Optional<Allowlist> kept = state.load(special);
      kept.ifPresent(a -> out().println("egress gateway: enforcing the " + a.size()
          + " allowlist entries kept in " + stateFile));
      return kept.orElse(Allowlist.empty());
    } catch (IllegalArgumentException e) {
      throw CliException.failure("--state-file: " + e.getMessage());
    }
  }

  /** The names kept with the state file when the allowlist comes from it, else the allowlist's addresses. */
  private NameAllowlist initialNames(EgressStateFile state, Allowlist initial) {
    if (allowlist.isEmpty() && allowlistFile == null) {
      try {
        Optional<NameAllowlist> kept = state.loadNames();
        if (kept.isPresent()) {
          out().println("egress gateway: the L7 check enforces the names kept in " + state.namesPath());
          return kept.get();
        }
      } catch (IOException | IllegalArgumentException e) {
        throw CliException.failure("--state-file: " + e.getMessage());
      }
    }
    return NameAllowlist.ofAddresses(initial);
  }

  private Allowlist fromFlags(IpPrefixSet special, Optional<String> file) {
    Allowlist.Builder b = Allowlist.builder(special);
    for (String entry : allowlist) {
      try {
        b.entry(entry.strip());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--allowlist: " + e.getMessage(), e);
      }
    }
    if (file.isPresent()) {
      try {
        b.entries(Allowlist.parse(file.get(), special));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--allowlist-file " + allowlistFile + ": " + e.getMessage(), e);
      }
    }
    return b.build();
  }

  private List<InetSocketAddress> l7DnsServers() {
    List<InetSocketAddress> out = new ArrayList<>();
    for (String server : l7DnsServers) {
      String s = server.strip();
      boolean bracketed = s.startsWith("[");
      int colon = bracketed ? s.indexOf("]:") + 1 : (s.indexOf(':') == s.lastIndexOf(':') ? s.indexOf(':') : -1);
      String host = colon > 0 ? s.substring(0, colon) : s;
      host = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
      try {
        int port = colon > 0 ? Integer.parseInt(s.substring(colon + 1)) : 53;
        if (port < 1 || port > 65535) {
          throw new NumberFormatException();
        }
        out.add(new InetSocketAddress(dev.conduit.core.net.IpAddress.parse(host).toInetAddress(), port));
      } catch (IllegalArgumentException e) {
        throw CliException.usage("--l7-dns-server: " + server + " (expected: an IP literal with an optional port,"
            + " e.g. 10.0.0.2 or [fd00::53]:53)");
      }
    }
    return out;
  }

  private String hostname() {
    if (hostname != null) {
      return hostname;
    }
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return Optional.ofNullable(System.getenv("HOSTNAME")).orElse("unknown");
    }
  }

  static InetSocketAddress bind(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    String host = colon < 0 ? "" : hostPort.substring(0, colon);
    String port = colon < 0 ? hostPort : hostPort.substring(colon + 1);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    try {
      int p = Integer.parseInt(port);
      if (p < 0 || p > 65535) {
        throw new NumberFormatException();
      }
      return host.isEmpty() ? new InetSocketAddress(p)
          : new InetSocketAddress(dev.conduit.core.net.IpAddress.parse(host).toInetAddress(), p);
    } catch (IllegalArgumentException e) {
      throw CliException.usage("--metrics-listen: " + hostPort + " (expected: HOST:PORT with an IP"
          + " literal and a port 0-65535, e.g. 0.0.0.0:9900)");
    }
  }

  private static String format(InetSocketAddress a) {
    String host = a.getAddress().getHostAddress();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
  }
}
