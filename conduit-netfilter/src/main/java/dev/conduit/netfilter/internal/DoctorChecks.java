package dev.conduit.netfilter.internal;

import dev.conduit.netfilter.CaptureDoctor.Check;
import dev.conduit.netfilter.CaptureDoctor.Status;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.IpFamily;
import dev.conduit.netfilter.IpNetwork;
import dev.conduit.netfilter.NetfilterBackend;
import dev.conduit.netfilter.NetfilterException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The checks of {@code CaptureDoctor} that read the host's state: host-wide, then per installed prefix. */
public final class DoctorChecks {

  private static final Pattern TAG = Pattern.compile("conduit:([A-Z][A-Z0-9_]{0,15})\\b");
  private static final Pattern NFT_TABLE = Pattern.compile("table inet conduit_([a-z][a-z0-9_]{0,15})\\b");
  private static final Pattern PORT = Pattern.compile(
      "--on-port (\\d+)|--to-ports (\\d+)|tproxy ip6? to :(\\d+)|redirect to :(\\d+)|--to-destination \\S*:(\\d+)"
          + "|dnat ip6? to \\S*:(\\d+)");
  private static final Pattern MARK_SET = Pattern.compile(
      "--set-x?mark (0x[0-9a-f]+|\\d+)(?:/(0x[0-9a-f]+|\\d+))?|meta mark set (?:meta mark & 0x[0-9a-f]+ \\| )?(0x[0-9a-f]+)");

  private DoctorChecks() {}

  /** Kernel support, sysctls, iptables flavour, policy routing, marks and conntrack of the host. */
  public static List<Check> host(CommandRunner runner) throws NetfilterException {
    List<Check> checks = new ArrayList<>();
    for (IpFamily f : IpFamily.values()) {
      String tool = f == IpFamily.IPV4 ? "iptables" : "ip6tables";
      String nf = f == IpFamily.IPV4 ? "nf_tproxy_ipv4" : "nf_tproxy_ipv6";
      checks.add(xtable(runner, tool, "xt_TPROXY + " + nf, "-p tcp -j TPROXY --on-port 1 --tproxy-mark 0x1/0x1",
          "modprobe xt_TPROXY " + nf));
      checks.add(xtable(runner, tool, "xt_socket", "-m socket --transparent -j RETURN", "modprobe xt_socket"));
      checks.add(xtable(runner, tool, "xt_mark", "-m mark --mark 0x1 -j RETURN", "modprobe xt_mark"));
    }
    checks.add(installedOk(runner, "kernel module ip_set", List.of("ipset", "list", "-n"),
        "ipset can reach the kernel", "modprobe ip_set (and apt-get install ipset)"));
    CommandRunner.Result nft = run(runner, List.of("nft", "--check", "-f", "-"),
        "table inet conduit_doctor_check { chain c { type filter hook prerouting priority -150;"
            + " meta l4proto { tcp, udp } socket transparent 1 tproxy to :1 accept; }; }\n");
    checks.add(nft.ok()
        ? pass("kernel modules nft_tproxy + nft_socket", "nft accepts socket and tproxy expressions")
        : fail("kernel modules nft_tproxy + nft_socket", "nft refuses a tproxy rule: " + firstLine(nft),
            "modprobe nft_tproxy nft_socket (or use --backend iptables)"));

    checks.add(sysctl(runner, "net.ipv4.ip_forward", "1", Status.WARN,
        "needed for gateway capture (--gateway) of IPv4"));
    checks.add(sysctl(runner, "net.ipv6.conf.all.forwarding", "1", Status.WARN,
        "needed for gateway capture (--gateway) of IPv6"));
    checks.add(sysctl(runner, "net.ipv4.conf.all.route_localnet", "1", Status.WARN,
        "needed only to DNAT gateway traffic to 127.0.0.1"));
    checks.addAll(rpFilter(runner));
    checks.add(iptablesFlavour(runner));
    checks.add(policyRouting(runner));
    checks.add(otherMarks(runner));
    checks.add(conntrack(runner));
    return checks;
  }

  /** The prefixes of every conduit installation found: iptables ownership tags and nft tables. */
  public static List<String> installedPrefixes(CommandRunner runner) throws NetfilterException {
    TreeSet<String> found = new TreeSet<>();
    for (String save : List.of("iptables-save", "ip6tables-save")) {
      Matcher m = TAG.matcher(run(runner, List.of(save), "").stdout());
      while (m.find()) {
        found.add(m.group(1));
      }
    }
    Matcher m = NFT_TABLE.matcher(run(runner, List.of("nft", "list", "tables"), "").stdout());
    while (m.find()) {
      if (!m.group(1).equals("doctor_check")) {
        found.add(m.group(1).toUpperCase(Locale.ROOT));
      }
    }
    return List.copyOf(found);
  }

