package dev.conduit.core.testing;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/**
 * Waits for state that announces no event (a row in another process's database, a server's session list, an
 * agent's acknowledgement recorded by the manager): checks it every 20 ms until it holds, and fails with
 * {@code what} after a deadline generous enough for a loaded machine. Where an event exists, wait for it instead.
 */
public final class Poll {

  private Poll() {}

  /**
   * Returns once {@code condition} holds.
   *
   * @param what what is waited for, for the failure message
   * @param timeout when to give up
   * @param condition the state to wait for
   * @throws AssertionError after {@code timeout}
   */
  public static void until(String what, Duration timeout, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("not within " + timeout.toSeconds() + " s: " + what);
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted waiting for " + what, e);
      }
    }
  }
}
