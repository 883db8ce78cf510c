package dev.conduit.netfilter;

import static java.util.Objects.requireNonNull;

import dev.conduit.netfilter.internal.DoctorChecks;
import dev.conduit.netfilter.internal.DoctorProbes;
import java.util.ArrayList;
import java.util.List;

/**
 * Says whether transparent capture can work on this host and, if not, what to change: the kernel
 * modules, sysctls, iptables flavour, policy routing, marks, conntrack; then the rules conduit has
 * installed (per prefix: their routes, forwarding, colliding marks, a listener on the port they
 * divert to, capture networks holding the host's own addresses); then, optionally, live probes
 * through a real conduit listener in network namespaces it makes and removes itself (IPv4 and IPv6 ×
 * TCP and UDP × REDIRECT and TPROXY). Every failed check names the command that fixes it.
 *
 * <p>Blocking (runs ip, iptables, nft, sysctl and child JVMs): never call it on an event loop.
 */
public final class CaptureDoctor {

  /** The outcome of a check. */
  public enum Status {
    /** Works. */
    PASS,
    /** Works, but something is likely to bite (e.g. strict reverse-path filtering). */
    WARN,
    /** Transparent capture cannot work (or does not) until fixed. */
    FAIL
  }

  /**
   * One check.
   *
   * @param name what was checked, e.g. {@code sysctl net.ipv4.ip_forward}
   * @param status its outcome
   * @param detail what was found
   * @param fix the command that fixes it (empty when it passed)
   */
  public record Check(String name, Status status, String detail, String fix) {
    /** Checks the components. */
    public Check {
      requireNonNull(name, "name");
      requireNonNull(status, "status");
      requireNonNull(detail, "detail");
      requireNonNull(fix, "fix");
    }
  }

  private final CommandRunner runner;
  private final List<String> prefixes;
  private final boolean probes;

  private CaptureDoctor(CommandRunner runner, List<String> prefixes, boolean probes) {
    this.runner = runner;
    this.prefixes = prefixes;
    this.probes = probes;
  }

  /**
   * Returns a doctor.
   *
   * @param runner runs the tools (wrap it with {@link CommandRunner#inNetworkNamespace} to examine a
   *     namespace)
   * @param prefixes the prefixes whose installed rules are inspected; empty: every prefix found
   * @param probes whether to run the live probes (needs root, a JVM and the probe namespaces)
   * @return the doctor
   */
  public static CaptureDoctor of(CommandRunner runner, List<String> prefixes, boolean probes) {
    requireNonNull(runner, "runner");
    requireNonNull(prefixes, "prefixes");
    prefixes.forEach(CapturePlan::validatePrefix);
    return new CaptureDoctor(runner, List.copyOf(prefixes), probes);
  }

  /**
   * Runs every check, in order: host, installed rules, probes.
   *
   * @return the checks
   * @throws NetfilterException when a tool cannot run at all
   */
  public List<Check> run() throws NetfilterException {
    List<Check> checks = new ArrayList<>(DoctorChecks.host(runner));
    List<String> inspected = prefixes.isEmpty() ? DoctorChecks.installedPrefixes(runner) : prefixes;
    for (String prefix : inspected) {
      checks.addAll(DoctorChecks.installed(runner, prefix));
    }
    if (probes) {
      checks.addAll(DoctorProbes.run(runner));
    }
    return checks;
  }

  /**
   * Returns whether none of the checks failed.
   *
   * @param checks the checks
   * @return true when no check has {@link Status#FAIL}
   */
  public static boolean healthy(List<Check> checks) {
    return checks.stream().noneMatch(c -> c.status() == Status.FAIL);
  }
}
