package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.net.IpAddress;
import dev.conduit.core.net.IpPrefix;
import dev.conduit.netfilter.NetfilterException;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

/**
 * The destinations the protected networks have established TCP flows with through the gateway, as the
 * kernel's connection tracking lists them ({@code conntrack -L -p tcp --state ESTABLISHED}, Debian's
 * {@code conntrack} package). The egress server holds such an address in its allowlist while a flow uses
 * it. The listing is read as it streams: lines longer than 4 KiB are skipped and reading stops (the
 * process is killed) after {@code maxDestinations} destinations, so a huge table costs bounded memory.
 *
 * @param destinations the destinations, in address order
 * @param truncated whether reading stopped at the limit (more destinations may have flows)
 */
public record ActiveFlows(Set<IpAddress> destinations, boolean truncated) {

  private static final int MAX_LINE = 4096;
  private static final Duration TIME_LIMIT = Duration.ofSeconds(30);

  /**
   * Copies the set.
   *
   * @param destinations the destinations
   * @param truncated whether reading stopped at the limit
   */
  public ActiveFlows {
    destinations = Set.copyOf(requireNonNull(destinations, "destinations"));
  }

  /**
   * Asks the kernel, IPv4 and IPv6.
   *
   * @param protectedNetworks the sources whose flows count (flows between them do not)
   * @param launcher starts {@code conntrack} (on the gateway, or in its network namespace)
   * @param maxDestinations the most destinations read, 1 or more
   * @return the destinations
   * @throws NetfilterException when conntrack cannot run or fails (not installed, not root)
   */
  public static ActiveFlows read(List<IpPrefix> protectedNetworks, ProcessLauncher launcher,
      int maxDestinations) throws NetfilterException {
    requireNonNull(protectedNetworks, "protectedNetworks");
    requireNonNull(launcher, "launcher");
    if (maxDestinations < 1) {
      throw new IllegalArgumentException("maxDestinations: " + maxDestinations + " (expected: 1 or more)");
    }
    Set<IpAddress> out = new TreeSet<>();
    boolean truncated = false;
    for (String family : List.of("ipv4", "ipv6")) {
      truncated |= read(List.of("conntrack", "-L", "-f", family, "-p", "tcp", "--state", "ESTABLISHED"),
          protectedNetworks, launcher, maxDestinations, out);
      if (truncated) {
        break;
      }
    }
    return new ActiveFlows(out, truncated);
  }

  private static boolean read(List<String> argv, List<IpPrefix> protectedNetworks, ProcessLauncher launcher,
      int max, Set<IpAddress> out) throws NetfilterException {
    Process p;
    try {
      p = launcher.start(argv);
    } catch (IOException e) {
      throw new NetfilterException("cannot run conntrack (apt-get install conntrack): " + e.getMessage(), e);
    }
    boolean truncated = false;
    try (InputStream in = new BufferedInputStream(p.getInputStream())) {
      byte[] line = new byte[MAX_LINE];
      int length = 0;
      boolean tooLong = false;
      int b;
      while ((b = in.read()) >= 0) {
        if (b != '\n') {
          if (length < MAX_LINE) {
            line[length++] = (byte) b;
          } else {
            tooLong = true;
          }
          continue;
        }
        if (!tooLong) {
          destination(new String(line, 0, length, StandardCharsets.US_ASCII), protectedNetworks, out);
        }
        length = 0;
        tooLong = false;
        if (out.size() >= max) {
          truncated = true;
          break;
        }
      }
      if (truncated) {
        p.destroyForcibly();
        return true;
      }
      if (!p.waitFor(TIME_LIMIT.toSeconds(), TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new NetfilterException("conntrack -L did not finish within " + TIME_LIMIT.toSeconds() + " s");
      }
      if (p.exitValue() != 0) {
        throw new NetfilterException("command failed (exit " + p.exitValue() + "): " + String.join(" ", argv)
            + " (conntrack needs root and the nf_conntrack module)");
      }
      return false;
    } catch (IOException e) {
      p.destroyForcibly();
      throw new NetfilterException("cannot read conntrack's listing: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new NetfilterException("interrupted while reading conntrack's listing", e);
    }
  }

  /**
   * Adds the original destination of one {@code conntrack -L} line when its original source is in a
   * protected network and the destination is not.
   *
   * @param line e.g. {@code tcp 6 431999 ESTABLISHED src=198.18.1.2 dst=198.19.2.1 sport=... [ASSURED] ...}
   * @param protectedNetworks the protected networks
   * @param out where the destination goes
   */
  static void destination(String line, List<IpPrefix> protectedNetworks, Set<IpAddress> out) {
    if (!line.contains(" ESTABLISHED ")) {
      return;
    }
    String src = field(line, "src=");
    String dst = field(line, "dst=");
    if (src == null || dst == null) {
      return;
    }
    try {
      IpAddress s = IpAddress.parse(src);
      IpAddress d = IpAddress.parse(dst);
      if (protectedNetworks.stream().anyMatch(n -> n.contains(s))
          && protectedNetworks.stream().noneMatch(n -> n.contains(d))) {
        out.add(d);
      }
    } catch (IllegalArgumentException e) {
      // not an address: a line of another format
    }
  }

  private static String field(String line, String name) {
    int i = line.indexOf(' ' + name);
    if (i < 0) {
      return null;
    }
    int start = i + 1 + name.length();
    int end = line.indexOf(' ', start);
    return line.substring(start, end < 0 ? line.length() : end);
  }
}
