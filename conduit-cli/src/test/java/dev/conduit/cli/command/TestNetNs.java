package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conduit.netfilter.Command;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.NetfilterException;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A network namespace a CLI test makes ({@code cdc-<random>}, {@code lo} up), deleted by {@link
 * #close()}; {@link #runner} runs commands inside it.
 */
final class TestNetNs implements AutoCloseable {

  static final CommandRunner HOST = CommandRunner.system();

  final String name;
  final CommandRunner runner;

  private TestNetNs(String name) {
    this.name = name;
    this.runner = HOST.inNetworkNamespace(name);
  }

  /** Skips the test (or fails it under CI=true) unless running as root with the tools. */
  static void requireRootAnd(String... tools) {
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

  static TestNetNs create() throws NetfilterException {
    String name = "cdc-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24));
    HOST.run(Command.of("ip", "netns", "add", name));
    TestNetNs ns = new TestNetNs(name);
    try {
      ns.run("ip", "link", "set", "lo", "up");
    } catch (NetfilterException | RuntimeException e) {
      ns.close();
      throw e;
    }
    return ns;
  }

  /** Runs a command in the namespace; fails on a non-zero exit. Returns stdout. */
  String run(String... argv) throws NetfilterException {
    return runner.run(Command.of(argv)).stdout();
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
