package dev.conduit.netfilter.internal;

import dev.conduit.netfilter.CaptureDoctor.Check;
import dev.conduit.netfilter.CaptureMode;
import dev.conduit.netfilter.CapturePlan;
import dev.conduit.netfilter.Command;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.NetfilterBackend;
import dev.conduit.netfilter.NetfilterException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The doctor's live probes: three network namespaces it makes (client, gateway, server), a real
 * conduit with transparent listeners on the gateway under both capture modes, an echo server behind
 * it, and a client that sends one probe per family × protocol × mode. A probe passes when the echo
 * comes back and the server saw the gateway (conduit's dial), not the client. Everything is removed
 * afterwards.
 */
public final class DoctorProbes {

  private static final int TPROXY_PORT = 17001;
  private static final int REDIRECT_PORT = 17002;
  private static final int TPROXY_ECHO = 7001;
  private static final int REDIRECT_ECHO = 7002;
  private static final String GATEWAY4 = "198.18.255.1";
  private static final String GATEWAY6 = "fd00:ff::1";
  private static final String SERVER4 = "198.18.255.2";
  private static final String SERVER6 = "fd00:ff::2";

  private DoctorProbes() {}

  /**
   * Runs every probe with the backend that is installed (iptables, else nftables).
   *
   * @param host runs commands on the host (namespaces are made with it)
   * @return one check per probe, or one failed check saying why the probes could not run
   */
  public static List<Check> run(CommandRunner host) {
    String id = Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24));
    List<String> namespaces = List.of("cdoc-" + id + "-c", "cdoc-" + id + "-g", "cdoc-" + id + "-s");
    List<Process> children = new ArrayList<>();
    try {
      return probe(host, namespaces, children);
    } catch (IOException | RuntimeException e) {
      return List.of(DoctorChecks.fail("probes", "cannot set up the probe namespaces: " + e.getMessage(),
          "run conduit doctor as root with iproute2 installed (or pass --no-probes)"));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return List.of(DoctorChecks.fail("probes", "interrupted", "run conduit doctor again"));
    } finally {
      for (Process p : children) {
        p.destroyForcibly();
      }
      for (String ns : namespaces) {
        try {
          host.run(Command.ignoringFailure("ip", "netns", "del", ns));
        } catch (NetfilterException e) {
          // reported nowhere better: the namespace name says it is the doctor's
        }
      }
    }
  }

  private static List<Check> probe(CommandRunner host, List<String> ns, List<Process> children)
      throws NetfilterException, IOException, InterruptedException {
    for (String n : ns) {
      host.run(Command.of("ip", "netns", "add", n));
      host.run(Command.of("ip", "netns", "exec", n, "ip", "link", "set", "lo", "up"));
    }
    CommandRunner c = host.inNetworkNamespace(ns.get(0));
    CommandRunner g = host.inNetworkNamespace(ns.get(1));
    CommandRunner s = host.inNetworkNamespace(ns.get(2));
    link(host, ns.get(0), "c0", List.of("198.18.254.2/24", "fd00:fe::2/64"), ns.get(1), "g0",
        List.of("198.18.254.1/24", "fd00:fe::1/64"));
    link(host, ns.get(1), "g1", List.of(GATEWAY4 + "/24", GATEWAY6 + "/64"), ns.get(2), "s0",
        List.of(SERVER4 + "/24", SERVER6 + "/64"));
    c.run(Command.of("ip", "route", "add", "default", "via", "198.18.254.1"));
    c.run(Command.of("ip", "-6", "route", "add", "default", "via", "fd00:fe::1"));
    s.run(Command.of("ip", "route", "add", "default", "via", GATEWAY4));
    s.run(Command.of("ip", "-6", "route", "add", "default", "via", GATEWAY6));
    g.run(Command.of("sysctl", "-qw", "net.ipv4.ip_forward=1"));
    g.run(Command.of("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"));

    Process echo = java(ns.get(2), children, "echo", Integer.toString(TPROXY_ECHO));
    Process echo2 = java(ns.get(2), children, "echo", Integer.toString(REDIRECT_ECHO));
    Process conduit = java(ns.get(1), children, "conduit", Integer.toString(TPROXY_PORT),
        Integer.toString(REDIRECT_PORT), "0x5a4");
    for (Process p : List.of(echo, echo2, conduit)) {
      List<String> seen = new ArrayList<>();
      if (awaitLine(p, "READY", seen) == null) {
        return List.of(DoctorChecks.fail("probes", "a probe process did not start: " + String.join(" | ", seen),
            "check that this JVM can start another (java on the PATH, enough memory)"));
      }
    }
    NetfilterBackend backend = new IptablesBackend(g).toolsInstalled() ? new IptablesBackend(g)
        : new NftablesBackend(g);
    backend.apply(CapturePlan.builder().prefix("DOCTOR_T").mode(CaptureMode.TPROXY).targetPort(TPROXY_PORT)
        .localCapture(false).gatewayCapture(true).captureUdp(true).captureEndpoint(SERVER4 + ":" + TPROXY_ECHO)
        .captureEndpoint("[" + SERVER6 + "]:" + TPROXY_ECHO).build());
    backend.apply(CapturePlan.builder().prefix("DOCTOR_R").mode(CaptureMode.REDIRECT).targetPort(REDIRECT_PORT)
        .localCapture(false).gatewayCapture(true).captureEndpoint(SERVER4 + ":" + REDIRECT_ECHO)
        .captureEndpoint("[" + SERVER6 + "]:" + REDIRECT_ECHO).build());

    List<String> probes = List.of(
        "tcp:" + SERVER4 + ":" + TPROXY_ECHO, "tcp:[" + SERVER6 + "]:" + TPROXY_ECHO,
        "tcp:" + SERVER4 + ":" + REDIRECT_ECHO, "tcp:[" + SERVER6 + "]:" + REDIRECT_ECHO,
        "udp:" + SERVER4 + ":" + TPROXY_ECHO, "udp:[" + SERVER6 + "]:" + TPROXY_ECHO);
    List<String> argv = new ArrayList<>(List.of("client"));
    argv.addAll(probes);
    Process client = java(ns.get(0), children, argv.toArray(String[]::new));
    client.getOutputStream().close();
    if (!client.waitFor(120, TimeUnit.SECONDS)) {
      return List.of(DoctorChecks.fail("probes", "the probe client did not finish within 120 s",
          "run conduit doctor again on a less busy host"));
    }
    Map<String, String> results = new HashMap<>();
    for (String line : new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
      if (line.startsWith("RESULT ")) {
        String[] parts = line.split(" ", 3);
        results.put(parts[1], parts.length > 2 ? parts[2] : "FAIL no result");
      }
    }
    List<Check> checks = new ArrayList<>();
    for (String probe : probes) {
      boolean tproxy = probe.endsWith(":" + TPROXY_ECHO);
      boolean v6 = probe.contains("[");
      String name = "probe " + (tproxy ? "TPROXY" : "REDIRECT") + " " + probe.substring(0, 3).toUpperCase()
          + " " + (v6 ? "IPv6" : "IPv4") + " (" + backend.name() + ")";
      checks.add(verdict(name, results.getOrDefault(probe, "FAIL no result"), v6 ? GATEWAY6 : GATEWAY4,
          tproxy));
    }
    for (String family : List.of("IPv4", "IPv6")) {
      checks.add(DoctorChecks.warn("probe REDIRECT UDP " + family,
          "not probed: conduit captures UDP with TPROXY only (REDIRECT hides a datagram's original destination)",
          "conduit netfilter apply --mode tproxy --udp ..."));
    }
    return checks;
  }

  private static Check verdict(String name, String result, String gateway, boolean tproxy) {
    if (!result.startsWith("OK peer=")) {
      return DoctorChecks.fail(name, result, tproxy
          ? "fix the failed kernel module, policy routing and rp_filter checks above (modprobe xt_TPROXY xt_socket)"
          : "fix the failed kernel module and conntrack checks above (modprobe nf_nat nf_conntrack)");
    }
    String peer = result.substring("OK peer=".length()).strip();
    try {
      if (InetAddress.getByName(peer).equals(InetAddress.getByName(gateway))) {
        return DoctorChecks.pass(name, "echoed through conduit (the server saw " + peer + ")");
      }
    } catch (UnknownHostException e) {
      // falls through: not the gateway
    }
    return DoctorChecks.fail(name, "echoed, but the server saw " + peer + ": the connection was not captured",
        "conduit netfilter show, and check that no rule of another tool accepts the traffic first");
  }

  private static void link(CommandRunner host, String a, String ifA, List<String> addrA, String b, String ifB,
      List<String> addrB) throws NetfilterException {
    host.run(Command.of("ip", "link", "add", ifA, "netns", a, "type", "veth", "peer", "name", ifB, "netns", b));
    for (String ns : List.of(a, b)) {
      String dev = ns.equals(a) ? ifA : ifB;
      for (String address : ns.equals(a) ? addrA : addrB) {
        host.run(Command.of("ip", "netns", "exec", ns, "ip", address.contains(":") ? "-6" : "-4", "addr", "add",
            address, "dev", dev, "nodad"));
      }
      host.run(Command.of("ip", "netns", "exec", ns, "ip", "link", "set", dev, "up"));
    }
  }

  private static Process java(String ns, List<Process> children, String... args) throws IOException {
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns,
        ProcessHandle.current().info().command().orElse("java")));
    int feature = Runtime.version().feature();
    if (feature >= 22) {
      cmd.add("--enable-native-access=ALL-UNNAMED");
    }
    if (feature >= 23) {
      cmd.add("--sun-misc-unsafe-memory-access=allow");
    }
    cmd.addAll(List.of("-Xmx96m", "-cp", System.getProperty("java.class.path"), ProbeMain.class.getName()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    children.add(p);
    return p;
  }

  /** Reads the process's output until a line starts with the prefix (null when it exits first). */
  private static String awaitLine(Process p, String prefix, List<String> seen) throws IOException {
    BufferedReader reader = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String line;
    while ((line = reader.readLine()) != null) {
      if (line.startsWith(prefix)) {
        BufferedReader rest = reader;
        Thread drain = new Thread(() -> {
          try {
            while (rest.readLine() != null) {
              // the child's later output (its log) must not fill the pipe and stall it
            }
          } catch (IOException e) {
            // the child exited
          }
        }, "conduit-doctor-drain");
        drain.setDaemon(true);
        drain.start();
        return line;
      }
      if (seen.size() < 20) {
        seen.add(line);
      }
    }
    return null;
  }
}
