package dev.conduit.cli.command;

import dev.conduit.cli.CliException;
import dev.conduit.cli.RunControl;
import dev.conduit.netfilter.NetfilterException;
import dev.conduit.netfilter.egress.RouteAgent;
import dev.conduit.netfilter.egress.RouteAgentConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** {@code conduit egress route}: routes the public address space via the egress gateway. */
@CommandLine.Command(name = "route", mixinStandardHelpOptions = true,
    description = "Route every public IPv4/IPv6 prefix via the egress gateway (main table, protocol 193),"
        + " restore the routes when they disappear, and remove them on SIGTERM.")
public final class EgressRouteCommand extends BaseCommand implements Callable<Integer> {

  @Option(names = {"-iptables-gateway", "--gateway"}, paramLabel = "IP", required = true, split = ",",
      description = "The egress gateway's address on this host's network; once per family (IPv4, IPv6).")
  List<String> gateways = new ArrayList<>();

  @Option(names = "--extra-prefix", paramLabel = "CIDR", split = ",",
      description = "Also route this prefix via the gateway; repeatable.")
  List<String> extraPrefixes = new ArrayList<>();

  @Option(names = "--protocol", paramLabel = "N", defaultValue = "193",
      description = "The route protocol number that marks the agent's routes (default: ${DEFAULT-VALUE}).")
  int protocol;

  @Option(names = "--device", paramLabel = "NAME", description = "The interface the routes use (default: the gateway's).")
  String device;

  @Option(names = "--check-interval", paramLabel = "DURATION", defaultValue = "10s",
      description = "How often missing routes are restored (default: ${DEFAULT-VALUE}).")
  Duration checkInterval;

  @Override
  public Integer call() throws Exception {
    RouteAgentConfig config;
    try {
      RouteAgentConfig.Builder b = RouteAgentConfig.builder().protocol(protocol).checkInterval(checkInterval);
      for (String g : gateways) {
        b.gateway(g.strip());
      }
      extraPrefixes.forEach(p -> b.extraPrefix(p.strip()));
      if (device != null) {
        b.device(device);
      }
      config = b.build();
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
    RouteAgent agent;
    try {
      agent = RouteAgent.start(config, context().commandRunner());
    } catch (NetfilterException e) {
      throw CliException.failure(e.getMessage());
    }
    try {
      out().println("egress route: " + config.prefixes(true).size() + " IPv4 prefixes via "
          + config.gateway4().map(Object::toString).orElse("(none)") + ", " + config.prefixes(false).size()
          + " IPv6 prefixes via " + config.gateway6().map(Object::toString).orElse("(none)")
          + " (proto " + config.protocol() + ")");
      out().flush();
      RunControl control = context().runControl();
      control.started((dev.conduit.core.Conduit) null); // no proxy runs here: the control only installs its signal handlers
      control.awaitStop();
    } finally {
      agent.close();
      out().println("egress route: removed the routes of proto " + config.protocol());
    }
    return 0;
  }
}
