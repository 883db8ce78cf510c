package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.Main;
import dev.conduit.netfilter.testing.NetNs;
import dev.conduit.cli.config.MeshNodeConfig;
import dev.conduit.core.testing.Processes;
import dev.conduit.netfilter.testing.NetNs;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seed 000's mesh, its files as written (addresses, paths and node names adapted), in network namespaces on one
 * bridge: a manager ({@code conduit manager -c manager.yaml}) and hosts A, B and C ({@code conduit -c
 * conduit.yaml}), each a separate JVM of the CLI. A and C enrol with join tokens (environment), B waits until the
 * operator approves it with the command it logged. An application on A then reaches TCP echo services on B and C
 * over IPv4 and IPv6, byte for byte, and each service sees the connection come from its own host (its conduit),
 * never from A. With the manager killed A keeps reaching B; A restarted while the manager is down comes up from its
 * saved membership; a member removed meanwhile leaves A's ipsets once the manager is back. Needs root, ip, iptables
 * and ipset (skips elsewhere; under CI=true it fails instead).
 */
class MeshSystemTest {
  private static final int ECHO = 7000;
  private final List<AutoCloseable> cleanup = new ArrayList<>();
  private final List<Child> children = new CopyOnWriteArrayList<>();

  @TempDir
  Path dir;

  @BeforeAll
  static void requireRoot() {
    NetNs.requireRootAnd("ip", "iptables-save", "ip6tables-save", "ipset");
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (int i = cleanup.size() - 1; i >= 0; i--) {
      cleanup.get(i).close();
    }
  }

  @Test
  @Timeout(value = 15, unit = TimeUnit.MINUTES) // five JVMs started and restarted on a shared machine
  void seedMeshTunnelsEveryHostOverIpv4AndIpv6AndOutlivesTheManager() throws Exception {
    NetNs sw = closing(NetNs.bare());
    sw.run("ip", "link", "add", "br0", "type", "bridge");
    sw.run("ip", "link", "set", "br0", "up");
    NetNs m = host(sw, "1");
    NetNs a = host(sw, "2");
    NetNs b = host(sw, "3");
    NetNs c = host(sw, "4");

    Path managerYaml = dir.resolve("manager.yaml");
    Files.writeString(managerYaml, ManagerCommandTest.SEED_MANAGER_YAML
        .replace("/opt/conduit/data/", dir.resolve("data") + "/")
        .replace("/opt/conduit/log/manager.log", dir.resolve("manager.log").toString()));
    Child manager = startManager(m, managerYaml);

    System.out.println("mesh: manager up");
    String tokenA = token(m, managerYaml);
    String tokenC = token(m, managerYaml);
    Child hostA = start(a, Map.of(MeshNodeConfig.TOKEN_ENV, tokenA), Main.class.getName(), "-c",
        hostYaml("a", "198.18.0.2").toString());
    Child hostC = start(c, Map.of(MeshNodeConfig.TOKEN_ENV, tokenC), Main.class.getName(), "-c",
        hostYaml("c", "198.18.0.4").toString());
    Child hostB = start(b, Map.of(), Main.class.getName(), "-c", hostYaml("b", "198.18.0.3").toString());
    System.out.println("mesh: hosts started");
    // B has no token: it waits, and says exactly what the operator runs
    hostB.await(l -> l.contains("conduit manager nodes approve b"), "B's approval hint");
    Child approve = start(m, Map.of(), Main.class.getName(), "manager", "nodes", "approve", "b", "-c",
        managerYaml.toString());
    approve.awaitExit("approve b");
    // approved, B fetches its certificate at its next attempt; until then its server has no certificate to offer
    hostB.await(l -> l.contains("mesh node b: membership version"), "B enrolled and watching");

    System.out.println("mesh: B approved");
    Child echoB = start(b, Map.of(), TcpEchoPeer.class.getName(), "echo", Integer.toString(ECHO));
    Child echoC = start(c, Map.of(), TcpEchoPeer.class.getName(), "echo", Integer.toString(ECHO));
    echoB.await(l -> l.equals("READY"), "B's echo");
    echoC.await(l -> l.equals("READY"), "C's echo");
    awaitSets(a, List.of("198.18.0.3", "fd00::3", "198.18.0.4", "fd00::4"), List.of(), hostA);

    System.out.println("mesh: sets ready");
    for (String target : List.of("198.18.0.3", "fd00::3", "198.18.0.4", "fd00::4")) {
      send(a, target, 200_000, hostA);
    }
    // each service saw its own host's conduit connect, over the family A used: never A itself
    assertThat(echoB.lines).filteredOn(l -> l.startsWith("PEER")).containsExactly("PEER 198.18.0.3",
        "PEER fd00:0:0:0:0:0:0:3");
    assertThat(echoC.lines).filteredOn(l -> l.startsWith("PEER")).containsExactly("PEER 198.18.0.4",
        "PEER fd00:0:0:0:0:0:0:4");

    // the manager is killed: the tunnels do not need it
    manager.kill();
    System.out.println("mesh: manager killed");
    send(a, "198.18.0.3", 50_000, hostA);
    send(a, "fd00::4", 50_000, hostA);

    // back up; A goes away, C is removed meanwhile, the manager is killed again
    manager = startManager(m, managerYaml);
    hostA.stop();
    Child rm = start(m, Map.of(), Main.class.getName(), "manager", "nodes", "rm", "c", "-c", managerYaml.toString());
    rm.awaitExit("rm c");
    hostC.stop();
    manager.kill();

    System.out.println("mesh: A restarting");
    // A restarts with the manager down: its saved membership (C still in it) is installed again
    hostA = start(a, Map.of(), Main.class.getName(), "-c", dir.resolve("a.yaml").toString());
    awaitSets(a, List.of("198.18.0.3", "fd00::3", "198.18.0.4"), List.of(), hostA);
    send(a, "198.18.0.3", 50_000, hostA);
    send(a, "fd00::3", 50_000, hostA);

    // the manager is back: C, removed while A was away, leaves A's sets (no add-only resync)
    manager = startManager(m, managerYaml);
    System.out.println("mesh: manager back");
    awaitSets(a, List.of("198.18.0.3", "fd00::3"), List.of("198.18.0.4", "fd00::4"), hostA);
    send(a, "198.18.0.3", 50_000, hostA);
    assertThat(hostA.process.isAlive()).as("%s", hostA.lines).isTrue();
    assertThat(hostB.process.isAlive()).as("%s", hostB.lines).isTrue();
  }