  /** Checks what is installed under a prefix against the host: routes, forwarding, marks, listener. */
  public static List<Check> installed(CommandRunner runner, String prefix) throws NetfilterException {
    List<Check> checks = new ArrayList<>();
    String what = "prefix " + prefix;
    List<NetfilterBackend> holding = NetfilterBackend.holding(prefix, runner);
    if (holding.isEmpty()) {
      checks.add(pass(what, "nothing installed"));
      return checks;
    }
    if (holding.size() > 1) {
      checks.add(fail(what + " backends", "rules in both iptables and nftables: both capture",
          "conduit netfilter clear --prefix " + prefix + " --backend iptables (or nft), then apply once"));
    }
    for (NetfilterBackend backend : holding) {
      String text = backend.show(prefix);
      String label = what + " (" + backend.name() + ")";
      boolean gateway = text.contains("_MATCH_IN") || text.contains("jump match_in");
      List<IpFamily> families = families(backend, text);
      Optional<Route> route = Route.parse(text);
      for (IpFamily f : families) {
        if (gateway) {
          String key = f == IpFamily.IPV4 ? "net.ipv4.ip_forward" : "net.ipv6.conf.all.forwarding";
          String value = sysctlValue(runner, key);
          checks.add(value.equals("1") ? pass(label + " forwarding " + f, key + "=1")
              : fail(label + " forwarding " + f, key + "=" + value + " but the rules capture gateway traffic",
                  "sysctl -w " + key + "=1"));
        }
        if (route.isPresent()) {
          checks.addAll(routes(runner, label, route.get(), f));
        }
      }
      checks.add(listener(runner, label, prefix, text));
      route.ifPresent(r -> checks.add(markCollision(runner, label, prefix, r)));
      checks.addAll(localOverlap(runner, label, text));
    }
    return checks;
  }

  private static List<IpFamily> families(NetfilterBackend backend, String text) {
    List<IpFamily> out = new ArrayList<>();
    if (backend.name().equals("iptables")) {
      if (text.contains("# iptables-save")) {
        out.add(IpFamily.IPV4);
      }
      if (text.contains("# ip6tables-save")) {
        out.add(IpFamily.IPV6);
      }
    } else {
      if (text.matches("(?s).*(\\bip daddr|nfproto ipv4|tproxy ip to).*")) {
        out.add(IpFamily.IPV4);
      }
      if (text.matches("(?s).*(\\bip6 daddr|nfproto ipv6|tproxy ip6 to).*")) {
        out.add(IpFamily.IPV6);
      }
    }
    return out;
  }

  private static List<Check> routes(CommandRunner runner, String label, Route r, IpFamily f)
      throws NetfilterException {
    List<Check> checks = new ArrayList<>();
    String flag = Route.flag(f);
    String mark = Names.hex(r.mark()) + "/" + Names.hex(r.mask());
    String rules = run(runner, List.of("ip", flag, "rule", "show"), "").stdout();
    boolean ruleOk = rules.lines().anyMatch(l -> l.startsWith(r.priority() + ":")
        && l.contains("fwmark " + mark) && l.contains("lookup " + r.table()));
    checks.add(ruleOk ? pass(label + " ip " + flag + " rule", "fwmark " + mark + " lookup " + r.table())
        : fail(label + " ip " + flag + " rule", "no rule sends fwmark " + mark + " to table " + r.table(),
            "ip " + flag + " rule add fwmark " + mark + " lookup " + r.table() + " priority " + r.priority()));
    String routes = run(runner, List.of("ip", flag, "route", "show", "table", Integer.toString(r.table())), "")
        .stdout();
    boolean routeOk = routes.lines().anyMatch(l -> l.startsWith("local default") && l.contains("dev lo"));
    String any = f == IpFamily.IPV4 ? "0.0.0.0/0" : "::/0";
    checks.add(routeOk ? pass(label + " ip " + flag + " route table " + r.table(), "local default dev lo")
        : fail(label + " ip " + flag + " route table " + r.table(),
            "no local default route: marked packets are not delivered to conduit",
            "ip " + flag + " route replace local " + any + " dev lo table " + r.table()));
    return checks;
  }

