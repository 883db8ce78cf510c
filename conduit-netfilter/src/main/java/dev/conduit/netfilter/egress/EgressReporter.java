package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.net.IpAddress;
import dev.conduit.netfilter.NetfilterException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reports what an {@link EgressGateway} sees to the egress server, every {@code interval} (10 s by
 * default), as the push channel's {@code report} message
 * ({@link dev.conduit.core.control.push.PushClient#report}):
 * <pre>{@code {"type":"egress-gateway","mode":"enforce|report",
 *  "counters":[{"address","bytesIn","bytesOut","packetsIn","packetsOut"}],
 *  "activeFlows":["198.18.0.10"],"activeFlowsTruncated":false,
 *  "denied":[{"destination","port","sni","host","count","lastSeen"}]}}</pre>
 * {@code counters} are the allowlist elements' kernel counters ({@code In}: from the address to the
 * protected networks); {@code activeFlows} the destinations with an established flow ({@link ActiveFlows}),
 * which the server keeps allowlisted while they are used; {@code denied} the destinations outside the
 * allowlist that were tried in the last hour (the kernel's denied set), per port with the TLS SNI or HTTP
 * Host where the {@link FlowLog} saw it ({@code port}, {@code sni}, {@code host} null when not seen), most
 * recent first, at most {@code maxDenied}. The reports run on a thread of the reporter's own: reading
 * the kernel blocks.
 */
public final class EgressReporter implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EgressReporter.class);
  private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

  private final EgressGateway gateway;
  private final Optional<FlowLog> flowLog;
  private final Optional<EgressL7Check> l7Check;
  private final ProcessLauncher launcher;
  private final Predicate<JsonNode> sink;
  private final Settings settings;
  private final Clock clock;
  private final Map<IpAddress, long[]> deniedCounts = new HashMap<>(); // packets, last change (ms)
  private final ScheduledExecutorService timer;
  private String lastProblem;

  /**
   * The reporter's limits.
   *
   * @param interval how often a report is sent
   * @param maxActiveFlows the most active-flow destinations read from conntrack
   * @param maxDenied the most denied entries in a report
   */
  public record Settings(Duration interval, int maxActiveFlows, int maxDenied) {

    /** Every 10 s, up to 10,000 active-flow destinations and 1,000 denied entries. */
    public static final Settings DEFAULT = new Settings(Duration.ofSeconds(10), 10_000, 1_000);

    /**
     * Validates.
     *
     * @param interval how often a report is sent, 100 ms or more
     * @param maxActiveFlows the most active-flow destinations, 1 or more
     * @param maxDenied the most denied entries, 0 or more
     */
    public Settings {
      requireNonNull(interval, "interval");
      if (interval.toMillis() < 100) {
        throw new IllegalArgumentException("interval: " + interval + " (expected: 100 ms or more)");
      }
      if (maxActiveFlows < 1) {
        throw new IllegalArgumentException("maxActiveFlows: " + maxActiveFlows + " (expected: 1 or more)");
      }
      if (maxDenied < 0) {
        throw new IllegalArgumentException("maxDenied: " + maxDenied + " (expected: 0 or more)");
      }
    }
  }

  /**
   * Creates a reporter; {@link #start()} schedules it.
   *
   * @param gateway the gateway
   * @param flowLog the first packets of denied flows, if read
   * @param launcher starts {@code conntrack}
   * @param sink sends a report, returning whether it was sent (e.g. {@code pushClient::report})
   * @param settings interval and limits
   * @param clock the clock of {@code lastSeen}
   */
  public EgressReporter(EgressGateway gateway, Optional<FlowLog> flowLog, ProcessLauncher launcher,
      Predicate<JsonNode> sink, Settings settings, Clock clock) {
    this(gateway, flowLog, Optional.empty(), launcher, sink, settings, clock);
  }

  /**
   * Creates a reporter for a gateway with an L7 check: the flows it refused are reported as denied too, with
   * their port and server name.
   *
   * @param gateway the gateway
   * @param flowLog the first packets of denied flows, if read
   * @param l7Check the gateway's L7 check, if on
   * @param launcher starts {@code conntrack}
   * @param sink sends a report, returning whether it was sent (e.g. {@code pushClient::report})
   * @param settings interval and limits
   * @param clock the clock of {@code lastSeen}
   */
  public EgressReporter(EgressGateway gateway, Optional<FlowLog> flowLog, Optional<EgressL7Check> l7Check,
      ProcessLauncher launcher, Predicate<JsonNode> sink, Settings settings, Clock clock) {
    this.l7Check = requireNonNull(l7Check, "l7Check");
    this.gateway = requireNonNull(gateway, "gateway");
    this.flowLog = requireNonNull(flowLog, "flowLog");
    this.launcher = requireNonNull(launcher, "launcher");
    this.sink = requireNonNull(sink, "sink");
    this.settings = requireNonNull(settings, "settings");
    this.clock = requireNonNull(clock, "clock");
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "conduit-egress-reporter");
      t.setDaemon(true);
      return t;
    });
  }

  /** Sends a report now and then every interval. */
  public void start() {
    long every = settings.interval().toMillis();
    timer.scheduleWithFixedDelay(this::sendQuietly, 0, every, TimeUnit.MILLISECONDS);
  }

  private void sendQuietly() {
    try {
      send();
    } catch (NetfilterException | RuntimeException e) {
      String problem = e.getMessage();
      if (!problem.equals(lastProblem)) { // once per new problem, not every interval
        log.warn("egress gateway: report not sent: {}", problem);
      }
      lastProblem = problem;
    }
  }

  /**
   * Builds a report and sends it.
   *
   * @return whether the sink took it (false: not connected; the next interval tries again)
   * @throws NetfilterException when the kernel's state cannot be read
   */
  public boolean send() throws NetfilterException {
    boolean sent = sink.test(report());
    lastProblem = null;
    return sent;
  }

  /**
   * Reads the kernel's state and builds a report.
   *
   * @return the report
   * @throws NetfilterException when nft or conntrack fail
   */
  public synchronized ObjectNode report() throws NetfilterException {
    ObjectNode report = JSON.objectNode();
    report.put("type", "egress-gateway");
    report.put("mode", gateway.config().mode() == EgressMode.ENFORCE ? "enforce" : "report");
    ArrayNode counters = report.putArray("counters");
    for (AddressCounters c : gateway.counters()) {
      counters.addObject().put("address", c.label()).put("bytesIn", c.inBytes()).put("bytesOut", c.outBytes())
          .put("packetsIn", c.inPackets()).put("packetsOut", c.outPackets());
    }
    ActiveFlows active = ActiveFlows.read(gateway.config().protectedNetworks(), launcher,
        settings.maxActiveFlows());
    ArrayNode flows = report.putArray("activeFlows");
    active.destinations().forEach(a -> flows.add(a.toString()));
    report.put("activeFlowsTruncated", active.truncated());
    ArrayNode denied = report.putArray("denied");
    for (DeniedFlow d : denied(gateway.denied())) {
      ObjectNode n = denied.addObject().put("destination", d.destination().toString());
      if (d.port() == 0) {
        n.putNull("port");
      } else {
        n.put("port", d.port());
      }
      n.put("sni", d.sni().orElse(null)).put("host", d.host().orElse(null)).put("count", d.count())
          .put("lastSeen", d.lastSeen().toString());
    }
    return report;
  }

  /** Joins the kernel's denied set (every destination) with the flow log (ports and names). */
  private List<DeniedFlow> denied(List<DeniedDestination> kernel) {
    Instant now = clock.instant();
    Map<IpAddress, List<DeniedFlow>> seen = new HashMap<>();
    flowLog.ifPresent(f -> f.snapshot().forEach(d -> seen.computeIfAbsent(d.destination(),
        k -> new ArrayList<>()).add(d)));
    Map<IpAddress, long[]> counts = new HashMap<>();
    List<DeniedFlow> out = new ArrayList<>();
    for (DeniedDestination d : kernel) {
      long[] before = deniedCounts.get(d.destination());
      // the kernel keeps no time: a destination's last attempt is when its count last changed
      long changed = before != null && before[0] == d.packets() ? before[1] : now.toEpochMilli();
      counts.put(d.destination(), new long[] {d.packets(), changed});
      List<DeniedFlow> ports = seen.get(d.destination());
      if (ports == null || ports.isEmpty()) {
        out.add(new DeniedFlow(d.destination(), 0, Optional.empty(), Optional.empty(), d.packets(),
            Instant.ofEpochMilli(changed)));
      } else {
        out.addAll(ports);
      }
    }
    deniedCounts.clear();
    deniedCounts.putAll(counts);
    l7Check.ifPresent(l7 -> out.addAll(l7.denied())); // refused by name: never in the kernel's set
    out.sort(Comparator.comparing(DeniedFlow::lastSeen).reversed()
        .thenComparing(DeniedFlow::destination).thenComparingInt(DeniedFlow::port));
    return out.size() > settings.maxDenied() ? out.subList(0, settings.maxDenied()) : out;
  }

  /** Stops reporting (the flow log is the caller's to close). */
  @Override
  public void close() throws InterruptedException {
    timer.shutdownNow();
    timer.awaitTermination(10, TimeUnit.SECONDS);
  }

  @Override
  public String toString() {
    return "EgressReporter[every " + settings.interval() + ", " + gateway + "]";
  }
}
