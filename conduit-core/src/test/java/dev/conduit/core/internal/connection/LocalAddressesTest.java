package dev.conduit.core.internal.connection;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.ConduitResources;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.Destination;
import dev.conduit.core.TcpKeepAlive;
import dev.conduit.core.Timeouts;
import dev.conduit.core.observe.ConnectionObserver;
import dev.conduit.core.outbound.SocketCustomizer;
import dev.conduit.core.route.Router;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The self-dial check reads the host's addresses from a cache on the event loop; the kernel is asked (here: a
 * recording source) only on the caller's thread at bind time and on the blocking refresher.
 */
class LocalAddressesTest {
  private static final int PORT = 4321;

  private final List<Thread> loadThreads = new CopyOnWriteArrayList<>();
  private volatile Set<InetAddress> hostAddresses;
  private final AtomicLong clock = new AtomicLong();
  private ExecutorService refresher;
  private EventLoop loop;
  private ConduitResources resources;

  @BeforeEach
  void setUp() throws Exception {
    hostAddresses = Set.of(InetAddress.getByName("198.18.0.7"));
    refresher = Executors.newSingleThreadExecutor(r -> new Thread(r, "test-refresher"));
    loop = new DefaultEventLoop();
    resources = ConduitResources.builder().ioThreads(1).build();
  }

  @AfterEach
  void tearDown() throws Exception {
    refresher.shutdownNow();
    loop.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
    resources.close();
  }

  private LocalAddresses cache() {
    return new LocalAddresses(() -> {
      loadThreads.add(Thread.currentThread());
      return hostAddresses;
    }, refresher, clock::get);
  }

  private Engine engine(LocalAddresses addresses) {
    return new Engine(resources, Timeouts.defaults(), TcpKeepAlive.OFF, ConnectionObserver.NONE,
        SocketCustomizer.NONE, Router.direct(), Map.of(), addresses);
  }

  private static ConnectRequest request(String ip) {
    InetSocketAddress client = new InetSocketAddress("127.0.0.1", 50000);
    ConnectionInfo info = new ConnectionInfo("t", "socks", "socks", client, client, Instant.now());
    return ConnectRequest.of(info, Destination.of(ip, PORT));
  }

  private boolean pointsAtSelfOnLoop(Engine engine, String ip) throws Exception {
    return loop.submit(() -> engine.pointsAtSelf(request(ip))).get(30, TimeUnit.SECONDS);
  }

  /** Returns once the refresh a lookup started has run: the refresher is one thread, so a later task runs after it. */
  private void refreshDone() throws Exception {
    refresher.submit(() -> { }).get(30, TimeUnit.SECONDS);
  }

  private Thread loopThread() throws Exception {
    return loop.submit(Thread::currentThread).get(30, TimeUnit.SECONDS);
  }

  @Test
  void aHostAddressOnAWildcardListenerIsServedFromTheCacheNotTheKernel() throws Exception {
    Engine engine = engine(cache());
    engine.addOwnAddress(new InetSocketAddress("0.0.0.0", PORT)); // loads on this (the binding) thread
    assertThat(loadThreads).containsExactly(Thread.currentThread());

    assertThat(pointsAtSelfOnLoop(engine, "198.18.0.7")).isTrue();
    assertThat(pointsAtSelfOnLoop(engine, "127.0.0.1")).isTrue();
    assertThat(loadThreads).hasSize(1); // a hit within MAX_AGE asks nobody
    assertThat(loadThreads).doesNotContain(loopThread());
  }

  @Test
  void aMissRefreshesOffTheLoopAndLaterLookupsSeeTheNewAddress() throws Exception {
    Engine engine = engine(cache());
    engine.addOwnAddress(new InetSocketAddress("0.0.0.0", PORT));
    hostAddresses = Set.of(InetAddress.getByName("198.18.0.7"), InetAddress.getByName("198.18.0.8"));

    // a miss right after loading does not ask again (MISS_REFRESH_AFTER)
    assertThat(pointsAtSelfOnLoop(engine, "198.18.0.8")).isFalse();
    assertThat(loadThreads).hasSize(1);

    clock.addAndGet(LocalAddresses.MISS_REFRESH_AFTER.toNanos());
    assertThat(pointsAtSelfOnLoop(engine, "198.18.0.8")).isFalse(); // answered from the cache at once
    refreshDone();
    assertThat(pointsAtSelfOnLoop(engine, "198.18.0.8")).isTrue();
    assertThat(loadThreads.subList(1, loadThreads.size())).isNotEmpty()
        .allSatisfy(t -> assertThat(t.getName()).isEqualTo("test-refresher"));
    assertThat(loadThreads).doesNotContain(loopThread());
    assertThat(pointsAtSelfOnLoop(engine, "198.18.0.9")).isFalse(); // not a host address; other port checks aside
  }

  @Test
  void anAddressThatWentAwayIsDroppedAfterMaxAge() throws Exception {
    LocalAddresses addresses = cache();
    addresses.refreshNow();
    assertThat(addresses.contains(InetAddress.getByName("198.18.0.7"))).isTrue();
    hostAddresses = Set.of();
    clock.addAndGet(LocalAddresses.MAX_AGE.toNanos());
    assertThat(addresses.contains(InetAddress.getByName("198.18.0.7"))).isTrue(); // stale, refresh started
    refreshDone();
    assertThat(addresses.contains(InetAddress.getByName("198.18.0.7"))).isFalse();
    assertThat(loadThreads.subList(1, loadThreads.size())).isNotEmpty()
        .allSatisfy(t -> assertThat(t.getName()).isEqualTo("test-refresher"));
  }

  @Test
  void theDefaultSourceListsTheLoopbackInterface() {
    LocalAddresses addresses = new LocalAddresses();
    addresses.refreshNow();
    assertThat(addresses.contains(InetAddress.getLoopbackAddress())).isTrue();
  }
}
