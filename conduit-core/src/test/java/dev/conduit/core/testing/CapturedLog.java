package dev.conduit.core.testing;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import org.slf4j.LoggerFactory;

/** Records what a logger (and those below it) logs at {@code level} or above, until closed. */
public final class CapturedLog implements AutoCloseable {
  private final Logger logger;
  private final Level previous;
  private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

  private CapturedLog(String name, Level level) {
    logger = (Logger) LoggerFactory.getLogger(name);
    previous = logger.getLevel();
    appender.start();
    logger.addAppender(appender);
    logger.setLevel(level);
  }

  /** Starts recording {@code name}'s events at {@code level}. */
  public static CapturedLog of(String name, Level level) {
    return new CapturedLog(name, level);
  }

  /** The events so far. */
  public List<ILoggingEvent> events() {
    return List.copyOf(appender.list);
  }

  /** Stops recording and restores the logger's level. */
  @Override
  public void close() {
    logger.detachAppender(appender);
    logger.setLevel(previous);
    appender.stop();
  }
}
