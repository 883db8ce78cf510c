package dev.conduit.cli.logging;

import static java.util.Objects.requireNonNull;

import ch.qos.logback.classic.AsyncAppender;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.FileAppender;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import ch.qos.logback.core.rolling.FixedWindowRollingPolicy;
import ch.qos.logback.core.rolling.RollingFileAppender;
import ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy;
import ch.qos.logback.core.util.FileSize;
import dev.conduit.cli.config.LogConfig;
import dev.conduit.core.observe.AccessLog;
import org.slf4j.ILoggerFactory;
import org.slf4j.LoggerFactory;

/**
 * Configures logback from a {@link LogConfig}: level, text or JSON lines, standard error or a rotated
 * file. The access log ({@value AccessLog#LOGGER}) goes to the same place through an
 * {@link AsyncAppender}.
 */
public final class Logging {

  /** The text layout: time, level, logger, message (the core starts connection messages with {@code [id]}). */
  public static final String TEXT_PATTERN = "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5level %logger{0} - %msg%n%ex";

  private static final String ACCESS_APPENDER = "access-async";

  private static volatile boolean json;

  private Logging() {}

  /**
   * Whether the last {@link #configure} of this process asked for JSON lines, so that errors written
   * outside logging are JSON too (see {@link JsonLayout#line}).
   */
  public static boolean json() {
    return json;
  }

  /** Forgets the format of an earlier {@link #configure} (a new command starts in text). */
  public static void forgetFormat() {
    json = false;
  }

  /**
   * Replaces the logback configuration. Does nothing when slf4j is bound to another backend (an
   * embedding application's choice wins).
   */
  public static void configure(LogConfig config) {
    requireNonNull(config, "config");
    ILoggerFactory factory = LoggerFactory.getILoggerFactory();
    if (!(factory instanceof LoggerContext ctx)) {
      return;
    }
    json = config.format().equals("json");
    ctx.reset();
    Encoder<ILoggingEvent> encoder = encoder(ctx, config.format());
    Appender<ILoggingEvent> appender = appender(ctx, config, encoder);
    ch.qos.logback.classic.Logger root = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    Level level = Level.toLevel(config.level(), Level.INFO);
    root.setLevel(level);
    root.addAppender(appender);
    // the access log is written on event loops: a queue and a thread of its own keep file I/O off them;
    // when the queue is full lines are dropped rather than blocking traffic
    AsyncAppender async = new AsyncAppender();
    async.setContext(ctx);
    async.setName(ACCESS_APPENDER);
    async.setQueueSize(8192);
    async.setDiscardingThreshold(0);
    async.setNeverBlock(true);
    async.addAppender(appender);
    async.start();
    ch.qos.logback.classic.Logger access = ctx.getLogger(AccessLog.LOGGER);
    access.setAdditive(false);
    access.setLevel(Level.INFO); // switched by log.access, not by the level
    access.addAppender(async);
    nettyLevel(ctx, level);
  }

  /**
   * Changes the level of a running configuration (a reload's {@code log.level}), keeping its appenders. Does nothing
   * when slf4j is bound to another backend.
   *
   * @param level {@code trace}, {@code debug}, {@code info}, {@code warn} or {@code error}
   */
  public static void level(String level) {
    LogConfig.checkLevel(level);
    if (LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx) {
      Level l = Level.toLevel(level, Level.INFO);
      ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).setLevel(l);
      nettyLevel(ctx, l);
    }
  }

  /** Netty's own debug output is noise unless tracing. */
  private static void nettyLevel(LoggerContext ctx, Level level) {
    ctx.getLogger("io.netty").setLevel(level.isGreaterOrEqual(Level.INFO) || level == Level.TRACE ? level : Level.INFO);
  }

  /** Writes out the queued access log lines (at stop, so the last connections are logged). */
  public static void flushAccessLog() {
    if (LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx
        && ctx.getLogger(AccessLog.LOGGER).getAppender(ACCESS_APPENDER) instanceof AsyncAppender async) {
      async.stop(); // drains the queue, up to its flush time
    }
  }

  private static Encoder<ILoggingEvent> encoder(LoggerContext ctx, String format) {
    if (format.equals("json")) {
      JsonLayout layout = new JsonLayout();
      layout.setContext(ctx);
      layout.start();
      LayoutWrappingEncoder<ILoggingEvent> e = new LayoutWrappingEncoder<>();
      e.setContext(ctx);
      e.setLayout(layout);
      e.start();
      return e;
    }
    PatternLayoutEncoder e = new PatternLayoutEncoder();
    e.setContext(ctx);
    e.setPattern(TEXT_PATTERN);
    e.start();
    return e;
  }

  private static Appender<ILoggingEvent> appender(LoggerContext ctx, LogConfig config, Encoder<ILoggingEvent> encoder) {
    if (config.file().isEmpty()) {
      ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
      console.setContext(ctx);
      console.setName("stderr");
      console.setTarget("System.err");
      console.setEncoder(encoder);
      console.start();
      return console;
    }
    String file = config.file().get();
    if (config.maxSizeMegabytes() == 0) {
      FileAppender<ILoggingEvent> plain = new FileAppender<>();
      plain.setContext(ctx);
      plain.setName("file");
      plain.setFile(file);
      plain.setEncoder(encoder);
      plain.start();
      return plain;
    }
    RollingFileAppender<ILoggingEvent> rolling = new RollingFileAppender<>();
    rolling.setContext(ctx);
    rolling.setName("file");
    rolling.setFile(file);
    rolling.setEncoder(encoder);
    FixedWindowRollingPolicy window = new FixedWindowRollingPolicy();
    window.setContext(ctx);
    window.setParent(rolling);
    window.setFileNamePattern(file + ".%i");
    window.setMinIndex(1);
    window.setMaxIndex(Math.max(1, config.maxBackups()));
    window.start();
    SizeBasedTriggeringPolicy<ILoggingEvent> trigger = new SizeBasedTriggeringPolicy<>();
    trigger.setContext(ctx);
    trigger.setMaxFileSize(FileSize.valueOf(config.maxSizeMegabytes() + "MB"));
    trigger.start();
    rolling.setRollingPolicy(window);
    rolling.setTriggeringPolicy(trigger);
    rolling.start();
    return rolling;
  }
}
