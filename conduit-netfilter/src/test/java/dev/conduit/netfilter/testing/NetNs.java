package dev.conduit.netfilter.testing;

import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conduit.core.testing.Processes;
import dev.conduit.netfilter.Command;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.NetfilterException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A network namespace made by a test ({@code cdt-<random>}): {@link #create()} with {@code lo} up and a veth
 * pair (cdt0, cdt1) whose cdt0 carries 198.18.0.1/24 and fd00::1/64, so 198.18.0.2 and fd00::2 are routable but
 * reach nothing; {@link #bare()} with {@code lo} only. Deleted by {@link #close()}. In this module's test-jar:
 * conduit-cli's system tests use it too.
 */
public final class NetNs implements AutoCloseable {

  /** Runs commands on the host (outside any namespace made here). */
  public static final CommandRunner HOST = CommandRunner.system();

  /** The namespace's name. */
  public final String name;
  /** Runs commands inside the namespace. */
  public final CommandRunner runner;

  private NetNs(String name) {
    this.name = name;
    this.runner = HOST.inNetworkNamespace(name);
  }

  /**
   * Skips the test (or fails it under CI=true) unless running as root with the tools.
   *
   * @param tools programs that must be on the PATH
   */
  public static void requireRootAnd(String... tools) {
    String reason = null;
    try {
      if (!HOST.run(List.of("id", "-u"), "").stdout().strip().equals("0")) {
        reason = "system test needs root (network namespaces, netfilter)";
      }
      for (String tool : tools) {
        if (reason == null && !HOST.run(List.of("sh", "-c", "command -v " + tool), "").ok()) {
          reason = "system test needs " + tool + " on the PATH";
        }
      }
    } catch (NetfilterException e) {
      reason = "system test cannot run commands: " + e.getMessage();
    }
    if (reason != null) {
      if ("true".equals(System.getenv("CI"))) {
        fail(reason + " (CI=true: system tests must run)");
      }
      assumeTrue(false, reason);
    }
  }

  public static NetNs create() throws NetfilterException {
    String name = "cdt-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24));
    HOST.run(Command.of("ip", "netns", "add", name));
    NetNs ns = new NetNs(name);
    try {
      ns.run("ip", "link", "set", "lo", "up");
      ns.run("ip", "link", "add", "cdt0", "type", "veth", "peer", "name", "cdt1");
      ns.run("ip", "link", "set", "cdt0", "up");
      ns.run("ip", "link", "set", "cdt1", "up");
      ns.run("ip", "addr", "add", "198.18.0.1/24", "dev", "cdt0");
      ns.run("ip", "-6", "addr", "add", "fd00::1/64", "dev", "cdt0", "nodad");
    } catch (NetfilterException | RuntimeException e) {
      ns.close();
      throw e;
    }
    return ns;
  }

  /** Creates a namespace with only {@code lo} up (link namespaces with {@link #link}). */
  public static NetNs bare() throws NetfilterException {
    String name = "cdt-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24));
    HOST.run(Command.of("ip", "netns", "add", name));
    NetNs ns = new NetNs(name);
    try {
      ns.run("ip", "link", "set", "lo", "up");
    } catch (NetfilterException | RuntimeException e) {
      ns.close();
      throw e;
    }
    return ns;
  }

  /**
   * Connects two namespaces with a veth pair and gives each end its addresses (CIDR notation,
   * IPv6 without duplicate address detection).
   */
  public static void link(NetNs a, String ifA, List<String> addressesA, NetNs b, String ifB,
      List<String> addressesB) throws NetfilterException {
    HOST.run(Command.of("ip", "link", "add", ifA, "netns", a.name, "type", "veth", "peer", "name", ifB,
        "netns", b.name));
    for (NetNs ns : List.of(a, b)) {
      String dev = ns == a ? ifA : ifB;
      for (String address : ns == a ? addressesA : addressesB) {
        if (address.contains(":")) {
          ns.run("ip", "-6", "addr", "add", address, "dev", dev, "nodad");
        } else {
          ns.run("ip", "addr", "add", address, "dev", dev);
        }
      }
      ns.run("ip", "link", "set", dev, "up");
    }
  }

  /** Runs a command in the namespace; fails on a non-zero exit. Returns stdout. */
  public String run(String... argv) throws NetfilterException {
    return runner.run(Command.of(argv)).stdout();
  }

  /** Starts a JVM inside the namespace running a test main class. */
  public Process java(Class<?> main, String... args) throws java.io.IOException {
    return java(List.of(), main, args);
  }

  /** Starts a JVM with extra options (e.g. {@code -Dname=value}) inside the namespace. */
  public Process java(List<String> jvmOptions, Class<?> main, String... args) throws java.io.IOException {
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", name));
    cmd.addAll(Processes.java());
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "-Xmx128m",
        "-Dio.netty.leakDetection.level=paranoid"));
    cmd.addAll(jvmOptions);
    cmd.add(main.getName());
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd).redirectErrorStream(true).start();
  }

  @Override
  public void close() {
    try {
      HOST.run(Command.ignoringFailure("ip", "netns", "del", name));
    } catch (NetfilterException e) {
      throw new IllegalStateException("cannot delete network namespace " + name, e);
    }
  }
}