  private static Check listener(CommandRunner runner, String label, String prefix, String text)
      throws NetfilterException {
    TreeSet<Integer> ports = new TreeSet<>();
    Matcher m = PORT.matcher(text);
    while (m.find()) {
      for (int g = 1; g <= m.groupCount(); g++) {
        if (m.group(g) != null) {
          ports.add(Integer.parseInt(m.group(g)));
        }
      }
    }
    List<Integer> listening = listeningTcpPorts(runner);
    List<Integer> missing = ports.stream().filter(p -> !listening.contains(p)).toList();
    if (missing.isEmpty()) {
      return pass(label + " listener", "something listens on port " + ports);
    }
    return fail(label + " listener", "the rules divert to port " + missing + " but nothing listens there",
        "start conduit's transparent listener on port " + missing.get(0) + " (conduit proxy --tproxy-listen [::]:"
            + missing.get(0) + "), or conduit netfilter clear --prefix " + prefix);
  }

  private static List<Integer> listeningTcpPorts(CommandRunner runner) throws NetfilterException {
    List<Integer> ports = new ArrayList<>();
    for (String file : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
      for (String line : run(runner, List.of("cat", file), "").stdout().split("\n")) {
        String[] cols = line.strip().split("\\s+");
        if (cols.length > 3 && cols[3].equals("0A") && cols[1].contains(":")) {
          ports.add(Integer.parseInt(cols[1].substring(cols[1].indexOf(':') + 1), 16));
        }
      }
    }
    return ports;
  }

  private static Check markCollision(CommandRunner runner, String label, String prefix, Route r) {
    try {
      List<String> others = markRules(runner);
      List<String> colliding = new ArrayList<>();
      for (String rule : others) {
        Matcher m = MARK_SET.matcher(rule);
        while (m.find()) {
          long value = m.group(1) != null ? parse(m.group(1)) : parse(m.group(3));
          long mask = m.group(2) != null ? parse(m.group(2)) : 0xffffffffL;
          // any rule that writes a bit of conduit's mask clobbers (or forges) the TPROXY mark
          if ((mask & (r.mask() & 0xffffffffL)) != 0 && value >= 0) {
            colliding.add(rule);
          }
        }
      }
      String mark = Names.hex(r.mark()) + "/" + Names.hex(r.mask());
      if (colliding.isEmpty()) {
        return pass(label + " marks", "no other rule sets the bits of TPROXY mark " + mark);
      }
      String first = colliding.get(0);
      return fail(label + " marks", "TPROXY mark " + mark + " is also set by: " + first
          + (colliding.size() > 1 ? " (and " + (colliding.size() - 1) + " more)" : ""),
          deleteCommand(first) + " (or give conduit another TPROXY mark)");
    } catch (NetfilterException e) {
      return warn(label + " marks", "cannot list rules: " + e.getMessage(), "run as root");
    }
  }

  /** Rules of other tools that set a mark, as {@code <tool> -t <table> <rule>} lines. */
  private static List<String> markRules(CommandRunner runner) throws NetfilterException {
    List<String> rules = new ArrayList<>();
    for (String save : List.of("iptables-save", "ip6tables-save")) {
      String table = "";
      for (String line : run(runner, List.of(save), "").stdout().split("\n")) {
        if (line.startsWith("*")) {
          table = line.substring(1);
        } else if (line.startsWith("-A ") && MARK_SET.matcher(line).find() && !line.contains("conduit:")
            && !line.matches("-A [A-Z][A-Z0-9_]*_DIVERT .*")) {
          rules.add(save.replace("-save", "") + " -t " + table + " " + line);
        }
      }
    }
    String table = "";
    for (String line : run(runner, List.of("nft", "list", "ruleset"), "").stdout().split("\n")) {
      String l = line.strip();
      if (l.startsWith("table ")) {
        table = l.substring(6).replace(" {", "");
      } else if (!table.contains("conduit_") && MARK_SET.matcher(l).find()) {
        rules.add("nft (table " + table + ") " + l);
      }
    }
    return rules;
  }

  private static String deleteCommand(String rule) {
    if (rule.startsWith("nft ")) {
      return "nft -a list ruleset, then nft delete rule <table> <chain> handle <n> for: " + rule;
    }
    return rule.replaceFirst(" -A ", " -D ");
  }

