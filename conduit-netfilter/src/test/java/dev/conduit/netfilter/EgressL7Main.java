package dev.conduit.netfilter;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.control.push.PushUpdate;
import dev.conduit.core.net.IpPrefixSet;
import dev.conduit.netfilter.egress.Allowlist;
import dev.conduit.netfilter.egress.EgressGateway;
import dev.conduit.netfilter.egress.EgressGatewayConfig;
import dev.conduit.netfilter.egress.EgressL7Check;
import dev.conduit.netfilter.egress.EgressPushApplier;
import dev.conduit.netfilter.egress.EgressReporter;
import dev.conduit.netfilter.egress.ProcessLauncher;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;

/**
 * An egress gateway with the L7 check, for system tests, run in a child JVM inside the gateway's namespace
 * of an {@link EgressLab}: protects 198.18.1.0/24 and fd00:1::/64, L7 check on {@code [::]:15080}, the lab's
 * space allowed, names below wildcards resolved with the DNS server given. The allowlist comes as a pushed
 * state through {@link EgressPushApplier}, built from the arguments.
 *
 * <p>Arguments: {@code <dns ip> <table> <resource>...}, each resource {@code ADDRESS=name[,name]} (a domain's
 * addresses), {@code ADDRESS} (an address entry) or {@code *.suffix} (a wildcard), each optionally followed by
 * {@code @PORT[,PORT]} (the ports its entries allow). Prints {@code READY}; on the
 * stdin line {@code REPORT} prints the denied flows of the report the gateway would send its server
 * ({@link EgressReporter}), one {@code DENIED <destination> <port> <sni|-> <host|-> <count>} line each, then
 * {@code END}; on SIGTERM removes its tables and prints {@code STOPPED}.
 */
public final class EgressL7Main {

  private EgressL7Main() {}

  public static void main(String[] args) throws Exception {
    IpPrefixSet lab = IpPrefixSet.parse("198.18.0.0/15", "fd00::/8");
    EgressGatewayConfig config = EgressGatewayConfig.builder().table(args[1]).protectedNetwork("198.18.1.0/24")
        .protectedNetwork("fd00:1::/64").l7CheckPort(15080).build();
    EgressL7Check l7 = EgressL7Check.builder().bind(new InetSocketAddress("::", 15080))
        .protectedNetworks(config.protectedNetworks()).allowedSpecial(lab)
        .dnsServers(List.of(new InetSocketAddress(args[0], 53))).peekTimeout(Duration.ofSeconds(3)).build();
    EgressGateway gateway = EgressGateway.install(config, Allowlist.empty(), CommandRunner.system());
    Map<String, JsonNode> resources = new LinkedHashMap<>();
    for (int i = 2; i < args.length; i++) {
      String[] withPorts = args[i].split("@", 2);
      String[] kv = withPorts[0].split("=", 2);
      ObjectNode value = JsonNodeFactory.instance.objectNode();
      var entries = value.putArray("entries");
      if (kv.length == 2) {
        for (String name : kv[1].split(",")) {
          entries.add(name);
        }
      } else {
        entries.add(kv[0]);
      }
      var ports = value.putArray("ports");
      if (withPorts.length == 2) {
        for (String port : withPorts[1].split(",")) {
          ports.add(Integer.parseInt(port));
        }
      }
      resources.put(kv[0], value);
    }
    PushState state = PushState.of(1, resources);
    new EgressPushApplier(gateway, lab, Optional.empty(), Optional.of(l7))
        .apply(new PushUpdate(PushUpdate.Kind.SNAPSHOT, state, PushState.empty(), Optional.empty()));
    EgressReporter reporter = new EgressReporter(gateway, Optional.empty(), Optional.of(l7), ProcessLauncher.system(),
        report -> true, EgressReporter.Settings.DEFAULT, java.time.Clock.systemUTC());
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        gateway.close();
        l7.close();
        System.out.println("STOPPED");
        System.out.flush();
      } catch (Exception e) {
        System.out.println("STOP FAILED " + e);
      } finally {
        stopped.countDown();
      }
    }));
    Thread commands = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in))) {
        for (String line; (line = in.readLine()) != null; ) {
          if (line.strip().equals("REPORT")) {
            // as the egress server gets them: the reporter joins the L7 check's refusals to the kernel's
            for (JsonNode d : reporter.report().get("denied")) {
              System.out.println("DENIED " + d.get("destination").asText() + " " + d.get("port").asInt() + " "
                  + (d.get("sni").isNull() ? "-" : d.get("sni").asText()) + " "
                  + (d.get("host").isNull() ? "-" : d.get("host").asText()) + " " + d.get("count").asLong());
            }
            System.out.println("END");
            System.out.flush();
          }
        }
      } catch (java.io.IOException e) {
        // stdin closed
      }
    }, "commands");
    commands.setDaemon(true);
    commands.start();
    System.out.println("READY " + l7.address().getPort());
    System.out.flush();
    stopped.await();
  }
}
