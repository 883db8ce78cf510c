package dev.conduit.core.internal.connection;

import java.io.File;

/** The process's open file descriptors, from {@code /proc/self/fd}; -1 where there is none. */
final class OpenFiles {
  private static final File FDS = new File("/proc/self/fd");

  private OpenFiles() {}

  static long count() {
    String[] names = FDS.list();
    return names == null ? -1 : names.length;
  }
}
