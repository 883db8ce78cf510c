package dev.conduit.netfilter;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks that a plan can be applied here, before anything is changed: tools, privileges, kernel
 * support and sysctls. Each problem says what is wrong and how to fix it. Blocking (runs tools).
 */
public final class Prerequisites {

  private Prerequisites() {}

  /**
   * A prerequisite that is not met.
   *
   * @param problem what is wrong
   * @param fix how to fix it, e.g. {@code "apt-get install ipset"}
   */
  public record Problem(String problem, String fix) {

    /** Returns {@code "<problem>; fix: <fix>"}. */
    @Override
    public String toString() {
      return problem + "; fix: " + fix;
    }
  }

  /**
   * Checks everything the plan needs with the given backend.
   *
   * @param plan the plan
   * @param backend the backend name, {@code iptables} or {@code nftables} (see {@link
   *     NetfilterBackend#name()})
   * @param runner runs the probes (the same runner the backend uses)
   * @return the problems, empty when the plan can be applied
   * @throws NetfilterException when a probe cannot run at all
   */
  public static List<Problem> check(CapturePlan plan, String backend, CommandRunner runner)
      throws NetfilterException {
    requireNonNull(plan, "plan");
    requireNonNull(backend, "backend");
    requireNonNull(runner, "runner");
    List<Problem> problems = new ArrayList<>();
    CommandRunner.Result uid = runner.run(List.of("id", "-u"), "");
    if (uid.ok() && !uid.stdout().strip().equals("0")) {
      problems.add(new Problem("not running as root: changing netfilter rules needs CAP_NET_ADMIN",
          "run conduit as root or grant it CAP_NET_ADMIN (e.g. systemd AmbientCapabilities=CAP_NET_ADMIN)"));
    }
    Set<IpFamily> captured = capturedFamilies(plan);
    Map<String, String> tools = new LinkedHashMap<>();
    boolean iptables = backend.equals("iptables");
    if (iptables) {
      if (captured.contains(IpFamily.IPV4)) {
        tools.put("iptables-save", "iptables");
        tools.put("iptables-restore", "iptables");
      }
      if (captured.contains(IpFamily.IPV6)) {
        tools.put("ip6tables-save", "iptables");
        tools.put("ip6tables-restore", "iptables");
      }
      tools.put("ipset", "ipset");
    } else if (backend.equals("nftables")) {
      tools.put("nft", "nftables");
    } else {
      throw new IllegalArgumentException("backend: " + backend + " (expected: iptables or nftables)");
    }
    if (plan.mode() == CaptureMode.TPROXY) {
      tools.put("ip", "iproute2");
    }
    for (Map.Entry<String, String> tool : tools.entrySet()) {
      if (!runner.run(List.of("sh", "-c", "command -v " + tool.getKey()), "").ok()) {
        problems.add(new Problem(tool.getKey() + " is not installed",
            "apt-get install " + tool.getValue() + " (Debian/Ubuntu), dnf install " + tool.getValue()));
      }
    }
    if (plan.mode() == CaptureMode.TPROXY && iptables) {
      for (IpFamily f : captured) {
        checkTarget(runner, problems, f);
      }
    }
    if (plan.mode() == CaptureMode.TPROXY && !iptables) {
      // nft_tproxy/nft_socket are loaded on demand by the kernel; modprobe only helps where autoload is off
      modprobe(runner, "nft_tproxy");
      modprobe(runner, "nft_socket");
    }
    if (plan.gatewayCapture()) {
      if (captured.contains(IpFamily.IPV4)) {
        boolean loopbackDnat = plan.dnatAddress(IpFamily.IPV4)
            .map(a -> a.isLoopbackAddress()).orElse(false);
        if (loopbackDnat && !sysctl(runner, "net.ipv4.conf.all.route_localnet").equals("1")) {
          problems.add(new Problem("gateway traffic DNATed to "
              + plan.dnatAddress(IpFamily.IPV4).get().getHostAddress()
              + " is dropped while net.ipv4.conf.all.route_localnet=0",
              "sysctl -w net.ipv4.conf.all.route_localnet=1"));
        }
        if (!sysctl(runner, "net.ipv4.ip_forward").equals("1")) {
          problems.add(new Problem("gateway capture but net.ipv4.ip_forward=0: traffic that is not"
              + " captured will not be forwarded", "sysctl -w net.ipv4.ip_forward=1"));
        }
      }
      if (captured.contains(IpFamily.IPV6)
          && !sysctl(runner, "net.ipv6.conf.all.forwarding").equals("1")) {
        problems.add(new Problem("gateway capture but net.ipv6.conf.all.forwarding=0: traffic that"
            + " is not captured will not be forwarded", "sysctl -w net.ipv6.conf.all.forwarding=1"));
      }
    }
    return problems;
  }

