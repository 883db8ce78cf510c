package dev.conduit.core.testing;

import static java.nio.file.StandardWatchEventKinds.ENTRY_CREATE;
import static java.nio.file.StandardWatchEventKinds.ENTRY_DELETE;
import static java.nio.file.StandardWatchEventKinds.ENTRY_MODIFY;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Waits for what happens to files: a line in a log file that a child process writes, a file deleted by
 * another thread. The wait wakes on the file system's change events (inotify on Linux) and looks again then,
 * instead of sleeping between looks. It gives up when the deadline passes (or, for a log, the process exits
 * without writing the line), with what it saw in the failure.
 */
public final class FileWatch {
  /** How long one wait for a change event lasts at most, so that a process's exit is noticed. */
  private static final long WAKE_NANOS = TimeUnit.SECONDS.toNanos(1);

  private FileWatch() {}

  /** The first match of {@code pattern} in {@code log}, waiting up to {@code timeout} while {@code process} lives. */
  public static Matcher await(Path log, Pattern pattern, Duration timeout, Process process)
      throws IOException, InterruptedException {
    Path dir = log.toAbsolutePath().getParent();
    try (WatchService watch = dir.getFileSystem().newWatchService()) {
      dir.register(watch, ENTRY_CREATE, ENTRY_MODIFY);
      long deadline = System.nanoTime() + timeout.toNanos();
      while (true) {
        // alive is read before the file: a process that wrote its line and exited is still found
        boolean alive = process == null || process.isAlive();
        Matcher m = pattern.matcher(read(log));
        if (m.find()) {
          return m;
        }
        long left = deadline - System.nanoTime();
        if (!alive || left <= 0) {
          throw new AssertionError("no match of " + pattern + (alive ? " within " + timeout : " before the process exited")
              + " in:\n" + read(log));
        }
        WatchKey key = watch.poll(Math.min(left, WAKE_NANOS), TimeUnit.NANOSECONDS);
        if (key != null) {
          key.pollEvents();
          key.reset();
        }
      }
    }
  }

  /** Waits for {@code text} in {@code log}, as {@link #await(Path, Pattern, Duration, Process)}. */
  public static void awaitText(Path log, String text, Duration timeout, Process process)
      throws IOException, InterruptedException {
    await(log, Pattern.compile(Pattern.quote(text)), timeout, process);
  }

  /** The integer in the first group of the first match, as {@link #await(Path, Pattern, Duration, Process)}. */
  public static int awaitNumber(Path log, Pattern pattern, Duration timeout, Process process)
      throws IOException, InterruptedException {
    return Integer.parseInt(await(log, pattern, timeout, process).group(1));
  }

  /** Waits up to {@code timeout} until {@code file} no longer exists. */
  public static void awaitDeleted(Path file, Duration timeout) throws IOException, InterruptedException {
    Path dir = file.toAbsolutePath().getParent();
    try (WatchService watch = dir.getFileSystem().newWatchService()) {
      dir.register(watch, ENTRY_DELETE);
      long deadline = System.nanoTime() + timeout.toNanos();
      while (Files.exists(file)) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new AssertionError(file + " still exists after " + timeout);
        }
        WatchKey key = watch.poll(left, TimeUnit.NANOSECONDS);
        if (key != null) {
          key.pollEvents();
          key.reset();
        }
      }
    }
  }

  private static String read(Path log) throws IOException {
    return Files.exists(log) ? new String(Files.readAllBytes(log), StandardCharsets.UTF_8) : "";
  }
}
