package dev.conduit.cli.command;

import static dev.conduit.cli.command.MeshLab.ECHO;
import static dev.conduit.cli.command.MeshLab.awaitSets;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.command.MeshLab.Child;
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
 * The mesh's guarantees from the CLI, in network namespaces on one bridge ({@link MeshLab}): a manager whose
 * {@code manager.yaml} grants group {@code apps} (host A) port 7000 of group {@code db} (host B); B runs with
 * {@code server.enforce} on port 7000; C is a member outside {@code apps}; O is a host outside the mesh. A reaches
 * B's service through the mesh (the service sees B itself); C's tunnel is refused by the policy; O connecting in
 * clear is refused by the enforcement table; {@code conduit manager nodes revoke a} closes A's open tunnel and A's
 * next one is refused. Needs root, ip, iptables, ipset and nft (skips elsewhere; under CI=true it fails instead).
 */
class MeshGuardSystemTest {

  @TempDir
  Path dir;

  @BeforeAll
  static void requireRoot() {
    NetNs.requireRootAnd("ip", "iptables-save", "ip6tables-save", "ipset", "nft");
  }

  @Test
  @Timeout(value = 15, unit = TimeUnit.MINUTES) // five JVMs on a shared machine
  void policyEnforcementAndRevocationHoldEndToEnd() throws Exception {
    try (MeshLab lab = new MeshLab(dir)) {
      NetNs m = lab.host(1);
      NetNs a = lab.host(2);
      NetNs b = lab.host(3);
      NetNs c = lab.host(4);
      NetNs o = lab.host(5);

      Path managerYaml = lab.managerYaml("""
            auto_approve: true
            policy:
              groups:
                apps: [a]
                db: [b]
              allow:
                - {name: apps-to-db, from: apps, to: db, ports: ["%d"]}
          """.formatted(ECHO));
      Child manager = lab.manager(m, managerYaml);
      Child hostB = lab.conduit(b, Map.of(), lab.hostYaml("b", "198.18.0.3",
          "  enforce:\n    ports: [\"" + ECHO + "\"]\n"));
      Child echoB = lab.echo(b);
      hostB.await("mesh node b: membership version", "B enrolled and watching");
      Child hostA = lab.conduit(a, Map.of(), lab.hostYaml("a", "198.18.0.2", ""));
      Child hostC = lab.conduit(c, Map.of(), lab.hostYaml("c", "198.18.0.4", ""));
      awaitSets(a, List.of("198.18.0.3", "fd00::3"), List.of(), hostA);
      awaitSets(c, List.of("198.18.0.3", "fd00::3"), List.of(), hostC);

      // granted: A reaches B's service through the mesh, over both families; the service sees B itself
      assertThat(lab.send(a, "198.18.0.3", 100_000)).isEqualTo("OK");
      assertThat(lab.send(a, "fd00::3", 100_000)).isEqualTo("OK");
      assertThat(echoB.lines()).filteredOn(l -> l.startsWith("PEER")).containsExactly("PEER 198.18.0.3",
          "PEER fd00:0:0:0:0:0:0:3");
      // C is a member but not in group apps: B's policy refuses its tunnel
      assertThat(lab.send(c, "198.18.0.3", 1000)).as("C through the mesh; %s", lab.logs()).isNotEqualTo("OK");
      // O is outside the mesh: the enforced port refuses it in clear
      assertThat(lab.send(o, "198.18.0.3", 1000)).contains("Connection refused");
      assertThat(lab.send(o, "fd00::3", 1000)).contains("Connection refused");
      assertThat(echoB.lines()).filteredOn(l -> l.startsWith("PEER")).hasSize(2);

      // revocation: A's open tunnel closes, its next one is refused, whatever its certificate's lifetime
      Child held = lab.start(a, Map.of(), TcpEchoPeer.class.getName(), "hold", "198.18.0.3", Integer.toString(ECHO));
      held.await("HELD", "A's long-lived connection");
      lab.operator(m, managerYaml, "nodes", "revoke", "a");
      held.await("CLOSED", "A's tunnel closed after the revocation");
      assertThat(lab.send(a, "198.18.0.3", 1000)).as("A after its revocation").isNotEqualTo("OK");
      assertThat(hostB.process.isAlive()).as("%s", hostB.output()).isTrue();

      // B stops: its enforcement table goes with it
      hostB.stop();
      assertThat(b.run("nft", "list", "tables")).doesNotContain("conduit_enforce");
      manager.stop();
    }
  }
}