  private Child startManager(NetNs m, Path managerYaml) throws Exception {
    Child manager = start(m, Map.of(), Main.class.getName(), "manager", "-c", managerYaml.toString());
    manager.await(l -> l.contains("membership push channel on"), "the manager's push channel");
    return manager;
  }

  /** A single-use join token, created with the operator's command in the manager's namespace. */
  private String token(NetNs m, Path managerYaml) throws Exception {
    Child create = start(m, Map.of(), Main.class.getName(), "manager", "token", "create", "--ttl", "10m", "-c",
        managerYaml.toString());
    create.awaitExit("token create");
    return create.lines.stream().filter(l -> l.matches("[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+")).findFirst()
        .orElseThrow(() -> new AssertionError("no token in " + create.lines));
  }

  /** Seed 000's mesh conduit.yaml for one host, plus conduit's name and state directory. */
  private Path hostYaml(String name, String address) throws Exception {
    Path file = dir.resolve(name + ".yaml");
    Files.writeString(file, """
        manager:
          enable: true
          dial:
            network: tcp
            addresses:
              - 198.18.0.1:5051
          name: %s
          state_dir: %s

        server:
          enable: true
          listen:
            network: tcp
            addr: %s:5053

        client:
          enable: true
          network: tcp
          listen: 127.0.0.1:5052
          check_time: 60

        log:
          maxsize: 10
          level: info
        """.formatted(name, dir.resolve("state-" + name), address));
    return file;
  }

