package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.netfilter.testing.NetNs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The egress gateway's L7 check for real, in the namespaces of an {@link EgressLab}: the internet serves HTTPS
 * (a certificate the test made, for every name used) on port 443 and HTTP on port 80 at 198.19.2.1, 198.19.2.2,
 * fd00:3::1 and fd00:3::2, and runs dnsmasq (198.19.0.2) for the gateway's resolution of names below wildcards;
 * the gateway ({@link EgressL7Main}) takes a pushed state naming api.example.com at 198.19.2.1 and fd00:3::1, and
 * {@code *.example.org}. curl in the client namespace, IPv4 and IPv6. Needs root, nft, ip, curl, openssl,
 * python3 and dnsmasq (skips elsewhere; fails under CI=true).
 */
class EgressL7SystemTest {

  static EgressLab lab;
  static Path dir;
  static Child gateway;

  static final String SERVER = """
      import http.server, socket, ssl, sys, threading
      class Server(http.server.ThreadingHTTPServer):
          address_family = socket.AF_INET6
          def server_bind(self):
              self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
              super().server_bind()
      class Hello(http.server.BaseHTTPRequestHandler):
          def do_GET(self):
              local = self.connection.getsockname()[0].removeprefix("::ffff:")
              body = ("hello " + str(self.headers.get("Host")) + " at " + local).encode()
              self.send_response(200)
              self.send_header("Content-Length", str(len(body)))
              self.end_headers()
              self.wfile.write(body)
          def log_message(self, *args):
              pass
      plain = Server(("::", 80), Hello)
      tls = Server(("::", 443), Hello)
      context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
      context.load_cert_chain(sys.argv[1], sys.argv[2])
      tls.socket = context.wrap_socket(tls.socket, server_side=True, do_handshake_on_connect=False)
      threading.Thread(target=plain.serve_forever, daemon=True).start()
      tls.serve_forever()
      """;