  private static List<Check> localOverlap(CommandRunner runner, String label, String text)
      throws NetfilterException {
    List<Check> checks = new ArrayList<>();
    List<InetAddress> local = new ArrayList<>();
    for (String line : run(runner, List.of("ip", "-o", "addr", "show"), "").stdout().split("\n")) {
      Matcher m = Pattern.compile("\\binet6? ([0-9a-f.:]+)/").matcher(line);
      if (m.find()) {
        try {
          local.add(InetAddress.getByName(m.group(1)));
        } catch (java.net.UnknownHostException e) {
          // a literal never fails
        }
      }
    }
    Matcher nets = Pattern.compile("(?:add \\S+_NET[46] |elements = \\{ |, )([0-9a-f.:]+/\\d+)").matcher(text);
    TreeSet<String> reported = new TreeSet<>();
    while (nets.find()) {
      IpNetwork network;
      try {
        network = IpNetwork.parse(nets.group(1));
      } catch (IllegalArgumentException e) {
        continue;
      }
      for (InetAddress a : local) {
        if (!a.isLoopbackAddress() && contains(network, a) && reported.add(network + " " + a.getHostAddress())) {
          checks.add(warn(label + " capture network " + network, "contains this host's address "
              + a.getHostAddress() + ": connections to it are not captured (replies to conduit's own dials"
              + " never are)", "conduit netfilter apply ... --capture-local-destinations, to capture them too"));
        }
      }
    }
    return checks;
  }

  private static boolean contains(IpNetwork network, InetAddress a) {
    byte[] n = network.address().getAddress();
    byte[] x = a.getAddress();
    if (n.length != x.length) {
      return false;
    }
    int bits = network.prefixLength();
    for (int i = 0; i < n.length && bits > 0; i++, bits -= 8) {
      int mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
      if ((n[i] & mask) != (x[i] & mask)) {
        return false;
      }
    }
    return true;
  }

  private static Check xtable(CommandRunner runner, String tool, String module, String rule, String fix)
      throws NetfilterException {
    List<String> argv = new ArrayList<>(List.of(tool, "-w", "-t", "mangle", "-C", "PREROUTING"));
    argv.addAll(List.of(rule.split(" ")));
    CommandRunner.Result r = run(runner, argv, "");
    String name = "kernel module " + module + " (" + tool + ")";
    // -C exits 1 for "no such rule" once the kernel knows the match/target, 2 when it does not
    if (r.exitCode() <= 1 && !r.stderr().contains("No chain/target/match")
        && !r.stderr().contains("Couldn't load")) {
      return pass(name, tool + " knows " + rule.replaceAll(" --.*", "").replace("-j ", "").strip());
    }
    return fail(name, tool + " cannot use it: " + firstLine(r), fix);
  }

  private static Check installedOk(CommandRunner runner, String name, List<String> argv, String ok, String fix)
      throws NetfilterException {
    CommandRunner.Result r = run(runner, argv, "");
    return r.ok() ? pass(name, ok) : fail(name, firstLine(r), fix);
  }

  private static Check sysctl(CommandRunner runner, String key, String wanted, Status otherwise, String why)
      throws NetfilterException {
    String value = sysctlValue(runner, key);
    if (value.equals(wanted)) {
      return pass("sysctl " + key, key + "=" + value);
    }
    return new Check("sysctl " + key, otherwise, key + "=" + value + ": " + why, "sysctl -w " + key + "=" + wanted);
  }

  private static List<Check> rpFilter(CommandRunner runner) throws NetfilterException {
    List<Check> checks = new ArrayList<>();
    String all = sysctlValue(runner, "net.ipv4.conf.all.rp_filter");
    String list = run(runner, List.of("ls", "/proc/sys/net/ipv4/conf"), "").stdout();
    List<String> strict = new ArrayList<>();
    for (String iface : list.split("\\s+")) {
      if (iface.isBlank() || iface.equals("all") || iface.equals("default") || iface.equals("lo")) {
        continue;
      }
      String own = sysctlValue(runner, "net.ipv4.conf." + iface + ".rp_filter");
      // the kernel uses the larger of conf.all and conf.<interface>
      if (Math.max(num(all), num(own)) == 1) {
        strict.add(iface);
      }
    }
    if (strict.isEmpty()) {
      checks.add(pass("sysctl rp_filter", "no interface filters reverse paths strictly"));
    } else {
      for (String iface : strict) {
        checks.add(warn("sysctl rp_filter " + iface, "strict reverse-path filtering on " + iface
            + " (conf.all=" + all + "): TPROXY'd packets whose source routes elsewhere are dropped",
            "sysctl -w net.ipv4.conf." + iface + ".rp_filter=2"
                + (num(all) == 1 ? " net.ipv4.conf.all.rp_filter=2" : "")));
      }
    }
    return checks;
  }

