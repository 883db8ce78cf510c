package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.net.IpAddress;
import dev.conduit.netfilter.egress.internal.EgressNft;
import dev.conduit.netfilter.egress.internal.NflogCapture;
import java.io.IOException;
import java.io.InputStream;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the first packets of denied flows that the gateway copies to its NFLOG group
 * ({@link EgressGatewayConfig#flowLogGroup()}) through {@code tcpdump -i nflog:N -w -}, and keeps, per
 * destination and port, how many flows started, when the last did, and the TLS SNI or HTTP Host they
 * carried. Bounded: at most {@code maxEntries} destinations and ports (further ones are counted as
 * overflow until older ones expire), each forgotten an hour after its last flow; the kernel rate-limits
 * what it copies and drops what tcpdump does not read in time.
 */
public final class FlowLog implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(FlowLog.class);
  private static final Duration EXPIRY = Duration.ofHours(1);

  private record Key(IpAddress destination, int port) {}

  private static final class Seen {
    long count;
    Instant last;
    Optional<String> sni = Optional.empty();
    Optional<String> host = Optional.empty();
  }

  private final int maxEntries;
  private final Clock clock;
  private final Map<Key, Seen> seen = new LinkedHashMap<>();
  private final Process process;
  private final Thread reader;
  private long overflow;
  private volatile String failure;
  private volatile boolean closing;

  private FlowLog(int maxEntries, Clock clock, Process process) {
    this.maxEntries = maxEntries;
    this.clock = clock;
    this.process = process;
    this.reader = new Thread(this::read, "conduit-egress-flow-log");
    this.reader.setDaemon(true);
  }

  /**
   * Starts reading an NFLOG group with tcpdump.
   *
   * @param group the NFLOG group of {@link EgressGatewayConfig#flowLogGroup()}
   * @param launcher starts tcpdump (on the gateway host, or in its network namespace)
   * @param maxEntries the most destination-and-port pairs kept, 1 or more
   * @return the running log
   * @throws IOException when tcpdump cannot start (not installed: {@code apt-get install tcpdump})
   */
  public static FlowLog start(int group, ProcessLauncher launcher, int maxEntries) throws IOException {
    return start(group, launcher, maxEntries, Clock.systemUTC());
  }

  /**
   * Starts reading an NFLOG group with tcpdump, with a clock for expiry.
   *
   * @param group the NFLOG group
   * @param launcher starts tcpdump
   * @param maxEntries the most destination-and-port pairs kept, 1 or more
   * @param clock the clock
   * @return the running log
   * @throws IOException when tcpdump cannot start
   */
  public static FlowLog start(int group, ProcessLauncher launcher, int maxEntries, Clock clock)
      throws IOException {
    requireNonNull(launcher, "launcher");
    requireNonNull(clock, "clock");
    if (group < 1 || group > 65535) {
      throw new IllegalArgumentException("group: " + group + " (expected: 1-65535)");
    }
    if (maxEntries < 1) {
      throw new IllegalArgumentException("maxEntries: " + maxEntries + " (expected: 1 or more)");
    }
    Process p;
    try {
      p = launcher.start(List.of("tcpdump", "-i", "nflog:" + group, "-U", "-w", "-", "-s",
          Integer.toString(EgressNft.PAYLOAD_SNAPLEN + 128), "--immediate-mode"));
    } catch (IOException e) {
      throw new IOException("cannot start tcpdump to read NFLOG group " + group
          + " (apt-get install tcpdump): " + e.getMessage(), e);
    }
    FlowLog flowLog = new FlowLog(maxEntries, clock, p);
    flowLog.reader.start();
    return flowLog;
  }

  /**
   * Returns whether tcpdump is reading: it may need a moment after {@link #start} to bind the group;
   * false once it has ended (see {@link #failure()}).
   */
  public boolean running() {
    return process.isAlive();
  }

  /** Returns why reading ended, if it did. */
  public Optional<String> failure() {
    return Optional.ofNullable(failure);
  }

  private void read() {
    try (InputStream in = process.getInputStream()) {
      NflogCapture.read(in, this::add);
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        failure = "tcpdump closed its output";
      } else {
        failure = "tcpdump exited with " + process.exitValue();
      }
    } catch (IOException e) {
      failure = "flow log: " + e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      failure = "interrupted";
    }
    if (process.isAlive()) {
      process.destroy();
    } else if (!closing) {
      log.warn("egress flow log stopped ({}): denied flows are reported without port and server name", failure);
    }
  }

  private synchronized void add(NflogCapture.Packet packet) {
    Key key = new Key(packet.destination(), packet.port());
    Seen s = seen.get(key);
    if (s == null) {
      expire();
      if (seen.size() >= maxEntries) {
        overflow++;
        return;
      }
      s = new Seen();
      seen.put(key, s);
    }
    if (packet.syn()) {
      s.count++; // a flow's first packet (its payload packets are not counted again)
    }
    if (packet.sni().isPresent()) {
      s.sni = packet.sni();
    }
    if (packet.host().isPresent()) {
      s.host = packet.host();
    }
    s.last = s.last == null || packet.at().isAfter(s.last) ? packet.at() : s.last;
  }

  private void expire() {
    Instant horizon = clock.instant().minus(EXPIRY);
    seen.values().removeIf(s -> s.last.isBefore(horizon));
  }

  /**
   * Returns what was seen in the last hour, most recent first.
   *
   * @return the denied flows per destination and port
   */
  public synchronized List<DeniedFlow> snapshot() {
    expire();
    List<DeniedFlow> out = new ArrayList<>(seen.size());
    seen.forEach((k, s) -> out.add(new DeniedFlow(k.destination(), k.port(), s.sni, s.host,
        Math.max(1, s.count), s.last)));
    out.sort(Comparator.comparing(DeniedFlow::lastSeen).reversed());
    return out;
  }

  /** Returns how many packets of destinations beyond {@code maxEntries} were not kept. */
  public synchronized long overflow() {
    return overflow;
  }

  /** Stops tcpdump. */
  @Override
  public void close() throws InterruptedException {
    closing = true;
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly();
    }
    reader.join(TimeUnit.SECONDS.toMillis(10));
  }

  @Override
  public String toString() {
    return "FlowLog[" + (process.isAlive() ? "reading" : "stopped: " + failure) + "]";
  }
}
