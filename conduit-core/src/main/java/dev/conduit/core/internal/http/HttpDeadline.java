package dev.conduit.core.internal.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.AbstractScheduledEventExecutor;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP connection's one timer, lazily re-armed: a kept-alive connection waiting for its next request, a
 * request head that started arriving, or a request sent upstream waiting for its response head.
 *
 * <p>Re-arming later only moves a deadline: the scheduled task, when it runs early, schedules itself again
 * for what is left, so a busy keep-alive connection costs no task per request. Time is the event loop's
 * (virtual in an {@code EmbeddedChannel}).
 */
final class HttpDeadline {
  /** What the timer bounds. */
  enum Kind {
    /** A kept-alive connection waiting for its next request. */
    IDLE,
    /** A request head that started arriving. */
    REQUEST_HEAD,
    /** The upstream's answer to a request sent. */
    RESPONSE_HEAD
  }

  /** Told when a deadline passes, on the event loop. */
  interface Expiry {
    void expired(Kind kind);
  }

  private final ChannelHandlerContext ctx;
  private final Expiry expiry;
  private Kind kind = Kind.IDLE;
  private long deadlineNanos;
  private ScheduledFuture<?> timer;
  private long timerAtNanos;
  private boolean headStarted;
  private long headStartNanos;

  HttpDeadline(ChannelHandlerContext ctx, Expiry expiry) {
    this.ctx = ctx;
    this.expiry = expiry;
  }

  /** Sets the deadline {@code delayNanos} from now. */
  void arm(Kind value, long delayNanos) {
    deadlineNanos = now() + delayNanos;
    kind = value;
    if (timer == null || timerAtNanos - deadlineNanos > 0) {
      if (timer != null) {
        timer.cancel(false);
      }
      schedule(delayNanos);
    }
  }

  /** No deadline until the next {@link #arm}. */
  void disarm() {
    deadlineNanos = 0;
  }

  /** Disarms and cancels the scheduled task (the connection is done with timing). */
  void cancel() {
    disarm();
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
  }

  /** Notes the start of a request head; true the first time for this head. */
  boolean headArriving() {
    if (headStarted) {
      return false;
    }
    headStarted = true;
    headStartNanos = now();
    return true;
  }

  /** Whether a request head started arriving and is not complete yet. */
  boolean headStarted() {
    return headStarted;
  }

  /** Bounds the head that started arriving by {@code limitNanos} from its start. */
  void boundHead(long limitNanos) {
    arm(Kind.REQUEST_HEAD, Math.max(1, limitNanos - (now() - headStartNanos)));
  }

  /** The head is complete: its bound no longer applies. */
  void headComplete() {
    headStarted = false;
    disarm();
  }

  private long now() {
    EventExecutor e = ctx.executor();
    return e instanceof AbstractScheduledEventExecutor s ? s.ticker().nanoTime() : System.nanoTime();
  }

  private void schedule(long delayNanos) {
    timerAtNanos = now() + delayNanos;
    timer = ctx.executor().schedule(this::onTimer, delayNanos, TimeUnit.NANOSECONDS);
  }

  private void onTimer() {
    timer = null;
    if (deadlineNanos == 0) {
      return;
    }
    long left = deadlineNanos - now();
    if (left > 0) {
      schedule(left);
      return;
    }
    deadlineNanos = 0;
    expiry.expired(kind);
  }
}
