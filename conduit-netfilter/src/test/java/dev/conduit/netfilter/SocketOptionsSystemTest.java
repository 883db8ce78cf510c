package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.netfilter.testing.NetNs;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Reads original destinations from the real kernel: an epoll server in a child JVM inside a network
 * namespace, capture rules applied in that namespace, and socat connecting to 198.18.0.2:80 /
 * [fd00::2]:80 (addresses that exist nowhere, so only the capture can answer).
 */
class SocketOptionsSystemTest {

  @BeforeAll
  static void requireRoot() {
    NetNs.requireRootAnd("iptables-save", "ipset", "nft", "ip", "socat");
  }

  @Test
  void redirectOriginalDestinationIpv4AndIpv6() throws Exception {
    try (NetNs ns = NetNs.create()) {
      NetfilterBackend.iptables(ns.runner).apply(CapturePlan.builder().targetPort(15001)
          .captureEndpoint("198.18.0.2:80").captureEndpoint("[fd00::2]:80").build());
      // untracked traffic to 127.0.0.2 has no conntrack entry at all
      for (String chain : List.of("OUTPUT", "PREROUTING")) {
        ns.run("iptables", "-t", "raw", "-A", chain, "-d", "127.0.0.2", "-j", "CT", "--notrack");
      }
      List<String> seen = exchange(ns, "REDIRECT", List.of(
          List.of("socat", "-t", "60", "-T", "60", "-", "TCP4:198.18.0.2:80"),
          List.of("socat", "-t", "60", "-T", "60", "-", "TCP6:[fd00::2]:80"),
          // not redirected: conntrack's original destination is the listener itself
          List.of("socat", "-t", "60", "-T", "60", "-", "TCP4:127.0.0.1:15001"),
          List.of("socat", "-t", "60", "-T", "60", "-", "TCP4:127.0.0.2:15001")));
      assertThat(seen).hasSize(4);
      assertThat(seen.subList(0, 3))
          .containsExactly("dst=198.18.0.2:80", "dst=fd00:0:0:0:0:0:0:2:80", "dst=127.0.0.1:15001");
      // untracked: usually ENOENT; on this 6.18 kernel an occasional run reports a loopback tuple
      // instead (seen 2 times in ~20 runs). Either way it is never a captured destination.
      assertThat(seen.get(3)).satisfiesAnyOf(
          v -> assertThat(v).isEqualTo("error=getsockopt(SO_ORIGINAL_DST) failed: errno 2 (No such file or"
              + " directory): no conntrack entry: connection was not redirected"),
          v -> assertThat(v).startsWith("dst=127.0.0."));
    }
  }

  @Test
  void tproxyOriginalDestinationIsTheLocalAddress() throws Exception {
    try (NetNs ns = NetNs.create()) {
      NetfilterBackend.nftables(ns.runner).apply(CapturePlan.builder().mode(CaptureMode.TPROXY)
          .targetPort(15001).captureAddress("198.18.0.2").capturePort(80).build());
      assertThat(exchange(ns, "TPROXY", List.of(
          List.of("socat", "-t", "60", "-T", "60", "-", "TCP4:198.18.0.2:80"),
          List.of("socat", "-t", "60", "-T", "60", "-", "TCP6:[fd00::2]:80"))))
          .containsExactly("dst=198.18.0.2:80", "dst=fd00:0:0:0:0:0:0:2:80");
    }
  }

  /**
   * Starts the server in the namespace, runs each client, returns each client's output line. The clients are
   * socat with {@code -t 60}: after its stdin's end socat waits only 0.5 s for the reply by default, less than a
   * cold server's first answer takes on a loaded machine.
   */
  private static List<String> exchange(NetNs ns, String mode, List<List<String>> clients)
      throws Exception {
    Process server = ns.java(OriginalDestinationServer.class, "15001", mode);
    try {
      BufferedReader out = new BufferedReader(
          new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
      String ready = out.readLine();
      assertThat(ready).as("server output").isEqualTo(
          "READY transparent=" + mode.equals("TPROXY"));
      java.util.ArrayList<String> lines = new java.util.ArrayList<>();
      for (List<String> client : clients) {
        lines.add(ns.runner.run(Command.of(client.toArray(String[]::new))).stdout().strip());
      }
      return lines;
    } finally {
      server.destroyForcibly();
      server.waitFor(10, TimeUnit.SECONDS);
    }
  }
}
