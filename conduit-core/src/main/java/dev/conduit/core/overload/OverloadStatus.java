package dev.conduit.core.overload;

/**
 * The overload manager's last reading.
 *
 * @param level the level in force
 * @param memoryBytes the memory in use: Netty's and the JDK's direct memory, plus the heap of Netty's
 *     allocators (from nine tenths of the JVM's direct memory limit, at least {@link OverloadLevel#PRESSURE})
 * @param memoryBudgetBytes the budget for buffered bytes (the {@link OverloadLevel#SHEDDING} threshold)
 * @param bufferedBytes the bytes conduit's connections hold in their outbound buffers, counted against the budget
 * @param openFiles the process's open file descriptors
 * @param fileBudget the file-descriptor budget (the {@link OverloadLevel#REFUSING} threshold)
 * @param throttled connections whose reading is held back now
 * @param throttledTotal connections held back since start
 * @param refusedTotal requests refused as busy since start
 * @param shedTotal connections closed to free memory since start
 */
public record OverloadStatus(OverloadLevel level, long memoryBytes, long memoryBudgetBytes, long bufferedBytes,
    long openFiles, long fileBudget, int throttled, long throttledTotal, long refusedTotal, long shedTotal) {

  /** The status of a conduit without an overload manager, or before its first reading. */
  public static final OverloadStatus NONE = new OverloadStatus(OverloadLevel.NORMAL, 0, 0, 0, 0, 0, 0, 0, 0, 0);
}
