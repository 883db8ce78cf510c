package dev.conduit.benchmarks;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.Destination;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Routing decisions per microsecond ({@code ops/us}, higher is better) of a {@link Router} holding
 * 10,000 destination CIDRs (IPv4 /24s and IPv6 /48s) and 10,000 domain suffixes, for IP and name
 * destinations that hit and that miss.
 *
 * <p>{@code layout=sets}: two rules, one with the 10k CIDRs and one with the 10k suffixes (a block
 * list as one rule). {@code layout=rules}: 20,000 rules of one entry each; the router tries rules in
 * order, so this shows the cost of the linear scan when every entry is its own rule. Each operation
 * routes one request from a rotating array of 1,024 pre-built requests.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class RuleMatchBenchmark {

  private static final int ENTRIES = 10_000;
  private static final int MASK = 1023;

  /** How the entries are spread over rules. */
  @Param({"sets", "rules"})
  public String layout;

  private Router router;
  private ConnectRequest[] ipHits;
  private ConnectRequest[] ipMisses;
  private ConnectRequest[] domainHits;
  private ConnectRequest[] domainMisses;
  private int next;

  /** Builds the router and the requests. */
  @Setup
  public void setUp() {
    Router.Builder b = Router.builder().defaultDecision(RouteDecision.direct());
    if (layout.equals("sets")) {
      Rule.Builder cidrs = Rule.builder("cidrs").decision(RouteDecision.reject("blocked ip"));
      Rule.Builder domains = Rule.builder("domains").decision(RouteDecision.reject("blocked name"));
      for (int i = 0; i < ENTRIES; i++) {
        cidrs.destinationCidr(cidr(i));
        domains.domainSuffix(domain(i));
      }
      b.rule(cidrs.build()).rule(domains.build());
    } else {
      for (int i = 0; i < ENTRIES; i++) {
        b.rule(Rule.builder("c" + i).destinationCidr(cidr(i)).decision(RouteDecision.reject("ip")).build());
        b.rule(Rule.builder("d" + i).domainSuffix(domain(i)).decision(RouteDecision.reject("name")).build());
      }
    }
    router = b.build();
    ConnectionInfo conn = new ConnectionInfo("bench", "mixed", "mixed", new InetSocketAddress("127.0.0.1", 40000),
        new InetSocketAddress("127.0.0.1", 1080), Instant.now());
    ipHits = new ConnectRequest[MASK + 1];
    ipMisses = new ConnectRequest[MASK + 1];
    domainHits = new ConnectRequest[MASK + 1];
    domainMisses = new ConnectRequest[MASK + 1];
    for (int i = 0; i <= MASK; i++) {
      int e = (i * 7919) % ENTRIES; // spread over the whole list, not just its head
      String hitIp = (e % 2 == 0) ? "10." + (e / 2 / 256) + "." + (e / 2 % 256) + ".77" : v6(e / 2) + "::77";
      ipHits[i] = ConnectRequest.of(conn, Destination.of(hitIp, 443));
      ipMisses[i] = ConnectRequest.of(conn, Destination.of("192.0.2." + (i % 250), 443));
      domainHits[i] = ConnectRequest.of(conn, Destination.of("cdn.www." + domain(e), 443));
      domainMisses[i] = ConnectRequest.of(conn, Destination.of("www.example" + i + ".org", 443));
    }
  }

  private static String cidr(int i) {
    // even entries: 10.x.y.0/24, odd entries: 2001:db8:x::/48
    return i % 2 == 0 ? "10." + (i / 2 / 256) + "." + (i / 2 % 256) + ".0/24" : v6(i / 2) + "::/48";
  }

  private static String v6(int n) {
    return "2001:db8:" + Integer.toHexString(n);
  }

  private static String domain(int i) {
    return "host" + i + ".blocked-" + (i % 97) + ".example.com";
  }

  /** An IPv4/IPv6 literal inside one of the CIDRs. */
  @Benchmark
  public Router.Match ipHit() {
    return router.route(ipHits[next++ & MASK]);
  }

  /** An IPv4 literal in no CIDR (falls through every rule to the default). */
  @Benchmark
  public Router.Match ipMiss() {
    return router.route(ipMisses[next++ & MASK]);
  }

  /** A subdomain of one of the suffixes. */
  @Benchmark
  public Router.Match domainHit() {
    return router.route(domainHits[next++ & MASK]);
  }

  /** A name under no suffix (falls through every rule to the default). */
  @Benchmark
  public Router.Match domainMiss() {
    return router.route(domainMisses[next++ & MASK]);
  }
}
