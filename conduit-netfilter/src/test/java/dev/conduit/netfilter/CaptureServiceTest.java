package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.admin.AdminServer;
import dev.conduit.core.runtime.ConduitRuntime;
import dev.conduit.core.runtime.ServiceStartException;
import dev.conduit.core.tunnel.ForwardEntry;
import dev.conduit.netfilter.testing.NetNs;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** The capture as a runtime service, installing real iptables rules in a network namespace the test makes. */
class CaptureServiceTest {

  @Test
  void installsAtStartShowsOnTheAdminEndpointAndRemovesAtDrain() throws Exception {
    NetNs.requireRootAnd("ip", "iptables", "iptables-save", "ipset");
    try (NetNs ns = NetNs.create()) {
      List<String> journal = new CopyOnWriteArrayList<>();
      CaptureService capture = CaptureService.builder(
              () -> ForwardTableCapture.plan(List.of(ForwardEntry.parse("198.18.0.7:3306", null)),
                  new InetSocketAddress(InetAddress.getLoopbackAddress(), 5052)),
              NetfilterBackend.iptables(ns.runner), ns.runner)
          .watcher(installed -> {
            journal.add("watching " + installed.plan().prefix());
            return () -> journal.add("watcher closed, rules present: " + nat(ns).contains("CONDUIT"));
          })
          .description(plan -> "1 forward_table entry redirected to 127.0.0.1:5052")
          .build();
      ConduitRuntime runtime = ConduitRuntime.builder().service(capture)
          .admin(AdminServer.builder().bind("127.0.0.1:0")).build().start();
      try {
        assertThat(nat(ns)).contains("CONDUIT").contains("127.0.0.1:5052");
        assertThat(capture.capture()).isPresent();
        HttpResponse<String> shown = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
                "http://127.0.0.1:" + runtime.admin().orElseThrow().address().getPort() + CaptureService.ADMIN_PATH))
            .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(shown.statusCode()).isEqualTo(200);
        assertThat(shown.body()).contains("CONDUIT");
      } finally {
        runtime.stop();
      }
      assertThat(nat(ns)).doesNotContain("CONDUIT");
      assertThat(capture.capture()).isEmpty();
      assertThat(journal).containsExactly("watching CONDUIT", "watcher closed, rules present: true");
    }
  }

  @Test
  void anUnmetPrerequisiteFailsTheStartAndInstallsNothing() throws Exception {
    NetNs.requireRootAnd("ip", "iptables", "iptables-save");
    try (NetNs ns = NetNs.create()) {
      CommandRunner noIpset = (argv, stdin) -> String.join(" ", argv).contains("ipset")
          ? new CommandRunner.Result(127, "", "ipset: not found") : ns.runner.run(argv, stdin);
      ConduitRuntime runtime = ConduitRuntime.builder().service(CaptureService.builder(
          () -> ForwardTableCapture.plan(List.of(ForwardEntry.parse(":80", null)), new InetSocketAddress(5052)),
          NetfilterBackend.iptables(noIpset), noIpset).build()).build();
      assertThatThrownBy(runtime::start).isInstanceOf(ServiceStartException.class).hasMessageStartingWith("capture: ")
          .hasCauseInstanceOf(NetfilterException.class);
      assertThat(nat(ns)).doesNotContain("CONDUIT");
    }
  }

  private static String nat(NetNs ns) throws NetfilterException {
    return ns.runner.run(List.of("iptables-save", "-t", "nat"), "").stdout();
  }
}
