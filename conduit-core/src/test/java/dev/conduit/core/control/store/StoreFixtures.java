package dev.conduit.core.control.store;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** Nodes and waits shared by the store tests. */
final class StoreFixtures {

  private StoreFixtures() {}

  static NewNode node(String name, String... addresses) {
    return new NewNode(name, "spiffe://test.mesh/node/" + name, NodeRole.BOTH, List.of(addresses),
        Optional.of(addresses[0] + ":5053"), "sha256:" + name, "-----BEGIN CERTIFICATE REQUEST-----\n");
  }

  /** Collects the versions a change feed delivers. */
  static final class Versions implements java.util.function.LongConsumer {
    final BlockingQueue<Long> seen = new LinkedBlockingQueue<>();

    @Override
    public void accept(long version) {
      seen.add(version);
    }

    /** Waits (up to 30 s) for a version of at least {@code version}. */
    long awaitAtLeast(long version) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (true) {
        long left = deadline - System.nanoTime();
        Long v = seen.poll(Math.max(left, 0), TimeUnit.NANOSECONDS);
        if (v == null) {
          throw new AssertionError("no version >= " + version + " delivered within 30 s");
        }
        if (v >= version) {
          return v;
        }
      }
    }
  }
}