  private static Check iptablesFlavour(CommandRunner runner) throws NetfilterException {
    CommandRunner.Result v = run(runner, List.of("iptables", "-V"), "");
    String flavour = v.stdout().contains("nf_tables") ? "nf_tables" : v.stdout().contains("legacy") ? "legacy"
        : "unknown";
    int legacy = 0;
    String names = run(runner, List.of("cat", "/proc/net/ip_tables_names"), "").stdout();
    if (!names.isBlank()) {
      // legacy tables exist in this namespace: count their rules (reading them loads nothing new)
      legacy = count(run(runner, List.of("iptables-legacy-save"), "").stdout());
    }
    int nft = count(run(runner, List.of("iptables-nft-save"), "").stdout());
    String detail = "iptables is " + flavour + "; rules: legacy " + legacy + ", nft " + nft;
    if (legacy > 0 && nft > 0) {
      return fail("iptables flavour", detail + ": both hold rules, which apply one after the other",
          "move the legacy rules: iptables-legacy-save | iptables-nft-restore, then iptables-legacy -F in each table"
              + " (update-alternatives --set iptables /usr/sbin/iptables-nft)");
    }
    return pass("iptables flavour", detail);
  }

  private static Check policyRouting(CommandRunner runner) throws NetfilterException {
    String rules = run(runner, List.of("ip", "-4", "rule", "show"), "").stdout();
    if (!rules.contains("lookup local")) {
      return fail("policy routing", "no rule looks up the local table: nothing is delivered locally",
          "ip rule add from all lookup local priority 0");
    }
    long fwmark = rules.lines().filter(l -> l.contains("fwmark")).count();
    return pass("policy routing", fwmark + " fwmark rule(s); the local table is looked up");
  }

  private static Check otherMarks(CommandRunner runner) {
    try {
      List<String> rules = markRules(runner);
      return pass("marks in use", rules.isEmpty() ? "no other rule sets a mark"
          : rules.size() + " rule(s) of other tools set marks, e.g. " + rules.get(0));
    } catch (NetfilterException e) {
      return warn("marks in use", "cannot list rules: " + e.getMessage(), "run as root");
    }
  }

  private static Check conntrack(CommandRunner runner) throws NetfilterException {
    String count = sysctlValue(runner, "net.netfilter.nf_conntrack_count");
    String max = sysctlValue(runner, "net.netfilter.nf_conntrack_max");
    if (count.isEmpty() || max.isEmpty()) {
      return warn("conntrack", "nf_conntrack is not loaded (REDIRECT and the reply rule load it on first use)",
          "modprobe nf_conntrack");
    }
    long c = num(count);
    long m = num(max);
    if (m > 0 && c * 10 >= m * 9) {
      return fail("conntrack", count + " of " + max + " entries used: new connections are dropped",
          "sysctl -w net.netfilter.nf_conntrack_max=" + (m * 2));
    }
    return pass("conntrack", count + " of " + max + " entries used");
  }

  private static int count(String save) {
    return (int) save.lines().filter(l -> l.startsWith("-A ")).count();
  }

  private static long parse(String number) {
    return number.startsWith("0x") ? Long.parseLong(number.substring(2), 16) : Long.parseLong(number);
  }

  private static long num(String value) {
    try {
      return Long.parseLong(value.strip());
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  static String sysctlValue(CommandRunner runner, String key) throws NetfilterException {
    CommandRunner.Result r = run(runner, List.of("sysctl", "-n", key), "");
    return r.ok() ? r.stdout().strip() : "";
  }

  /** Runs a command; a missing tool is a failed result rather than an exception. */
  static CommandRunner.Result run(CommandRunner runner, List<String> argv, String stdin)
      throws NetfilterException {
    try {
      return runner.run(argv, stdin);
    } catch (NetfilterException e) {
      if (e.getMessage() != null && e.getMessage().startsWith("cannot run ")) {
        return new CommandRunner.Result(127, "", e.getMessage());
      }
      throw e;
    }
  }

  private static String firstLine(CommandRunner.Result r) {
    String text = (r.stderr().isBlank() ? r.stdout() : r.stderr()).strip();
    return text.isEmpty() ? "exit " + r.exitCode() : text.lines().findFirst().orElse(text);
  }

  static Check pass(String name, String detail) {
    return new Check(name, Status.PASS, detail, "");
  }

  static Check warn(String name, String detail, String fix) {
    return new Check(name, Status.WARN, detail, fix);
  }

  static Check fail(String name, String detail, String fix) {
    return new Check(name, Status.FAIL, detail, fix);
  }
}