  /** Waits until A's ipsets list every address of {@code present} and none of {@code absent}. */
  private static void awaitSets(NetNs ns, List<String> present, List<String> absent, Child host)
      throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    String sets = "";
    while (System.nanoTime() < deadline) {
      sets = ns.run("ipset", "list");
      String listed = sets;
      if (present.stream().allMatch(p -> member(listed, p)) && absent.stream().noneMatch(p -> member(listed, p))) {
        assertThat(sets).contains("Name: CONDUIT");
        return;
      }
      host.process.waitFor(100, TimeUnit.MILLISECONDS); // polling the kernel's sets with a deadline
    }
    throw new AssertionError("ipsets never had " + present + " without " + absent + ":\n" + sets + "\nhost: "
        + host.output());
  }

  private static boolean member(String ipsetList, String address) {
    return ipsetList.lines().map(String::strip).anyMatch(l -> l.equals(address) || l.startsWith(address + " "));
  }

  /** An application on {@code ns} sends {@code size} bytes to the echo at {@code address} and gets them back. */
  private void send(NetNs ns, String address, int size, Child host) throws Exception {
    Child send = start(ns, Map.of(), TcpEchoPeer.class.getName(), "send", address, Integer.toString(ECHO),
        Integer.toString(size));
    send.awaitExit("send to " + address);
    assertThat(String.join("\n", send.lines)).as("to %s; processes:\n%s", address, logs()).isEqualTo("OK");
  }

  /** A namespace on the bridge with 198.18.0.N/24 and fd00::N/64. */
  private NetNs host(NetNs sw, String n) throws Exception {
    NetNs ns = closing(NetNs.bare());
    sw.run("ip", "link", "add", "h" + n, "type", "veth", "peer", "name", "eth0", "netns", ns.name);
    sw.run("ip", "link", "set", "h" + n, "master", "br0");
    sw.run("ip", "link", "set", "h" + n, "up");
    ns.run("ip", "addr", "add", "198.18.0." + n + "/24", "dev", "eth0");
    ns.run("ip", "-6", "addr", "add", "fd00::" + n + "/64", "dev", "eth0", "nodad");
    ns.run("ip", "link", "set", "eth0", "up");
    return ns;
  }

  /** Every process's output, for failure messages. */
  private String logs() {
    StringBuilder b = new StringBuilder();
    for (Child c : children) {
      b.append("=== ").append(c.label).append(c.process.isAlive() ? "" : " (exited)").append('\n')
          .append(c.output()).append('\n');
    }
    return b.toString();
  }

  private <T extends AutoCloseable> T closing(T resource) {
    cleanup.add(resource);
    return resource;
  }

  /** Starts a JVM of the test class path in {@code ns}, its output collected line by line; stopped at the end. */
  private Child start(NetNs ns, Map<String, String> env, String mainClass, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns.name));
    cmd.addAll(Processes.java());
    cmd.addAll(List.of("-Xmx256m", "-cp", System.getProperty("java.class.path"), mainClass));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().remove(MeshNodeConfig.TOKEN_ENV);
    pb.environment().putAll(env);
    Process p = pb.start();
    p.getOutputStream().close();
    Child child = new Child(p, ns.name + " " + mainClass.substring(mainClass.lastIndexOf('.') + 1) + " "
        + String.join(" ", args));
    children.add(child);
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          child.lines.add(line);
        }
      } catch (java.io.IOException e) {
        child.lines.add("READ FAILED " + e);
      }
    }, "output-" + p.pid());
    reader.setDaemon(true);
    reader.start();
    closing(() -> {
      child.stop();
      reader.join(10_000);
    });
    return child;
  }

  private static final class Child {
    final Process process;
    final String label;
    final List<String> lines = new CopyOnWriteArrayList<>();

    Child(Process process, String label) {
      this.process = process;
      this.label = label;
    }

    /** The output without logback's own status lines, the last 60 lines. */
    String output() {
      List<String> own = lines.stream().filter(l -> !l.contains(" |-")).toList();
      return String.join("\n", own.subList(Math.max(0, own.size() - 60), own.size()));
    }

    void await(Predicate<String> line, String what) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      while (lines.stream().noneMatch(line)) {
        assertThat(process.isAlive() || lines.stream().anyMatch(line)).as("exited before %s: %s", what, lines)
            .isTrue();
        assertThat(System.nanoTime() < deadline).as("no %s within 90 s: %s", what, lines).isTrue();
        process.waitFor(50, TimeUnit.MILLISECONDS); // returns early when the process exits
      }
    }

    void awaitExit(String what) throws InterruptedException {
      assertThat(process.waitFor(90, TimeUnit.SECONDS)).as("%s within 90 s: %s", what, lines).isTrue();
      assertThat(process.exitValue()).as("%s: %s", what, lines).isZero();
    }

    /** SIGTERM: the process stops gracefully (a conduit removes its capture rules). */
    void stop() throws InterruptedException {
      if (process.isAlive()) {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          process.waitFor(10, TimeUnit.SECONDS);
        }
      }
    }

    /** SIGKILL: nothing is cleaned up. */
    void kill() throws InterruptedException {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }
  }
}
