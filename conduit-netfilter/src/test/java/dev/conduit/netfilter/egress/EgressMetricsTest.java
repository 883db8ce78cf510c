package dev.conduit.netfilter.egress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conduit.core.net.IpPrefix;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

public class EgressMetricsTest {

  static AddressCounters c(String prefix, long outBytes, long inBytes) {
    return new AddressCounters(IpPrefix.parse(prefix), outBytes / 100, outBytes, inBytes / 100, inBytes);
  }

  @Test
  void rendersConduitsNamesAndTheSeedNamesWithTheLabelsItsDashboardsQuery() throws Exception {
    String text = new EgressMetrics("gw-1", 100).render(
        List.of(c("8.8.8.8", 1000, 52000), c("2606:4700::/32", 300, 400)), 7, false);
    assertThat(text).contains(
        "iptables_bytes_count{ip=\"8.8.8.8\",type=\"OUTPUT\",hostname=\"gw-1\"} 1000",
        "iptables_bytes_count{ip=\"8.8.8.8\",type=\"INPUT\",hostname=\"gw-1\"} 52000",
        "iptables_packets_count{ip=\"8.8.8.8\",type=\"INPUT\",hostname=\"gw-1\"} 520",
        "iptables_bytes_count{ip=\"2606:4700::/32\",type=\"OUTPUT\",hostname=\"gw-1\"} 300",
        "conduit_egress_bytes_total{address=\"8.8.8.8\",direction=\"in\",hostname=\"gw-1\"} 52000",
        "conduit_egress_packets_total{address=\"8.8.8.8\",direction=\"out\",hostname=\"gw-1\"} 10",
        "conduit_egress_denied_packets_total{hostname=\"gw-1\"} 7",
        "conduit_egress_allowlist_entries{hostname=\"gw-1\"} 2",
        "conduit_egress_report_only{hostname=\"gw-1\"} 0");
    promtoolAccepts(text);
  }

  @Test
  void theL7ChecksRefusalsAreACounterOnlyWhenTheGatewayHasOne() throws Exception {
    long[] refused = {3};
    EgressMetrics metrics = new EgressMetrics("gw-1", 100).l7Denied(() -> refused[0]);
    assertThat(metrics.render(List.of(c("8.8.8.8", 1, 1)), 0, false))
        .contains("# TYPE conduit_egress_l7_denied_flows_total counter\n")
        .contains("conduit_egress_l7_denied_flows_total{hostname=\"gw-1\"} 3\n");
    refused[0] = 5;
    String text = metrics.render(List.of(c("8.8.8.8", 1, 1)), 0, false);
    assertThat(text).contains("conduit_egress_l7_denied_flows_total{hostname=\"gw-1\"} 5\n");
    promtoolAccepts(text);
    assertThat(new EgressMetrics("gw-1", 100).render(List.of(), 0, false)).doesNotContain("l7");
  }

  @Test
  void capsLabelsWithAnOtherBucketAndKeepsAnAddressesLabelStable() throws Exception {
    EgressMetrics metrics = new EgressMetrics("h\"x", 2);
    String first = metrics.render(List.of(c("1.1.1.1", 100, 100), c("2.2.2.2", 900, 900),
        c("3.3.3.3", 500, 500)), 0, true);
    // the two biggest get labels, the third is summed under other
    assertThat(first).contains("ip=\"2.2.2.2\"", "ip=\"3.3.3.3\"", "ip=\"other\"")
        .doesNotContain("ip=\"1.1.1.1\"")
        .contains("iptables_bytes_count{ip=\"other\",type=\"OUTPUT\",hostname=\"h\\\"x\"} 100");
    // 1.1.1.1 grows past the others: its label does not move, so no series jumps
    String second = metrics.render(List.of(c("1.1.1.1", 9000, 9000), c("2.2.2.2", 900, 900),
        c("3.3.3.3", 500, 500), c("4.4.4.4", 1, 1)), 0, true);
    assertThat(second).contains("ip=\"2.2.2.2\"", "ip=\"3.3.3.3\"")
        .contains("iptables_bytes_count{ip=\"other\",type=\"OUTPUT\",hostname=\"h\\\"x\"} 9001");
    // an address that leaves the list frees its label
    String third = metrics.render(List.of(c("1.1.1.1", 9000, 9000), c("3.3.3.3", 500, 500)), 0, true);
    assertThat(third).contains("ip=\"1.1.1.1\"", "ip=\"3.3.3.3\"").doesNotContain("ip=\"other\"");
    promtoolAccepts(first);
  }

