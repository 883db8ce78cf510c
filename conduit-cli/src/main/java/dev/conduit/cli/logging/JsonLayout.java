package dev.conduit.cli.logging;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.CoreConstants;
import ch.qos.logback.core.LayoutBase;
import java.time.Instant;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One JSON object per line: {@code time}, {@code level}, {@code logger}, {@code thread}, {@code conn}
 * (the connection id when the message starts with {@code [id]}), {@code msg} and {@code error}.
 */
public final class JsonLayout extends LayoutBase<ILoggingEvent> {

  private static final Pattern CONNECTION_ID = Pattern.compile("^\\[([^\\]\\s]+)\\] ");

  @Override
  public String doLayout(ILoggingEvent event) {
    StringBuilder s = new StringBuilder(256);
    s.append("{\"time\":\"").append(Instant.ofEpochMilli(event.getTimeStamp())).append('"');
    field(s, "level", event.getLevel().toString());
    field(s, "logger", event.getLoggerName());
    field(s, "thread", event.getThreadName());
    String message = event.getFormattedMessage();
    if (message != null) {
      Matcher m = CONNECTION_ID.matcher(message);
      if (m.find()) {
        field(s, "conn", m.group(1));
        message = message.substring(m.end());
      }
      field(s, "msg", message);
    }
    if (event.getThrowableProxy() != null) {
      field(s, "error", ThrowableProxyUtil.asString(event.getThrowableProxy()));
    }
    s.append('}').append(CoreConstants.LINE_SEPARATOR);
    return s.toString();
  }

  private static void field(StringBuilder s, String name, String value) {
    s.append(",\"").append(name).append("\":\"");
    escape(s, value);
    s.append('"');
  }

  /** JSON string escaping (RFC 8259 section 7). */
  static void escape(StringBuilder s, String value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '"' -> s.append("\\\"");
        case '\\' -> s.append("\\\\");
        case '\n' -> s.append("\\n");
        case '\r' -> s.append("\\r");
        case '\t' -> s.append("\\t");
        default -> {
          if (c < 0x20) {
            s.append(String.format("\\u%04x", (int) c));
          } else {
            s.append(c);
          }
        }
      }
    }
  }
}
