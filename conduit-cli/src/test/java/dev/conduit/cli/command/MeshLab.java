package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.Main;
import dev.conduit.cli.config.MeshNodeConfig;
import dev.conduit.core.testing.FileWatch;
import dev.conduit.core.testing.Poll;
import dev.conduit.core.testing.Processes;
import dev.conduit.netfilter.testing.NetNs;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A mesh in network namespaces for the CLI's system tests: a bridge, hosts on it ({@code 198.18.0.N/24} and
 * {@code fd00::N/64}), seed 000's {@code manager.yaml} and mesh {@code conduit.yaml} written for them, and JVMs of the
 * CLI (or of {@link TcpEchoPeer}) started in a host's namespace. Each JVM writes its output to a file of its own,
 * and the lab waits for lines there ({@link FileWatch}: on the file system's change events, with a deadline), never
 * for a time. Closing the lab stops every JVM it started (by its process) and deletes the namespaces, in reverse.
 */
final class MeshLab implements AutoCloseable {
  /** The TCP echo service's port on every host. */
  static final int ECHO = 7000;
  /** How long one wait lasts at most: JVMs start slowly on a busy machine. */
  static final Duration PATIENCE = Duration.ofSeconds(120);

  private final Path dir;
  private final List<AutoCloseable> cleanup = new ArrayList<>();
  private final List<Child> children = new CopyOnWriteArrayList<>();
  private final AtomicInteger started = new AtomicInteger();
  private final NetNs bridge;

  /** A lab keeping its files in {@code dir}; it needs root, ip and the tools its tests name. */
  MeshLab(Path dir) throws Exception {
    this.dir = dir;
    this.bridge = closing(NetNs.bare());
    bridge.run("ip", "link", "add", "br0", "type", "bridge");
    bridge.run("ip", "link", "set", "br0", "up");
  }

  /** The lab's directory (configuration, state, logs). */
  Path dir() {
    return dir;
  }

  /** A namespace on the bridge with {@code 198.18.0.N/24} and {@code fd00::N/64}. */
  NetNs host(int n) throws Exception {
    NetNs ns = closing(NetNs.bare());
    bridge.run("ip", "link", "add", "h" + n, "type", "veth", "peer", "name", "eth0", "netns", ns.name);
    bridge.run("ip", "link", "set", "h" + n, "master", "br0");
    bridge.run("ip", "link", "set", "h" + n, "up");
    ns.run("ip", "addr", "add", "198.18.0." + n + "/24", "dev", "eth0");
    ns.run("ip", "-6", "addr", "add", "fd00::" + n + "/64", "dev", "eth0", "nodad");
    ns.run("ip", "link", "set", "eth0", "up");
    return ns;
  }

  /**
   * Seed 000's {@code manager.yaml} as written, its data and log paths in the lab, with {@code managerExtra} (YAML
   * lines indented by two) added to its {@code conduit_manager} section and each {@code replacements} pair replaced.
   */
  Path managerYaml(String managerExtra, String... replacements) throws IOException {
    String yaml = ManagerCommandTest.SEED_MANAGER_YAML
        .replace("/opt/conduit/data/", dir.resolve("data") + "/")
        .replace("/opt/conduit/log/manager.log", dir.resolve("manager.log").toString())
        .replace("conduit_manager:\n", "conduit_manager:\n" + managerExtra);
    for (int i = 0; i + 1 < replacements.length; i += 2) {
      assertThat(yaml).as("manager.yaml to change").contains(replacements[i]);
      yaml = yaml.replace(replacements[i], replacements[i + 1]);
    }
    Path file = dir.resolve("manager.yaml");
    Files.writeString(file, yaml);
    return file;
  }

  /** Seed 000's mesh {@code conduit.yaml} for host {@code name} ({@code 198.18.0.N}), with server extras. */
  Path hostYaml(String name, String address, String serverExtra) throws IOException {
    return hostYaml(name, address, serverExtra, "");
  }

  /** As {@link #hostYaml(String, String, String)}, with top-level sections of conduit's added (e.g. admin). */
  Path hostYaml(String name, String address, String serverExtra, String sections) throws IOException {
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
        %s
        client:
          enable: true
          network: tcp
          listen: 127.0.0.1:5052
          check_time: 60

        log:
          maxsize: 10
          level: info
        %s""".formatted(name, stateDir(name), address, serverExtra, sections));
    return file;
  }

  /** Host {@code name}'s mesh state directory (key, certificate, saved membership). */
  Path stateDir(String name) {
    return dir.resolve("state-" + name);
  }

  /** {@code conduit manager -c manager.yaml} in {@code ns}, once its push channel is up. */
  Child manager(NetNs ns, Path managerYaml) throws Exception {
    Child manager = start(ns, Map.of(), Main.class.getName(), "manager", "-c", managerYaml.toString());
    manager.await("membership push channel on", "the manager's push channel");
    return manager;
  }

  /** Runs {@code conduit manager ARGS -c manager.yaml} in {@code ns} to its successful end. */
  Child operator(NetNs ns, Path managerYaml, String... args) throws Exception {
    List<String> argv = new ArrayList<>(List.of("manager"));
    argv.addAll(List.of(args));
    argv.addAll(List.of("-c", managerYaml.toString()));
    Child command = start(ns, Map.of(), Main.class.getName(), argv.toArray(String[]::new));
    command.awaitExit(String.join(" ", args));
    return command;
  }

  /** A single-use join token, created with the operator's command in the manager's namespace. */
  String token(NetNs ns, Path managerYaml) throws Exception {
    Child create = operator(ns, managerYaml, "token", "create", "--ttl", "10m");
    return create.lines().stream().filter(l -> l.matches("[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+")).findFirst()
        .orElseThrow(() -> new AssertionError("no token in " + create.lines()));
  }

  /** {@code conduit -c yaml} in {@code ns} (with {@code env}, e.g. a join token). */
  Child conduit(NetNs ns, Map<String, String> env, Path yaml) throws Exception {
    return start(ns, env, Main.class.getName(), "-c", yaml.toString());
  }

  /** The TCP echo service on {@link #ECHO} in {@code ns}, once it listens. */
  Child echo(NetNs ns) throws Exception {
    Child echo = start(ns, Map.of(), TcpEchoPeer.class.getName(), "echo", Integer.toString(ECHO));
    echo.await("READY", "the echo service");
    return echo;
  }

  /** An application on {@code ns} sends {@code size} bytes to the echo at {@code address}: OK, or what went wrong. */
  String send(NetNs ns, String address, int size) throws Exception {
    Child send = start(ns, Map.of(), TcpEchoPeer.class.getName(), "send", address, Integer.toString(ECHO),
        Integer.toString(size));
    send.awaitExit("send to " + address);
    return String.join("\n", send.lines());
  }

  /** As {@link #send(NetNs, String, int)}, asserting that the bytes came back. */
  void sendOk(NetNs ns, String address, int size) throws Exception {
    assertThat(send(ns, address, size)).as("to %s; processes:\n%s", address, logs()).isEqualTo("OK");
  }

  /**
   * Waits until the ipsets in {@code ns} list every address of {@code present} and none of {@code absent} (the
   * kernel announces no event: listed again with a deadline).
   */
  static void awaitSets(NetNs ns, List<String> present, List<String> absent, Child host) {
    AtomicReference<String> sets = new AtomicReference<>("");
    try {
      Poll.until("ipsets with " + present + " without " + absent, PATIENCE, () -> {
        try {
          sets.set(ns.run("ipset", "list"));
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
        return present.stream().allMatch(p -> member(sets.get(), p))
            && absent.stream().noneMatch(p -> member(sets.get(), p));
      });
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + ":\n" + sets.get() + "\nhost: " + host.output(), e);
    }
    assertThat(sets.get()).contains("Name: CONDUIT");
  }

  private static boolean member(String ipsetList, String address) {
    return ipsetList.lines().map(String::strip).anyMatch(l -> l.equals(address) || l.startsWith(address + " "));
  }

  /** Every process's output, for failure messages. */
  String logs() {
    StringBuilder b = new StringBuilder();
    for (Child c : children) {
      b.append("=== ").append(c.label).append(c.process.isAlive() ? "" : " (exited)").append('\n')
          .append(c.output()).append('\n');
    }
    return b.toString();
  }

  /**
   * Starts a JVM of the test class path in {@code ns}, its output (and error) written to a file of its own; its
   * standard input stays open for {@link Child#tell}. Stopped when the lab closes.
   */
  Child start(NetNs ns, Map<String, String> env, String mainClass, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns.name));
    cmd.addAll(Processes.java());
    cmd.addAll(List.of("-Xmx256m", "-cp", System.getProperty("java.class.path"), mainClass));
    cmd.addAll(List.of(args));
    String simpleName = mainClass.substring(mainClass.lastIndexOf('.') + 1);
    Path log = dir.resolve("out-" + started.incrementAndGet() + "-" + simpleName + ".log");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().remove(MeshNodeConfig.TOKEN_ENV);
    pb.environment().putAll(env);
    Child child = new Child(pb.start(), ns.name + " " + simpleName + " " + String.join(" ", args), log);
    children.add(child);
    closing(child::stop);
    return child;
  }

  private <T extends AutoCloseable> T closing(T resource) {
    cleanup.add(resource);
    return resource;
  }

  @Override
  public void close() throws Exception {
    Exception first = null;
    for (int i = cleanup.size() - 1; i >= 0; i--) {
      try {
        cleanup.get(i).close();
      } catch (Exception e) {
        first = first == null ? e : first;
      }
    }
    if (first != null) {
      throw first;
    }
  }

  /** A JVM the lab started, its output in a file. */
  static final class Child {
    final Process process;
    final String label;
    final Path log;

    Child(Process process, String label, Path log) {
      this.process = process;
      this.label = label;
      this.log = log;
    }

    /** Its output so far, line by line. */
    List<String> lines() {
      try {
        return Files.readAllLines(log, StandardCharsets.UTF_8);
      } catch (IOException e) {
        return List.of("(output unreadable: " + e + ")");
      }
    }

    /** The output without logback's own status lines, the last 60 lines. */
    String output() {
      List<String> own = lines().stream().filter(l -> !l.contains(" |-")).toList();
      return String.join("\n", own.subList(Math.max(0, own.size() - 60), own.size()));
    }

    /** Waits for {@code text} in its output, failing if it exits first or after {@link #PATIENCE}. */
    void await(String text, String what) throws IOException, InterruptedException {
      await(Pattern.compile(Pattern.quote(text)), what);
    }

    /** Waits for a match of {@code pattern} in its output (the whole output: use {@code (?s)} to span lines). */
    Matcher await(Pattern pattern, String what) throws IOException, InterruptedException {
      try {
        return FileWatch.await(log, pattern, PATIENCE, process);
      } catch (AssertionError e) {
        throw new AssertionError(what + " (" + label + "): " + e.getMessage(), e);
      }
    }

    /** Waits for its end (at most {@link #PATIENCE}) and asserts a zero exit status. */
    void awaitExit(String what) throws InterruptedException {
      assertThat(process.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS)).as("%s: %s", what, lines()).isTrue();
      assertThat(process.exitValue()).as("%s: %s", what, lines()).isZero();
    }

    /** Writes a line to its standard input. */
    void tell(String line) throws IOException {
      OutputStream in = process.getOutputStream();
      in.write((line + "\n").getBytes(StandardCharsets.UTF_8));
      in.flush();
    }

    /** SIGTERM: the process stops gracefully (a conduit removes its capture rules). */
    void stop() throws InterruptedException {
      try {
        process.getOutputStream().close();
      } catch (IOException e) {
        // it has gone already
      }
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
