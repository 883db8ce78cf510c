package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Starts the long-running or streaming tools the egress gateway reads ({@code tcpdump}, {@code conntrack}),
 * whose output it consumes as it comes instead of collecting it. Standard error is discarded.
 */
@FunctionalInterface
public interface ProcessLauncher {

  /**
   * Starts a process.
   *
   * @param argv the program and its arguments
   * @return the running process, its standard output to read
   * @throws IOException when it cannot start
   */
  Process start(List<String> argv) throws IOException;

  /** Returns a launcher that starts real processes on this host. */
  static ProcessLauncher system() {
    return argv -> new ProcessBuilder(argv).redirectError(ProcessBuilder.Redirect.DISCARD)
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
  }

  /**
   * Returns a launcher that starts every process inside a network namespace ({@code ip netns exec}).
   *
   * @param namespace the namespace name
   * @return the wrapping launcher
   */
  default ProcessLauncher inNetworkNamespace(String namespace) {
    requireNonNull(namespace, "namespace");
    ProcessLauncher self = this;
    return argv -> {
      List<String> wrapped = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
      wrapped.addAll(argv);
      return self.start(wrapped);
    };
  }
}
