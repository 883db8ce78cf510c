package dev.conduit.netfilter;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.observe.ConnectionObserver;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import java.util.concurrent.CountDownLatch;

/**
 * conduit as a transparent proxy, for system tests and benchmarks, run in a child JVM inside a
 * network namespace: a transparent listener on {@code [::]:<port>}, its capture plan installed, the
 * plan's bypass mark on every dial. Rejects sniffed host {@code blocked.test}. Prints {@code READY
 * <port>}, then one line per event ({@code ROUTED}, {@code MARK}, {@code CLOSED}); on SIGTERM removes
 * the rules, drains, prints {@code STOPPED}.
 *
 * <p>Arguments: {@code <REDIRECT|TPROXY> <iptables|nftables> <port> <prefix> <ip:port>|net:<cidr>...}: the
 * endpoints and networks to capture (TPROXY: gateway capture, REDIRECT: local capture). {@code -Dquiet=true}
 * prints only READY/STOPPED (benchmarks); {@code -Ddrift.ms=N} repairs the rules every N ms and
 * prints {@code REPAIRED <what>} and {@code DRIFT <repairs by table and chain>} at each repair; {@code -Dudp=true} captures UDP too, relayed by a
 * {@link TransparentUdpRelay} ({@code -Dudp.idle.ms}, {@code -Dudp.maxFlows}) that prints {@code UDP
 * flows=...} whenever its counters change; UDP to port 9 is rejected. {@code -Dudp.socks=<socks5 url>} routes
 * UDP to ports 7 and 53 through that SOCKS5 server ({@code UDP ASSOCIATE}); the line {@code DIRECT} on
 * stdin then updates the relay's rules to relay them direct, and prints {@code UPDATED}.
 */
public final class TransparentMain {

  private TransparentMain() {}

  public static void main(String[] args) throws Exception {
    CaptureMode mode = CaptureMode.valueOf(args[0]);
    CommandRunner runner = CommandRunner.system();
    NetfilterBackend backend = args[1].equals("iptables")
        ? NetfilterBackend.iptables(runner) : NetfilterBackend.nftables(runner);
    int port = Integer.parseInt(args[2]);
    boolean quiet = Boolean.getBoolean("quiet");
    CapturePlan.Builder plan = CapturePlan.builder().prefix(args[3]).mode(mode).targetPort(port);
    if (mode == CaptureMode.TPROXY) {
      plan.localCapture(false).gatewayCapture(true);
    }
    for (int i = 4; i < args.length; i++) {
      if (args[i].startsWith("net:")) {
        plan.captureNetwork(args[i].substring(4));
      } else {
        plan.captureEndpoint(args[i]);
      }
    }
    boolean udp = Boolean.getBoolean("udp");
    plan.captureUdp(udp);
    CapturePlan capturePlan = plan.build();
    Router router = Router.builder().rule(Rule.builder("no-blocked").domain("blocked.test")
        .decision(RouteDecision.reject("blocked.test is blocked")).build())
        .rule(Rule.builder("no-udp-9").port(9).decision(RouteDecision.reject("port 9 is blocked")).build())
        .build();
    ConnectionObserver printer = new ConnectionObserver() {
      @Override
      public void routed(ConnectRequest r, Router.Match m) {
        print("ROUTED " + r.destination() + " sniffed=" + r.sniffedHost().orElse("-") + " rule=" + m.rule());
      }

      @Override
      public void closed(ConnectionSummary s) {
        print("CLOSED client=" + s.connection().client() + " dst="
            + s.destination().map(Object::toString).orElse("-") + " dialed="
            + s.dialed().map(Object::toString).orElse("-") + " outcome=" + s.outcome() + " in="
            + s.bytesFromClient() + " out=" + s.bytesToClient() + " detail=" + s.detail());
      }

      private void print(String line) {
        if (!quiet) {
          System.out.println(line);
          System.out.flush();
        }
      }
    };
    Conduit conduit = Conduit.builder()
        .listener(TransparentInbound.builder().mode(mode).build().listener("transparent", "[::]:" + port))
        .router(router)
        .outboundSocketCustomizer(TransparentSockets.outboundMark(capturePlan).andThen(ch -> {
          if (!quiet) {
            // read back from the kernel: the mark is really on the upstream socket
            System.out.println("MARK " + CapturePlan.hex(SocketOptions.mark(ch)));
          }
        }))
        .observer(printer)
        .build()
        .start();
    String socks = System.getProperty("udp.socks");
    TransparentUdpRelay.Builder relayConfig = TransparentUdpRelay.builder().bind("[::]:" + port).router(router);
    if (socks != null) {
      relayConfig.outbound(dev.conduit.core.outbound.Outbound.builder("socks")
          .hop(dev.conduit.core.outbound.Hop.parse(socks)).build());
      relayConfig.router(Router.builder()
          .rule(Rule.builder("no-udp-9").port(9).decision(RouteDecision.reject("port 9 is blocked")).build())
          .rule(Rule.builder("echo-via-socks").port(7).decision(RouteDecision.via("socks")).build())
          .rule(Rule.builder("dns-via-socks").port(53).decision(RouteDecision.via("socks")).build()).build());
    }
    TransparentUdpRelay relay = !udp ? null : relayConfig
        .bypassMark(capturePlan.bypassMark())
        .idleTimeout(java.time.Duration.ofMillis(Long.getLong("udp.idle.ms", 60_000)))
        .maxFlows(Integer.getInteger("udp.maxFlows", 4096)).build();
    if (relay != null && !quiet) {
      Thread stats = new Thread(() -> {
        String last = "";
        while (true) {
          String now = "UDP flows=" + relay.flows() + " peak=" + relay.peakFlows() + " expired="
              + relay.expiredFlows() + " in=" + relay.datagramsFromClients() + " out=" + relay.datagramsToClients()
              + " assocClosed=" + relay.associationsClosed() + " drops=" + relay.drops();
          if (!now.equals(last)) {
            System.out.println(now);
            System.out.flush();
            last = now;
          }
          try {
            Thread.sleep(20); // a printer, not a test wait
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "udp-stats");
      stats.setDaemon(true);
      stats.start();
      Thread commands = new Thread(() -> {
        try (java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in))) {
          for (String line; (line = in.readLine()) != null; ) {
            if (line.strip().equals("DIRECT")) {
              relay.update(router, java.util.List.of());
              System.out.println("UPDATED");
              System.out.flush();
            }
          }
        } catch (java.io.IOException e) {
          // stdin closed
        }
      }, "commands");
      commands.setDaemon(true);
      commands.start();
    }
    TransparentCapture capture;
    try {
      capture = TransparentCapture.install(capturePlan, backend, runner);
    } catch (NetfilterException e) {
      conduit.close();
      throw e;
    }
    long driftMillis = Long.getLong("drift.ms", 0);
    if (driftMillis > 0) {
      DriftRepair[] repair = new DriftRepair[1];
      repair[0] = capture.startDriftRepair(java.time.Duration.ofMillis(driftMillis), what -> {
        System.out.println("REPAIRED " + what);
        System.out.println("DRIFT " + (repair[0] == null ? "-" : repair[0].repairsByChain()));
        System.out.flush();
      });
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        capture.close();
        if (relay != null) {
          relay.close();
        }
        conduit.close();
        System.out.println("STOPPED");
        System.out.flush();
      } catch (Exception e) {
        System.out.println("STOP FAILED " + e);
      } finally {
        stopped.countDown();
      }
    }));
    System.out.println("READY " + conduit.address("transparent").getPort());
    System.out.flush();
    stopped.await();
  }
}
