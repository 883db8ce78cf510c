package dev.conduit.core.observe;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.internal.format.FieldWriter;
import dev.conduit.core.internal.format.SummaryFields;
import java.time.Instant;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link ConnectionObserver} that writes one structured line per connection when it closes, as
 * JSON or logfmt.
 *
 * <p>Fields, in order: {@code time} (close time, ISO-8601 UTC), {@code id}, {@code listener},
 * {@code protocol}, {@code client} ({@code ip:port}), {@code principal}, {@code destination} (as the
 * client asked: {@code host:port}), {@code dialed} (the address connected to: the destination, or
 * the first hop of a chained outbound), {@code rule}, {@code outbound}, {@code bytes_in} (read from
 * the client), {@code bytes_out} (written to the client), {@code requests}, {@code negotiation_ms},
 * {@code dial_ms}, {@code total_ms} (milliseconds with microsecond precision), {@code outcome}
 * ({@link Outcome} name) and {@code detail}. Absent values are {@code null} in JSON and left out in
 * logfmt. Strings are escaped so that every record is exactly one line.
 *
 * <p>By default lines go to the SLF4J logger {@value #LOGGER} at INFO, so the application routes
 * them (for example to a file). The observer runs on the connection's event loop: route that logger
 * through an asynchronous appender (logback's {@code AsyncAppender}), or give a non-blocking
 * {@link Builder#sink(Consumer) sink}.
 *
 * <pre>{@code
 * Conduit.builder().observer(AccessLog.builder().format(AccessLog.Format.LOGFMT).build())...
 * }</pre>
 */
public final class AccessLog implements ConnectionObserver {
  /** The SLF4J logger name lines go to by default. */
  public static final String LOGGER = "conduit.access";

  /** The line format. */
  public enum Format {
    /** One JSON object per line. */
    JSON,
    /** One logfmt record per line ({@code key=value key="quoted value"}). */
    LOGFMT
  }

  private final Format format;
  private final Consumer<String> sink;
  private final boolean toLogger;

  private AccessLog(Builder b) {
    this.format = b.format;
    this.toLogger = b.sink == null;
    if (toLogger) {
      Logger logger = LoggerFactory.getLogger(LOGGER);
      this.sink = logger::info;
    } else {
      this.sink = b.sink;
    }
  }

  /** An access log writing JSON lines to the {@value #LOGGER} logger. */
  public static AccessLog json() {
    return builder().build();
  }

  /** A builder (defaults: JSON to the {@value #LOGGER} logger). */
  public static Builder builder() {
    return new Builder();
  }

  /** The line format. */
  public Format format() {
    return format;
  }

  @Override
  public void closed(ConnectionSummary summary) {
    sink.accept(format(summary, Instant.now()));
  }

  /** The line for {@code summary}, closed at {@code time} (without a line terminator). */
  public String format(ConnectionSummary summary, Instant time) {
    FieldWriter w = format == Format.JSON ? FieldWriter.json() : FieldWriter.logfmt();
    w.reset().string("time", time.toString());
    SummaryFields.write(w, summary);
    return w.finish();
  }

  @Override
  public String toString() {
    return "AccessLog[" + format + (toLogger ? " to logger " + LOGGER : " to a consumer") + "]";
  }

  /** Builds an {@link AccessLog}. */
  public static final class Builder {
    private Format format = Format.JSON;
    private Consumer<String> sink;

    private Builder() {}

    /** The line format (default: JSON). */
    public Builder format(Format value) {
      this.format = requireNonNull(value, "format");
      return this;
    }

    /**
     * Where lines go instead of the {@value #LOGGER} logger. Called on event loops, concurrently:
     * must be thread-safe, fast and non-blocking.
     */
    public Builder sink(Consumer<String> value) {
      this.sink = requireNonNull(value, "sink");
      return this;
    }

    /** Builds the immutable {@code AccessLog}. */
    public AccessLog build() {
      return new AccessLog(this);
    }
  }
}
