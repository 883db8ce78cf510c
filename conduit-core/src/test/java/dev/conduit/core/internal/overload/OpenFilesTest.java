package dev.conduit.core.internal.overload;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The descriptor count: listed now and then, following conduit's channels in between (virtual time). */
class OpenFilesTest {
  private final AtomicLong descriptors = new AtomicLong(100);
  private final AtomicInteger listings = new AtomicInteger();
  private final AtomicLong now = new AtomicLong();
  private final OpenFiles files = new OpenFiles(() -> {
    listings.incrementAndGet();
    return descriptors.get();
  }, now::get);

  private void advanceMillis(long ms) {
    now.addAndGet(TimeUnit.MILLISECONDS.toNanos(ms));
  }

  @Test
  void betweenListingsTheCountFollowsConduitsChannels() {
    assertThat(files.count(10, 0)).isEqualTo(100);
    assertThat(listings).hasValue(1);
    // twenty more channels (ten connections with upstreams), then thirty fewer
    descriptors.set(120);
    advanceMillis(100);
    assertThat(files.count(30, 0)).isEqualTo(120);
    advanceMillis(100);
    assertThat(files.count(0, 0)).isEqualTo(90);
    assertThat(listings).as("no listing within the refresh interval").hasValue(1);
  }

  @Test
  void anOldListingIsRefreshed() {
    files.count(10, 0);
    descriptors.set(150); // descriptors that are not conduit's channels: a cache file, a log
    advanceMillis(TimeUnit.NANOSECONDS.toMillis(OpenFiles.REFRESH_NANOS) - 1);
    assertThat(files.count(10, 0)).isEqualTo(100);
    advanceMillis(1);
    assertThat(files.count(10, 0)).isEqualTo(150);
    assertThat(listings).hasValue(2);
  }

  @Test
  void nearTheBudgetEveryCountIsAListing() {
    assertThat(files.count(0, 1000)).isEqualTo(100);
    descriptors.set(805);
    advanceMillis(100);
    // estimated 800 of 1,000: four fifths, where it must be exact
    assertThat(files.count(700, 1000)).isEqualTo(805);
    advanceMillis(100);
    descriptors.set(990);
    assertThat(files.count(700, 1000)).isEqualTo(990);
    assertThat(listings).hasValue(3);
    // well below again: estimates
    advanceMillis(100);
    assertThat(files.count(0, 1000)).isEqualTo(290);
    assertThat(listings).hasValue(3);
  }

  @Test
  void withoutProcNothingIsCountedAndNothingListedAgain() {
    OpenFiles none = new OpenFiles(() -> {
      listings.incrementAndGet();
      return -1;
    }, now::get);
    assertThat(none.count(10, 1000)).isEqualTo(-1);
    advanceMillis(10_000);
    assertThat(none.count(10, 1000)).isEqualTo(-1);
    assertThat(listings).hasValue(1);
  }

  @Test
  void theRealListingCountsThisProcess() {
    assertThat(OpenFiles.list()).isPositive();
  }
}