  @Test
  void deniedLogIsLimitedPerReading() {
    DeniedLog log = new DeniedLog(2);
    List<DeniedDestination> reading = List.of(
        new DeniedDestination(dev.conduit.core.net.IpAddress.parse("8.8.8.8"), 3, 180),
        new DeniedDestination(dev.conduit.core.net.IpAddress.parse("8.8.4.4"), 1, 60),
        new DeniedDestination(dev.conduit.core.net.IpAddress.parse("1.1.1.1"), 2, 120),
        new DeniedDestination(dev.conduit.core.net.IpAddress.parse("9.9.9.9"), 4, 240));
    List<String> lines = log.lines(reading, EgressMode.REPORT_ONLY);
    assertThat(lines).hasSize(3);
    assertThat(lines.get(0)).contains("would drop 3 new flow(s) to 8.8.8.8");
    assertThat(lines.get(2)).contains("6 new flow(s) to 2 more destination(s)");
    assertThat(log.lines(reading, EgressMode.REPORT_ONLY)).isEmpty();
  }

  @Test
  void theL7ChecksRefusalsAreLoggedByNameLimitedPerReading() {
    DeniedLog log = new DeniedLog(2);
    java.time.Instant t = java.time.Instant.parse("2026-12-06T18:00:00Z");
    List<DeniedFlow> reading = List.of(
        new DeniedFlow(dev.conduit.core.net.IpAddress.parse("198.51.100.9"), 443, java.util.Optional.of("evil.test"),
            java.util.Optional.empty(), 2, t),
        new DeniedFlow(dev.conduit.core.net.IpAddress.parse("2001:db8::9"), 80, java.util.Optional.empty(),
            java.util.Optional.of("h.test"), 1, t),
        new DeniedFlow(dev.conduit.core.net.IpAddress.parse("198.51.100.7"), 443, java.util.Optional.empty(),
            java.util.Optional.empty(), 4, t));
    assertThat(log.l7Lines(reading, EgressMode.ENFORCE)).containsExactly(
        "egress L7 check refused 2 new flow(s) to 198.51.100.9:443 (SNI evil.test)",
        "egress L7 check refused 1 new flow(s) to [2001:db8::9]:80 (Host h.test)",
        "egress L7 check refused 4 more new flow(s) (log limited to 2 lines)");
    assertThat(log.l7Lines(reading, EgressMode.ENFORCE)).isEmpty();
    List<DeniedFlow> again = List.of(new DeniedFlow(dev.conduit.core.net.IpAddress.parse("198.51.100.9"), 443,
        java.util.Optional.of("evil.test"), java.util.Optional.empty(), 5, t));
    assertThat(log.l7Lines(again, EgressMode.REPORT_ONLY)).containsExactly(
        "egress L7 check report-only: would refuse 3 new flow(s) to 198.51.100.9:443 (SNI evil.test)");
  }

  public static void promtoolAccepts(String text) throws IOException, InterruptedException {
    boolean installed = new ProcessBuilder("sh", "-c", "command -v promtool").start().waitFor() == 0;
    if (!installed) {
      if ("true".equals(System.getenv("CI"))) {
        fail("promtool is not installed (CI=true: test.sh installs it)");
      }
      assumeTrue(false, "promtool is not installed");
    }
    Process p = new ProcessBuilder("promtool", "check", "metrics").redirectErrorStream(true).start();
    p.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    assertThat(out).isBlank();
  }
}
