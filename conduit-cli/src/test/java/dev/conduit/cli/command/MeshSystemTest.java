package dev.conduit.cli.command;

import static dev.conduit.cli.command.MeshLab.awaitSets;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.command.MeshLab.Child;
import dev.conduit.cli.config.MeshNodeConfig;
import dev.conduit.netfilter.testing.NetNs;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seed 000's mesh, its files as written (addresses, paths and node names adapted), in network namespaces on one
 * bridge ({@link MeshLab}): a manager ({@code conduit manager -c manager.yaml}) and hosts A, B and C ({@code conduit
 * -c conduit.yaml}), each a separate JVM of the CLI. A and C enrol with join tokens (environment), B waits until the
 * operator approves it with the command it logged. An application on A then reaches TCP echo services on B and C
 * over IPv4 and IPv6, byte for byte, and each service sees the connection come from its own host (its conduit),
 * never from A. With the manager killed A keeps reaching B; A restarted while the manager is down comes up from its
 * saved membership; a member removed meanwhile leaves A's ipsets once the manager is back. Needs root, ip, iptables
 * and ipset (skips elsewhere; under CI=true it fails instead).
 */
class MeshSystemTest {

  @TempDir
  Path dir;

  @BeforeAll
  static void requireRoot() {
    NetNs.requireRootAnd("ip", "iptables-save", "ip6tables-save", "ipset");
  }

  @Test
  @Timeout(value = 15, unit = TimeUnit.MINUTES) // five JVMs started and restarted on a shared machine
  void seedMeshTunnelsEveryHostOverIpv4AndIpv6AndOutlivesTheManager() throws Exception {
    try (MeshLab lab = new MeshLab(dir)) {
      NetNs m = lab.host(1);
      NetNs a = lab.host(2);
      NetNs b = lab.host(3);
      NetNs c = lab.host(4);

      Path managerYaml = lab.managerYaml("");
      Child manager = lab.manager(m, managerYaml);
      String tokenA = lab.token(m, managerYaml);
      String tokenC = lab.token(m, managerYaml);
      Child hostA = lab.conduit(a, Map.of(MeshNodeConfig.TOKEN_ENV, tokenA), lab.hostYaml("a", "198.18.0.2", ""));
      Child hostC = lab.conduit(c, Map.of(MeshNodeConfig.TOKEN_ENV, tokenC), lab.hostYaml("c", "198.18.0.4", ""));
      Child hostB = lab.conduit(b, Map.of(), lab.hostYaml("b", "198.18.0.3", ""));
      // B has no token: it waits, and says exactly what the operator runs
      hostB.await("conduit manager nodes approve b", "B's approval hint");
      lab.operator(m, managerYaml, "nodes", "approve", "b");
      // approved, B fetches its certificate at its next attempt; until then its server has no certificate to offer
      hostB.await("mesh node b: membership version", "B enrolled and watching");

      Child echoB = lab.echo(b);
      Child echoC = lab.echo(c);
      awaitSets(a, List.of("198.18.0.3", "fd00::3", "198.18.0.4", "fd00::4"), List.of(), hostA);

      for (String target : List.of("198.18.0.3", "fd00::3", "198.18.0.4", "fd00::4")) {
        lab.sendOk(a, target, 200_000);
      }
      // each service saw its own host's conduit connect, over the family A used: never A itself
      assertThat(echoB.lines()).filteredOn(l -> l.startsWith("PEER")).containsExactly("PEER 198.18.0.3",
          "PEER fd00:0:0:0:0:0:0:3");
      assertThat(echoC.lines()).filteredOn(l -> l.startsWith("PEER")).containsExactly("PEER 198.18.0.4",
          "PEER fd00:0:0:0:0:0:0:4");

      // the manager is killed: the tunnels do not need it
      manager.kill();
      lab.sendOk(a, "198.18.0.3", 50_000);
      lab.sendOk(a, "fd00::4", 50_000);

      // back up; A goes away, C is removed meanwhile, the manager is killed again
      manager = lab.manager(m, managerYaml);
      hostA.stop();
      lab.operator(m, managerYaml, "nodes", "rm", "c");
      hostC.stop();
      manager.kill();

      // A restarts with the manager down: its saved membership (C still in it) is installed again
      hostA = lab.conduit(a, Map.of(), dir.resolve("a.yaml"));
      awaitSets(a, List.of("198.18.0.3", "fd00::3", "198.18.0.4"), List.of(), hostA);
      lab.sendOk(a, "198.18.0.3", 50_000);
      lab.sendOk(a, "fd00::3", 50_000);

      // the manager is back: C, removed while A was away, leaves A's sets (no add-only resync)
      lab.manager(m, managerYaml);
      awaitSets(a, List.of("198.18.0.3", "fd00::3"), List.of("198.18.0.4", "fd00::4"), hostA);
      lab.sendOk(a, "198.18.0.3", 50_000);
      assertThat(hostA.process.isAlive()).as("%s", hostA.output()).isTrue();
      assertThat(hostB.process.isAlive()).as("%s", hostB.output()).isTrue();
    }
  }
}
