package dev.conduit.cli.logging;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import org.junit.jupiter.api.Test;

class JsonLayoutTest {

  @Test
  void oneObjectPerLineWithTheConnectionIdAsAField() {
    LoggerContext ctx = new LoggerContext();
    JsonLayout layout = new JsonLayout();
    layout.setContext(ctx);
    layout.start();
    LoggingEvent e = new LoggingEvent("fqcn", ctx.getLogger("conduit.access"), Level.INFO,
        "[{}] socks 127.0.0.1:5 -> \"quoted\"\tname", null, new Object[] {"c42"});
    e.setThreadName("loop-1");
    String line = layout.doLayout(e);
    assertThat(line).endsWith("}" + System.lineSeparator()).doesNotContain("\n{");
    assertThat(line).contains("\"level\":\"INFO\"", "\"logger\":\"conduit.access\"", "\"thread\":\"loop-1\"",
        "\"conn\":\"c42\"", "\"msg\":\"socks 127.0.0.1:5 -> \\\"quoted\\\"\\tname\"");
    LoggingEvent plain = new LoggingEvent("fqcn", ctx.getLogger("conduit"), Level.WARN, "stopped", new IllegalStateException("x\ny"), null);
    plain.setThreadName("main");
    String withError = layout.doLayout(plain);
    assertThat(withError).doesNotContain("\"conn\"").contains("\"msg\":\"stopped\"",
        "\"error\":\"java.lang.IllegalStateException: x\\ny");
    assertThat(withError.strip().lines()).hasSize(1);
  }
}
