package dev.conduit.core.observe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.Destination;
import dev.conduit.core.testing.MiniJson;
import java.math.BigDecimal;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class AccessLogTest {
  static final String NASTY = "al\"ice \\ = x\ny\r\t\u0001\u2028é";

  static ConnectionSummary summary(Optional<String> principal, String detail) {
    ConnectionInfo info = new ConnectionInfo("k3", "socks-in", "socks", new InetSocketAddress("127.0.0.1", 40000),
        new InetSocketAddress("127.0.0.1", 1080), Instant.parse("2025-01-01T00:00:00Z"));
    return new ConnectionSummary(info, principal, Optional.of(Destination.of("2001:db8::1", 443)),
        Optional.of("corp"), Optional.of("upstream"), Optional.of(new InetSocketAddress("198.18.0.7", 3128)),
        1234, 56789, 1, Duration.ofNanos(1_234_567), Duration.ofMillis(7), Duration.ofSeconds(2).plusNanos(5_000),
        Outcome.IDLE_TIMEOUT, detail);
  }

  @Test
  void jsonLineHasEveryFieldAndEscapesStrings() {
    List<String> lines = new ArrayList<>();
    AccessLog log = AccessLog.builder().sink(lines::add).build();
    log.closed(summary(Optional.of(NASTY), "idle for 300000 ms"));
    assertThat(lines).hasSize(1);
    String line = lines.get(0);
    assertThat(line).doesNotContain("\n", "\r", "\u2028");
    Map<String, Object> m = MiniJson.object(line);
    assertThat(m).containsEntry("id", "k3").containsEntry("listener", "socks-in").containsEntry("protocol", "socks")
        .containsEntry("client", "127.0.0.1:40000").containsEntry("principal", NASTY)
        .containsEntry("destination", "[2001:db8::1]:443").containsEntry("dialed", "198.18.0.7:3128")
        .containsEntry("rule", "corp").containsEntry("outbound", "upstream")
        .containsEntry("bytes_in", new BigDecimal(1234)).containsEntry("bytes_out", new BigDecimal(56789))
        .containsEntry("requests", new BigDecimal(1))
        .containsEntry("negotiation_ms", new BigDecimal("1.234")).containsEntry("dial_ms", new BigDecimal("7.000"))
        .containsEntry("total_ms", new BigDecimal("2000.005"))
        .containsEntry("outcome", "idle_timeout").containsEntry("detail", "idle for 300000 ms");
    assertThat(Instant.parse((String) m.get("time"))).isBeforeOrEqualTo(Instant.now());
  }

  @Test
  void jsonAbsentValuesAreNull() {
    List<String> lines = new ArrayList<>();
    AccessLog.builder().sink(lines::add).build().closed(summary(Optional.empty(), ""));
    Map<String, Object> m = MiniJson.object(lines.get(0));
    assertThat(m).containsEntry("principal", null).containsEntry("detail", null);
  }

  @Test
  void logfmtLineQuotesWhatNeedsIt() {
    List<String> lines = new ArrayList<>();
    AccessLog log = AccessLog.builder().format(AccessLog.Format.LOGFMT).sink(lines::add).build();
    log.closed(summary(Optional.of(NASTY), "idle for 300000 ms"));
    String line = lines.get(0);
    assertThat(line).doesNotContain("\n", "\r", "\u2028");
    assertThat(line).contains(" id=k3 ", " client=127.0.0.1:40000 ", " outcome=idle_timeout ",
        " detail=\"idle for 300000 ms\"", " negotiation_ms=1.234 ");
    Map<String, String> m = MiniJson.logfmt(line);
    assertThat(m).containsEntry("principal", NASTY).containsEntry("destination", "[2001:db8::1]:443")
        .containsEntry("bytes_out", "56789").containsEntry("total_ms", "2000.005").containsEntry("rule", "corp");
  }

  @Test
  void logfmtLeavesOutAbsentValuesAndQuotesEmptyOnes() {
    List<String> lines = new ArrayList<>();
    AccessLog log = AccessLog.builder().format(AccessLog.Format.LOGFMT).sink(lines::add).build();
    log.closed(summary(Optional.empty(), ""));
    log.closed(summary(Optional.of(""), ""));
    assertThat(MiniJson.logfmt(lines.get(0))).doesNotContainKeys("principal", "detail");
    assertThat(lines.get(1)).contains(" principal=\"\" ");
    assertThat(MiniJson.logfmt(lines.get(1))).containsEntry("principal", "");
  }

  @Test
  void defaultSinkIsTheAccessLogger() {
    AccessLog log = AccessLog.json();
    assertThat(log.toString()).contains(AccessLog.LOGGER);
    log.closed(summary(Optional.empty(), "")); // goes to logback in tests; must not throw
  }
}
