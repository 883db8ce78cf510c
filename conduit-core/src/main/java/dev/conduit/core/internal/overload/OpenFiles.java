package dev.conduit.core.internal.overload;

import java.io.File;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The process's open file descriptors, counted cheaply enough for every check. Listing {@code /proc/self/fd}
 * costs the kernel work per descriptor (about 0.6 ms for 140 descriptors and 4 ms for 2,000 on a small busy
 * machine), too much ten times a second on every conduit. So the directory is listed now and then, and between
 * listings the count moves with conduit's own channels, which the check counts anyway: it is listed again when
 * the last listing is older than {@link #REFRESH_NANOS}, and at every check once the count nears the budget,
 * where it has to be exact. Used by the check thread only.
 */
final class OpenFiles {
  /** The longest a count rests on an old listing (descriptors other than conduit's channels change slowly). */
  static final long REFRESH_NANOS = TimeUnit.SECONDS.toNanos(2);

  private static final File FDS = new File("/proc/self/fd");

  private final LongSupplier lister;
  private final LongSupplier clock;
  private boolean listed;
  private long listedAt;
  private long listedCount;
  private long channelsAtListing;

  OpenFiles() {
    this(OpenFiles::list, System::nanoTime);
  }

  /**
   * @param lister counts the descriptors (-1 where it cannot)
   * @param clock nanoseconds, for the age of a listing
   */
  OpenFiles(LongSupplier lister, LongSupplier clock) {
    this.lister = lister;
    this.clock = clock;
  }

  /**
   * The open descriptors, or -1 where they cannot be counted.
   *
   * @param channels conduit's open channels now (a connection's client side and its upstream)
   * @param budget the descriptor budget (0: none); from four fifths of it on, every call lists
   */
  long count(long channels, long budget) {
    long now = clock.getAsLong();
    if (listed) {
      if (listedCount < 0) {
        return -1; // no /proc here: it will not appear
      }
      long estimate = Math.max(0, listedCount + channels - channelsAtListing);
      boolean nearBudget = budget > 0 && estimate >= budget / 5 * 4;
      if (!nearBudget && now - listedAt < REFRESH_NANOS) {
        return estimate;
      }
    }
    listed = true;
    listedAt = now;
    listedCount = lister.getAsLong();
    channelsAtListing = channels;
    return listedCount;
  }

  /** Lists {@code /proc/self/fd}; -1 where there is none. */
  static long list() {
    String[] names = FDS.list();
    return names == null ? -1 : names.length;
  }
}