  /**
   * Returns which iptables implementation is installed: {@code "nf_tables"} (iptables-nft, rules
   * live in nftables tables {@code ip nat}/{@code ip mangle}), {@code "legacy"} (x_tables), or
   * {@code "unknown"}. Mixing both on one host splits rules across two systems that both apply.
   *
   * @param runner runs {@code iptables -V}
   * @return the variant
   * @throws NetfilterException when iptables cannot run
   */
  public static String iptablesVariant(CommandRunner runner) throws NetfilterException {
    String version = runner.run(List.of("iptables", "-V"), "").stdout();
    if (version.contains("nf_tables")) {
      return "nf_tables";
    }
    return version.contains("legacy") ? "legacy" : "unknown";
  }

  /**
   * Returns the families the plan installs rules for: those it covers and has something to capture
   * in (a port or everything captures in each covered family; an address or network only in its own).
   * An IPv4-only capture needs nothing of IPv6, e.g. no IPv6 forwarding on a gateway.
   *
   * @param plan the plan
   * @return the captured families
   */
  public static Set<IpFamily> capturedFamilies(CapturePlan plan) {
    requireNonNull(plan, "plan");
    EnumSet<IpFamily> out = EnumSet.noneOf(IpFamily.class);
    for (IpFamily f : plan.families()) {
      boolean any = plan.captureAllTcp() || !plan.destinationPorts().isEmpty()
          || plan.destinationNetworks().stream().anyMatch(n -> n.family() == f)
          || plan.destinationAddresses().stream().anyMatch(a -> familyOf(a) == f)
          || plan.destinationEndpoints().stream().anyMatch(e -> familyOf(e.getAddress()) == f);
      if (any) {
        out.add(f);
      }
    }
    return out;
  }

  private static IpFamily familyOf(java.net.InetAddress address) {
    return address instanceof java.net.Inet4Address ? IpFamily.IPV4 : IpFamily.IPV6;
  }

  private static void checkTarget(CommandRunner runner, List<Problem> problems, IpFamily family)
      throws NetfilterException {
    String file = family == IpFamily.IPV4 ? "/proc/net/ip_tables_targets" : "/proc/net/ip6_tables_targets";
    if (hasTarget(runner, file)) {
      return;
    }
    // the list only shows loaded targets: try loading the module first
    modprobe(runner, "xt_TPROXY");
    modprobe(runner, family == IpFamily.IPV4 ? "nf_tproxy_ipv4" : "nf_tproxy_ipv6");
    if (!hasTarget(runner, file)) {
      problems.add(new Problem("the kernel has no TPROXY target for " + family
          + " (xt_TPROXY / nf_tproxy_" + (family == IpFamily.IPV4 ? "ipv4" : "ipv6") + " missing)",
          "modprobe xt_TPROXY, or use a kernel built with CONFIG_NETFILTER_XT_TARGET_TPROXY, or"
              + " use mode REDIRECT"));
    }
  }

  private static void modprobe(CommandRunner runner, String module) {
    try {
      runner.run(List.of("modprobe", "-q", module), "");
    } catch (NetfilterException e) {
      // best effort: no modprobe (containers, minimal images) is fine when the kernel autoloads
    }
  }

  private static boolean hasTarget(CommandRunner runner, String file) throws NetfilterException {
    CommandRunner.Result r = runner.run(List.of("cat", file), "");
    return r.ok() && r.stdout().lines().anyMatch(l -> l.strip().equals("TPROXY"));
  }

  private static String sysctl(CommandRunner runner, String key) throws NetfilterException {
    CommandRunner.Result r = runner.run(List.of("sysctl", "-n", key), "");
    return r.ok() ? r.stdout().strip() : "";
  }
}
