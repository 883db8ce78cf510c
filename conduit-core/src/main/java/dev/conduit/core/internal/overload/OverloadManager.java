package dev.conduit.core.internal.overload;

import dev.conduit.core.Timeouts;
import dev.conduit.core.overload.OverloadLevel;
import dev.conduit.core.overload.OverloadPolicy;
import dev.conduit.core.overload.OverloadStatus;
import io.netty.channel.Channel;
import io.netty.channel.WriteBufferWaterMark;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Measures what conduit holds and escalates through the {@link OverloadLevel}s.
 *
 * <p>Nothing here runs on the data path: a thread of its own measures memory and descriptors every check
 * interval and reads each connection's outbound-buffer count (volatile, kept by Netty anyway). The data
 * path sees one volatile read per new request ({@link #admit()}) and nothing per read or write. Its actions
 * reuse the back-pressure conduit already has: a throttled connection gets a small write water mark, so it
 * turns unwritable and its peer stops being read, as with any slow reader.
 */
public final class OverloadManager implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(OverloadManager.class);

  /** A throttled connection may buffer this much per side before its peer stops being read. */
  static final WriteBufferWaterMark THROTTLED = new WriteBufferWaterMark(8 * 1024, 32 * 1024);
  /** Connections holding less than this are never throttled or shed: they are not the problem. */
  static final long HOLDER_FLOOR = 64 * 1024;
  /** Shortened timeouts are the configured ones divided by this (at least one second). */
  static final int SHORTEN = 4;

  /** Set while any manager in the process is above its first memory threshold: error replies are preset ones. */
  private static volatile boolean memoryShort;

  private final OverloadPolicy policy;
  private final Supplier<? extends Collection<? extends BufferHolder>> connections;
  private final Consumer<OverloadStatus> listener;
  private final Timeouts timeouts;
  private final Timeouts shortened;
  private final MemoryGauge memory = new MemoryGauge();
  /** Open descriptors: listed now and then, moved with the connections' channels in between. */
  private final OpenFiles fileCount = new OpenFiles();
  private final AtomicInteger admittedSinceCheck = new AtomicInteger();
  private final LongAdder refused = new LongAdder();
  /** Throttled channels and the water mark to give back; touched by the check thread only. */
  private final Map<Channel, WriteBufferWaterMark> throttled = new HashMap<>();
  private long throttledTotal;
  private long shedTotal;
  private volatile OverloadLevel level = OverloadLevel.NORMAL;
  private volatile long openFiles;
  private volatile OverloadStatus status = OverloadStatus.NONE;
  private ScheduledExecutorService checker;

  /**
   * @param connections the live connections, read from the check thread
   * @param listener told each reading (metrics), on the check thread
   */
  public OverloadManager(OverloadPolicy policy, Timeouts timeouts, Supplier<? extends Collection<? extends BufferHolder>> connections,
      Consumer<OverloadStatus> listener) {
    this.policy = policy;
    this.timeouts = timeouts;
    this.shortened = shorten(timeouts);
    this.connections = connections;
    this.listener = listener;
  }

  /** Whether any conduit in this process is short of memory: replies must not allocate. */
  public static boolean memoryShort() {
    return memoryShort;
  }

  /** Starts measuring. */
  public synchronized void start() {
    if (!policy.enabled() || checker != null) {
      return;
    }
    checker = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "conduit-overload");
      t.setDaemon(true);
      return t;
    });
    long every = policy.checkInterval().toNanos();
    checker.scheduleWithFixedDelay(this::checkSafely, 0, every, TimeUnit.NANOSECONDS);
  }

  @Override
  public synchronized void close() {
    if (checker != null) {
      checker.shutdownNow();
      checker = null;
    }
    level = OverloadLevel.NORMAL;
    memoryShort = false;
  }

  /** The level in force. */
  public OverloadLevel level() {
    return level;
  }

  /** The last reading. */
  public OverloadStatus status() {
    return status;
  }

  /** The timeouts for new waits: shortened from {@link OverloadLevel#PRESSURE} on. */
  public Timeouts timeouts() {
    return level == OverloadLevel.NORMAL ? timeouts : shortened;
  }

  /**
   * Whether a new request may go ahead: false at {@link OverloadLevel#REFUSING} and above, or when the
   * descriptors it needs would pass the budget before the next reading.
   */
  public boolean admit() {
    if (!policy.enabled()) {
      return true;
    }
    if (level.refusesNewWork()) {
      refused.increment();
      return false;
    }
    long budget = policy.fileBudget();
    if (budget > 0) {
      // a request opens one upstream; count two, for the downstreams accepted meanwhile
      int admitted = admittedSinceCheck.incrementAndGet();
      if (openFiles + 2L * admitted >= budget) {
        refused.increment();
        return false;
      }
    }
    return true;
  }

  private void checkSafely() {
    try {
      check();
    } catch (RuntimeException | Error e) {
      log.warn("overload check failed: {}", e.toString());
    }
  }

  /** One reading and the actions it calls for. Runs on the check thread (tests call it directly). */
  public void check() {
    long mem = memory.usedBytes();
    long directLimit = memory.directLimit();
    List<Holder> holders = new ArrayList<>();
    long buffered = 0;
    long channels = 0;
    for (BufferHolder s : connections.get()) {
      long b = s.bufferedBytes();
      buffered += b;
      channels += s.upstreamChannel() == null ? 1 : 2;
      if (b >= HOLDER_FLOOR) {
        holders.add(new Holder(s, b));
      }
    }
    long files = fileCount.count(channels, policy.fileBudget());
    openFiles = files;
    admittedSinceCheck.set(0);
    holders.sort((a, b) -> Long.compare(b.bytes, a.bytes));
    long budget = policy.memoryBudget();
    // the budget bounds what conduit buffers (its connections' outbound buffers, which grow with slow peers);
    // the JVM's direct memory itself, which pools keep after a peak, only ever raises the first level: replies
    // then come preallocated and the biggest holders are held back, and nothing stays refused for good
    OverloadLevel memLevel = buffered >= budget ? OverloadLevel.SHEDDING
        : buffered >= (long) (budget * policy.refuseFraction()) ? OverloadLevel.REFUSING
        : buffered >= (long) (budget * policy.pressureFraction()) ? OverloadLevel.PRESSURE
        : directLimit > 0 && mem >= directLimit / 10 * 9 ? OverloadLevel.PRESSURE
        : OverloadLevel.NORMAL;
    long fileBudget = policy.fileBudget();
    OverloadLevel fileLevel = fileBudget <= 0 || files < 0 ? OverloadLevel.NORMAL
        : files >= fileBudget ? OverloadLevel.REFUSING
        : files >= fileBudget * 9 / 10 ? OverloadLevel.PRESSURE
        : OverloadLevel.NORMAL;
    OverloadLevel next = memLevel.compareTo(fileLevel) >= 0 ? memLevel : fileLevel;
    OverloadLevel previous = level;
    level = next;
    memoryShort = memLevel != OverloadLevel.NORMAL;
    if (next != previous) {
      log.info("overload: {} ({} of {} budgeted bytes buffered, {} bytes of direct memory; {} of {} descriptors)",
          next, buffered, budget, mem, files, fileBudget);
    }
    if (memLevel != OverloadLevel.NORMAL) {
      throttle(holders, buffered);
    } else if (!throttled.isEmpty()) {
      unthrottleAll();
    }
    if (memLevel == OverloadLevel.SHEDDING) {
      shed(holders, buffered - (long) (budget * policy.refuseFraction()));
    }
    status = new OverloadStatus(next, mem, budget, buffered, files, fileBudget, throttled.size(), throttledTotal,
        refused.sum(), shedTotal);
    listener.accept(status);
  }

  /** Shrinks the water marks of the biggest holders, those holding four fifths of what is buffered. */
  private void throttle(List<Holder> holders, long buffered) {
    throttled.keySet().removeIf(ch -> !ch.isOpen());
    long covered = 0;
    for (Holder h : holders) {
      if (covered >= buffered * 4 / 5) {
        break;
      }
      covered += h.bytes;
      throttle(h.state.channel());
      throttle(h.state.upstreamChannel());
    }
  }

  private void throttle(Channel ch) {
    if (ch == null || !ch.isOpen() || throttled.containsKey(ch)
        || BufferHolder.pendingBytes(ch) < HOLDER_FLOOR / 2) {
      return;
    }
    throttled.put(ch, ch.config().getWriteBufferWaterMark());
    throttledTotal++;
    ch.config().setWriteBufferWaterMark(THROTTLED);
  }

  private void unthrottleAll() {
    for (Iterator<Map.Entry<Channel, WriteBufferWaterMark>> it = throttled.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<Channel, WriteBufferWaterMark> e = it.next();
      it.remove();
      Channel ch = e.getKey();
      if (ch.isOpen()) {
        ch.config().setWriteBufferWaterMark(e.getValue());
        // writability is recomputed only as bytes come and go: a channel that drained below the small mark
        // is writable already, one above the restored low mark turns writable as it drains
        ch.eventLoop().execute(ch::flush);
      }
    }
  }

  /** Closes the biggest holders until what they held covers {@code excess}, at least one. */
  private void shed(List<Holder> holders, long excess) {
    long freed = 0;
    int closed = 0;
    for (Holder h : holders) {
      if (freed > 0 && freed >= excess) {
        break;
      }
      freed += h.bytes;
      closed++;
      log.debug("overload: closing connection {} holding {} bytes", h.state.holderId(), h.bytes);
      h.state.closeByConduit("overloaded: closed holding " + h.bytes + " buffered bytes");
    }
    if (closed > 0) {
      // one line per reading, however many connections: attackers must not fill the log
      shedTotal += closed;
      log.warn("overload: closed {} connection(s) holding {} bytes", closed, freed);
    }
  }

  private static Timeouts shorten(Timeouts t) {
    return t.toBuilder()
        .negotiation(shorter(t.negotiation()))
        .httpIdle(shorter(t.httpIdle()))
        .relayIdle(t.relayIdle().isZero() ? Duration.ZERO : shorter(t.relayIdle()))
        .build();
  }

  private static Duration shorter(Duration d) {
    Duration s = d.dividedBy(SHORTEN);
    return s.compareTo(Duration.ofSeconds(1)) < 0 ? (d.compareTo(Duration.ofSeconds(1)) < 0 ? d : Duration.ofSeconds(1)) : s;
  }

  private record Holder(BufferHolder state, long bytes) {}
}