  @BeforeAll
  static void setUp() throws Exception {
    NetNs.requireRootAnd("nft", "ip", "curl", "ss", "openssl", "/usr/bin/python3", "/usr/sbin/dnsmasq");
    lab = EgressLab.create();
    dir = lab.dir();
    // the client's way out is the gateway (the route agent's job in EgressSystemTest)
    lab.client.run("ip", "route", "add", "198.19.0.0/16", "via", "198.18.1.1");
    lab.client.run("ip", "-6", "route", "add", "fd00:3::/64", "via", "fd00:1::1");
    String names = "api.example.com,evil.example.com,a.example.org,b.example.org,example.net,port.example.com";
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
        "ca.key", "-out", "ca.pem", "-subj", "/CN=egress-l7-test-ca", "-days", "2", "-addext",
        "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign");
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "leaf.key",
        "-out", "leaf.csr", "-subj", "/CN=egress-l7-test");
    Files.writeString(dir.resolve("leaf.ext"), "subjectAltName=" + String.join(",",
        java.util.Arrays.stream(names.split(",")).map(n -> "DNS:" + n).toList()) + "\n");
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
        "leaf.pem", "-days", "2", "-extfile", "leaf.ext");
    Files.writeString(dir.resolve("server.py"), SERVER);
    lab.startInInternet("server.log", "/usr/bin/python3", dir.resolve("server.py").toString(),
        dir.resolve("leaf.pem").toString(), dir.resolve("leaf.key").toString());
    // a.example.org and b.example.org are at 198.19.2.2 and fd00:3::2 (not api.example.com's addresses)
    Files.writeString(dir.resolve("hosts"), "198.19.2.2 a.example.org b.example.org\n"
        + "fd00:3::2 a.example.org b.example.org\n");
    lab.startInInternet("dnsmasq.log", "/usr/sbin/dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
        "--no-resolv", "--no-hosts", "--addn-hosts=" + dir.resolve("hosts"), "--listen-address=198.19.0.2",
        "--bind-interfaces", "--port=53", "--pid-file=", "--log-facility=-", "--user=root", "--local=/example.org/",
        "--local=/example.net/");
    lab.await(() -> {
      try {
        String tcp = lab.internet.run("ss", "-Hltn");
        String udp = lab.internet.run("ss", "-Hlun");
        return tcp.contains("*:443") && tcp.contains("*:80") && udp.contains("198.19.0.2:53");
      } catch (NetfilterException e) {
        return false;
      }
    }, "the HTTPS, HTTP and DNS servers listening in the internet");
    gateway = Child.start(lab.gateway, EgressL7Main.class, "198.19.0.2", "egress_l7",
        "198.19.2.1=api.example.com", "fd00:3::1=api.example.com", "*.example.org", "198.19.2.2=port.example.com@443");
    assertThat(gateway.awaitPrefix("READY", 60)).isEqualTo("READY 15080");
  }

  static void openssl(String... args) throws Exception {
    List<String> argv = new ArrayList<>(List.of("openssl"));
    argv.addAll(List.of(args));
    Process p = new ProcessBuilder(argv).directory(dir.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor()).as(out).isZero();
  }

  @AfterAll
  static void tearDown() throws Exception {
    try {
      if (gateway != null) {
        try {
          // SIGTERM removes both tables: the gateway's and the L7 divert table
          gateway.terminate();
          assertThat(gateway.lines()).contains("STOPPED");
          assertThat(lab.gateway.run("nft", "list", "tables")).doesNotContain("egress_l7");
        } finally {
          gateway.close();
        }
      }
    } finally {
      if (lab != null) {
        lab.close(); // with the servers started here and its directory
      }
    }
  }

  /** curl in the client namespace: {@code <http_code> <body>}, or {@code exit N} when curl failed. */
  static String curl(String name, String address, String scheme) throws Exception {
    int port = scheme.equals("https") ? 443 : 80;
    String literal = address.contains(":") ? "[" + address + "]" : address;
    CommandRunner.Result r = lab.client.runner.run(List.of("curl", "-sS", "--max-time", "15", "--cacert",
        dir.resolve("ca.pem").toString(), "--resolve", name + ":" + port + ":" + literal, "-w", " %{http_code}",
        scheme + "://" + name + "/"), "");
    return r.ok() ? r.stdout().strip() : "exit " + r.exitCode();
  }

  /** The gateway's refused flows: {@code DENIED <destination> <port> <sni|-> <host|-> <count>} lines. */
  static List<String> denied() throws Exception {
    long ends = gateway.lines().stream().filter("END"::equals).count();
    gateway.send("REPORT");
    gateway.awaitMoreThan("END"::equals, ends, 30, "the gateway's report");
    List<String> lines = gateway.lines();
    int last = lines.lastIndexOf("END");
    int first = last;
    while (first > 0 && lines.get(first - 1).startsWith("DENIED")) {
      first--;
    }
    return lines.subList(first, last);
  }

  /** The gateway's counter of an allowlist element: packets and bytes, {@code in} from it or {@code out} to it. */
  static long[] counter(String address, String direction) throws Exception {
    String set = "allow" + (address.contains(":") ? "6" : "4") + "_" + direction;
    long[] c = dev.conduit.netfilter.egress.internal.EgressNft.counters(lab.gateway.run("nft", "list", "set", "inet",
        "egress_l7", set)).get(dev.conduit.core.net.IpPrefix.parse(address));
    assertThat(c).as(set + " " + address).isNotNull();
    return c;
  }

  @Test
  void anAllowedNameReachesItsOwnAddressesOverTlsAndHttpIpv4AndIpv6() throws Exception {
    long[] in4 = counter("198.19.2.1", "in");
    long[] out6 = counter("fd00:3::1", "out");
    assertThat(curl("api.example.com", "198.19.2.1", "https")).isEqualTo("hello api.example.com at 198.19.2.1 200");
    assertThat(curl("api.example.com", "fd00:3::1", "https")).isEqualTo("hello api.example.com at fd00:3::1 200");
    assertThat(curl("api.example.com", "198.19.2.1", "http")).isEqualTo("hello api.example.com at 198.19.2.1 200");
    assertThat(curl("api.example.com", "fd00:3::1", "http")).isEqualTo("hello api.example.com at fd00:3::1 200");
    // the relayed flows count in the allowlist's per-address counters, as forwarded ones do: the replies
    // were counted before the gateway relayed them to curl, and the requests before they left
    assertThat(counter("198.19.2.1", "in")[1]).isGreaterThan(in4[1] + "hello api.example.com at 198.19.2.1".length());
    assertThat(counter("fd00:3::1", "out")[1]).isGreaterThan(out6[1] + "GET / HTTP/1.1".length());
  }

  @Test
  void aNameThatIsNotAllowedToAnAllowlistedAddressIsRefusedAndReportedWithItsName() throws Exception {
    // shared-CDN abuse: the address is allowlisted (for api.example.com), the name is not
    assertThat(curl("evil.example.com", "198.19.2.1", "https")).startsWith("exit ");
    assertThat(curl("evil.example.com", "fd00:3::1", "https")).startsWith("exit ");
    String http = curl("evil.example.com", "198.19.2.1", "http");
    assertThat(http).isEqualTo("conduit egress gateway: evil.example.com is not allowlisted\n 403");
    // domain fronting: the allowed name to an address that is not one of its own
    assertThat(curl("api.example.com", "198.19.2.2", "https")).startsWith("exit ");
    assertThat(curl("api.example.com", "fd00:3::2", "https")).startsWith("exit ");
    assertThat(denied()).contains("DENIED 198.19.2.1 443 evil.example.com - 1",
        "DENIED fd00:3::1 443 evil.example.com - 1", "DENIED 198.19.2.1 80 - evil.example.com 1",
        "DENIED 198.19.2.2 443 api.example.com - 1", "DENIED fd00:3::2 443 api.example.com - 1");
  }

  @Test
  void aWildcardAllowsNamesBelowItAtTheAddressesTheyResolveTo() throws Exception {
    assertThat(curl("a.example.org", "198.19.2.2", "https")).isEqualTo("hello a.example.org at 198.19.2.2 200");
    assertThat(curl("a.example.org", "fd00:3::2", "https")).isEqualTo("hello a.example.org at fd00:3::2 200");
    assertThat(curl("b.example.org", "198.19.2.2", "http")).isEqualTo("hello b.example.org at 198.19.2.2 200");
    // not below the wildcard
    assertThat(curl("example.net", "198.19.2.2", "https")).startsWith("exit ");
    // below it, but sent to an address the name does not resolve to
    assertThat(curl("a.example.org", "198.19.2.1", "https")).startsWith("exit ");
    assertThat(curl("a.example.org", "fd00:3::1", "http"))
        .isEqualTo("conduit egress gateway: fd00:3::1 is not an address of a.example.org (it resolves to"
            + " [198.19.2.2, fd00:3::2])\n 403");
    assertThat(denied()).contains("DENIED 198.19.2.2 443 example.net - 1", "DENIED 198.19.2.1 443 a.example.org - 1",
        "DENIED fd00:3::1 80 - a.example.org 1");
  }

  @Test
  void anEntrysPortsHoldForTheL7CheckToo() throws Exception {
    assertThat(curl("port.example.com", "198.19.2.2", "https")).isEqualTo("hello port.example.com at 198.19.2.2 200");
    assertThat(curl("port.example.com", "198.19.2.2", "http"))
        .isEqualTo("conduit egress gateway: port 80 is not allowlisted for port.example.com at 198.19.2.2\n 403");
  }

  @Test
  void otherPortsStayWithTheAddressAllowlist() throws Exception {
    // port 8000 is not diverted: the forward chain's allowlist decides (198.19.2.1 is in it, 198.19.2.2 is not)
    assertThat(lab.fetch("198.19.2.1")).isEqualTo("200 " + EgressLab.BLOB_BYTES);
    assertThat(lab.fetch("fd00:3::1")).isEqualTo("200 " + EgressLab.BLOB_BYTES);
    assertThat(lab.fetch("198.19.2.2")).startsWith("exit ");
    assertThat(lab.gateway.run("nft", "list", "table", "inet", "egress_l7_l7"))
        .contains("tcp dport { 80, 443 } redirect to :15080");
  }
}
