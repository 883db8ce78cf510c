package dev.conduit.cli.command;

import dev.conduit.cli.config.Durations;
import dev.conduit.core.TcpKeepAlive;
import java.time.Duration;
import picocli.CommandLine.TypeConversionException;

/** Flag value converters whose errors say what was expected. */
public final class Converters {
  private Converters() {}

  /** A Go-style duration ({@code 10s}, {@code 500ms}, {@code 1h30m}, {@code 90d}). */
  public static Duration duration(String text) {
    try {
      return Durations.parse(text);
    } catch (IllegalArgumentException e) {
      throw new TypeConversionException(e.getMessage());
    }
  }

  /** A size in bytes: {@code 200000}, {@code 512k}, {@code 192m}, {@code 2g} (powers of 1024). */
  public static long bytes(String text) {
    try {
      return dev.conduit.cli.config.ByteSizes.parse(text);
    } catch (IllegalArgumentException e) {
      throw new TypeConversionException(e.getMessage());
    }
  }

  /** {@code on}, {@code off} or {@code idle:interval:count}. */
  public static TcpKeepAlive tcpKeepAlive(String text) {
    try {
      return TcpKeepAlive.parse(text);
    } catch (IllegalArgumentException e) {
      throw new TypeConversionException(e.getMessage());
    }
  }
}
