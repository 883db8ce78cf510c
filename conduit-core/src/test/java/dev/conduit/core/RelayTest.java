package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.testing.TestOrigin;
import java.io.DataInputStream;
import java.io.InputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The relay: bulk transfer under back-pressure, half-close, idle timeout, upstream close. */
class RelayTest {
  private static final Logger log = LoggerFactory.getLogger(RelayTest.class);
  private static final long TOTAL = 1L << 30; // 1 GiB
  private static final int BLOCK = 1 << 20;
  /** One direction's bound: the high water mark (512 KiB) plus one read (at most 256 KiB). */
  private static final long BUFFERED_BOUND = 512 * 1024 + 256 * 1024;
  /** A splice pipe's capacity (the kernel's, not conduit's memory). */
  private static final long PIPE = 64 * 1024;

  static ConduitResources resources;
  static Conduit conduit;
  static Conduit idleConduit;
  static Conduit splicedConduit;
  static Conduit splicedIdleConduit;
  static final Net.RecordingObserver observer = new Net.RecordingObserver();
  static final Net.RecordingObserver idleObserver = new Net.RecordingObserver();
  static final Net.RecordingObserver splicedObserver = new Net.RecordingObserver();
  static final Net.RecordingObserver splicedIdleObserver = new Net.RecordingObserver();

  @BeforeAll
  static void start() throws Exception {
    resources = ConduitResources.builder().ioThreads(2).build();
    conduit = Conduit.builder().resources(resources)
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
        .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http()).build())
        .observer(observer)
        .build().start();
    idleConduit = Conduit.builder().resources(resources)
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
        .timeouts(Timeouts.builder().relayIdle(Duration.ofMillis(400)).build())
        .observer(idleObserver)
        .build().start();
    splicedConduit = Conduit.builder().resources(resources).splice(true)
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
        .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http()).build())
        .observer(splicedObserver)
        .build().start();
    splicedIdleConduit = Conduit.builder().resources(resources).splice(true)
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
        .timeouts(Timeouts.builder().relayIdle(Duration.ofMillis(400)).build())
        .observer(splicedIdleObserver)
        .build().start();
  }

  private static Conduit conduit(boolean splice) {
    return splice ? splicedConduit : conduit;
  }

  private static Net.RecordingObserver observer(boolean splice) {
    return splice ? splicedObserver : observer;
  }

  /** Whether every relaying connection of {@code c} is spliced; waits a little for the hand-over. */
  private static void assertSpliced(Conduit c, boolean expected) throws Exception {
    if (!resources.isNativeTransport()) {
      return; // NIO: nothing to splice, the copying relay serves
    }
    Net.await(Duration.ofSeconds(5), "relay " + (expected ? "spliced" : "copying"), () -> {
      for (dev.conduit.core.internal.connection.ConnectionState s : c.engine().connections().values()) {
        if (s.isRelaying() && (s.channel().pipeline().get(dev.conduit.core.ConduitPipeline.RELAY_SPLICE) != null) != expected) {
          return false;
        }
      }
      return true;
    });
  }

  @AfterAll
  static void stop() {
    conduit.close();
    idleConduit.close();
    splicedConduit.close();
    splicedIdleConduit.close();
    resources.close();
  }

  /**
   * 1 GiB through a SOCKS5 or an HTTP CONNECT tunnel to a reader that pauses: intact (CRC-32C), the source stalls
   * while the reader sleeps (what it sent fits in kernel buffers and conduit's), conduit's own count of the bytes it
   * buffers stays within a water mark plus one read, and the event loops allocate far less heap than
   * the bytes they carry (a relay that copied each read into a new heap buffer would allocate the whole gigabyte).
   */
  @ParameterizedTest(name = "{1}, splice {0}")
  @CsvSource({"false, socks5", "true, socks5", "false, connect", "true, connect"})
  void gigabyteToASlowReaderIsIntactAndBounded(boolean splice, String protocol) throws Exception {
    Conduit conduit = conduit(splice);
    Net.RecordingObserver observer = observer(splice);
    byte[] block = new byte[BLOCK];
    new Random(42).nextBytes(block);
    AtomicLong sent = new AtomicLong();
    long[] sentCrc = new long[1];
    try (Net.TcpServer source = new Net.TcpServer(s -> {
      CRC32C crc = new CRC32C();
      OutputStream out = s.getOutputStream();
      for (long i = 0; i < TOTAL / BLOCK; i++) {
        block[0] = (byte) i; // every block differs, so reordering or repeats change the hash
        block[1] = (byte) (i >> 8);
        out.write(block);
        crc.update(block);
        sent.addAndGet(BLOCK);
      }
      sentCrc[0] = crc.getValue();
      s.shutdownOutput();
      s.getInputStream().read();
    })) {
      // earlier tests' summaries may name a destination port this source now reuses
      Net.await(Duration.ofSeconds(5), "earlier tunnels closed", () -> conduit.activeConnections() == 0);
      observer.closed.clear();
      long heapBefore = eventLoopAllocatedBytes();
      boolean connect = protocol.equals("connect");
      try (Socket tunnel = connect ? httpConnect(conduit.address("http"), source.port())
          : socks5Tunnel(conduit.address("socks"), source.port())) {
        assertSpliced(conduit, splice);
        InputStream in = tunnel.getInputStream();
        CRC32C crc = new CRC32C();
        byte[] buf = new byte[256 * 1024];
        long received = 0;
        long maxBuffered = 0;
        // slow phase: read a little, then pause while the source keeps pushing
        for (int pause = 0; pause < 4; pause++) {
          int n = in.read(buf);
          crc.update(buf, 0, n);
          received += n;
          Thread.sleep(400); // the reader is slow: this is its behaviour, not a wait for an event
          // what conduit holds is bounded by its water mark plus one read, however the threads were scheduled
          maxBuffered = Math.max(maxBuffered, Net.bufferedBytes(conduit));
          // back-pressure reached the source: what it got rid of is in kernel buffers or conduit, not lost
          // in an unbounded queue (two TCP connections, plus a splice pipe)
          long inFlight = sent.get() - received;
          assertThat(inFlight).as("bytes sent but not yet received while the reader sleeps")
              .isLessThanOrEqualTo(2 * Net.kernelBytesPerDirection() + BUFFERED_BOUND + PIPE);
        }
        log.info("in flight while paused: {} bytes sent, {} received; conduit held at most {} bytes",
            sent.get(), received, maxBuffered);
        assertThat(maxBuffered).as("bytes conduit buffered while the reader paused").isLessThanOrEqualTo(BUFFERED_BOUND);
        // fast phase
        int n;
        while ((n = in.read(buf)) > 0) {
          crc.update(buf, 0, n);
          received += n;
        }
        assertThat(received).isEqualTo(TOTAL);
        assertThat(crc.getValue()).isEqualTo(sentCrc[0]);
      }
      long heapAllocated = eventLoopAllocatedBytes() - heapBefore;
      log.info("event loops allocated {} bytes of heap while relaying {} bytes", heapAllocated, TOTAL);
      // ~40 MB here, most of it paranoid leak detection's records per buffer; a relay allocating a new
      // heap buffer per read would allocate the whole gigabyte
      assertThat(heapAllocated).as("heap allocated by the event loops for 1 GiB").isLessThan(TOTAL / 8);
      ConnectionSummary s = closedFor(observer, source.port());
      assertThat(s.outcome()).as(s.detail()).isEqualTo(Outcome.OK);
      if (connect) {
        assertThat(s.bytesToClient()).isEqualTo(TOTAL + CONNECT_REPLY.length());
        assertThat(s.bytesFromClient()).isEqualTo(connectRequest(source.port()).length());
      } else {
        assertThat(s.bytesToClient()).isEqualTo(TOTAL + 2 + 10); // plus the SOCKS5 method and connect replies
        assertThat(s.bytesFromClient()).isEqualTo(3 + 10); // the SOCKS5 greeting and connect request
      }
    }
  }

  private static final String CONNECT_REPLY = "HTTP/1.1 200 Connection established\r\n\r\n";

  private static String connectRequest(int port) {
    return "CONNECT 127.0.0.1:" + port + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\n\r\n";
  }

  /** An HTTP CONNECT tunnel; reads exactly conduit's reply head, so the relayed bytes come next. */
  private static Socket httpConnect(java.net.InetSocketAddress proxy, int port) throws IOException {
    Socket s = new Socket(proxy.getAddress(), proxy.getPort());
    s.setSoTimeout(10_000);
    s.getOutputStream().write(connectRequest(port).getBytes(StandardCharsets.US_ASCII));
    byte[] reply = new DataInputStream(s.getInputStream()).readNBytes(CONNECT_REPLY.length());
    assertThat(new String(reply, StandardCharsets.US_ASCII)).isEqualTo(CONNECT_REPLY);
    return s;
  }

  private static Socket socks5Tunnel(java.net.InetSocketAddress proxy, int port) throws IOException {
    Net.Socks5Result r = Net.socks5(proxy, "127.0.0.1", port, null);
    assertThat(r.reply()).isZero();
    return r.socket();
  }

  /** Heap bytes allocated so far by conduit's event-loop threads (HotSpot's per-thread allocation counters). */
  private static long eventLoopAllocatedBytes() {
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
    long total = 0;
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith("conduit-io")) {
        total += Math.max(0, threads.getThreadAllocatedBytes(t.getId()));
      }
    }
    return total;
  }

  static ConnectionSummary closedFor(Net.RecordingObserver observer, int destinationPort) throws InterruptedException {
    while (true) {
      ConnectionSummary s = observer.nextClosed();
      if (s.destination().isPresent() && s.destination().get().port() == destinationPort) {
        return s;
      }
    }
  }

  /** Reads until EOF, then answers with the count: needs the client's half-close carried through. */
  private static Net.TcpServer countingServer() throws Exception {
    return new Net.TcpServer(s -> {
      byte[] all = s.getInputStream().readAllBytes();
      s.getOutputStream().write(("got " + all.length + " bytes").getBytes(StandardCharsets.US_ASCII));
      s.shutdownOutput();
    });
  }

  @ParameterizedTest(name = "splice {0}")
  @ValueSource(booleans = {false, true})
  void halfCloseIsCarriedThroughAndCountedExactly(boolean splice) throws Exception {
    Conduit conduit = conduit(splice);
    byte[] payload = TestOrigin.bytes(300_000);
    try (Net.TcpServer server = countingServer()) {
      Net.await(Duration.ofSeconds(5), "earlier tunnels closed", () -> conduit.activeConnections() == 0);
      observer(splice).closed.clear();
      try (Net.Socks5Result r = Net.socks5(conduit.address("socks"), "127.0.0.1", server.port(), null)) {
        assertThat(r.reply()).isZero();
        assertSpliced(conduit, splice);
        r.socket().getOutputStream().write(payload);
        r.socket().shutdownOutput();
        assertThat(new String(Net.readAll(r.socket()), StandardCharsets.US_ASCII)).isEqualTo("got 300000 bytes");
      }
      ConnectionSummary s = closedFor(observer(splice), server.port());
      assertThat(s.outcome()).as(s.detail()).isEqualTo(Outcome.OK);
      assertThat(s.bytesFromClient()).isEqualTo(3 + 10 + 300_000);
      assertThat(s.bytesToClient()).isEqualTo(2 + 10 + "got 300000 bytes".length());
    }
  }

  /** With splice on, such a tunnel stays with the copying relay, which carries the early EOF. */
  @ParameterizedTest(name = "splice {0}")
  @ValueSource(booleans = {false, true})
  void halfCloseBeforeTheTunnelExistsIsCarriedThrough(boolean splice) throws Exception {
    Conduit conduit = conduit(splice);
    try (Net.TcpServer server = countingServer(); Socket s = new Socket(Net.LOOPBACK, conduit.address("socks").getPort())) {
      s.setSoTimeout(10_000);
      int port = server.port();
      OutputStream out = s.getOutputStream();
      // greeting, CONNECT and payload in one go, then EOF, before any reply
      out.write(new byte[] {5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, (byte) (port >> 8), (byte) port});
      out.write("pipelined".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      s.shutdownOutput();
      DataInputStream in = new DataInputStream(s.getInputStream());
      byte[] replies = new byte[12];
      in.readFully(replies);
      assertThat(replies[1]).isZero();
      assertThat(replies[3]).isZero();
      assertThat(new String(in.readAllBytes(), StandardCharsets.US_ASCII)).isEqualTo("got 9 bytes");
    }
  }

  /**
   * The client half-closes first, then a response far larger than the socket buffers comes back
   * while the client is not reading: conduit must wait for the client's socket to drain after its
   * input ended. (Netty 4.2.13+ removes a socket from epoll once it has no interest left, which
   * happens at the input's end, and then fails with ENOENT when it needs write interest again.)
   */
  @ParameterizedTest(name = "splice {0}")
  @ValueSource(booleans = {false, true})
  void bigResponseAfterTheClientsHalfCloseToASlowReader(boolean splice) throws Exception {
    Conduit conduit = conduit(splice);
    Net.RecordingObserver observer = observer(splice);
    int size = 32 << 20;
    byte[] response = TestOrigin.bytes(size);
    try (Net.TcpServer server = new Net.TcpServer(s -> {
      s.getInputStream().readAllBytes(); // the request, up to the client's EOF
      s.getOutputStream().write(response);
      s.shutdownOutput();
    })) {
      Net.await(Duration.ofSeconds(5), "earlier tunnels closed", () -> conduit.activeConnections() == 0);
      observer.closed.clear();
      for (int round = 0; round < 3; round++) {
        try (Net.Socks5Result r = Net.socks5(conduit.address("socks"), "127.0.0.1", server.port(), null)) {
          assertThat(r.reply()).isZero();
          r.socket().getOutputStream().write("GET".getBytes(StandardCharsets.US_ASCII));
          r.socket().shutdownOutput();
          Thread.sleep(300); // conduit's writes to this client block: the socket buffers are full
          byte[] got = Net.readAll(r.socket());
          assertThat(got.length).as("round " + round).isEqualTo(size);
          assertThat(java.util.Arrays.equals(got, response)).as("round %d: identical bytes", round).isTrue();
        }
        ConnectionSummary s = closedFor(observer, server.port());
        assertThat(s.outcome()).as(s.detail()).isEqualTo(Outcome.OK);
        assertThat(s.bytesToClient()).isEqualTo(size + 2 + 10);
      }
    }
  }

  /**
   * An echo through the tunnel with the client's half-close after a payload larger than the socket
   * buffers: the relay must carry the EOF only after every byte, and keep the other direction open
   * until the echo is complete (the close path used to race the last writes).
   */
  @ParameterizedTest(name = "splice {0}")
  @ValueSource(booleans = {false, true})
  void largePayloadThenHalfCloseEchoesEveryByte(boolean splice) throws Exception {
    Conduit conduit = conduit(splice);
    byte[] payload = TestOrigin.bytes(3 << 20);
    try (Net.TcpServer echo = Net.echo()) {
      for (int round = 0; round < 12; round++) {
        try (Net.Socks5Result r = Net.socks5(conduit.address("socks"), "127.0.0.1", echo.port(), null)) {
          assertThat(r.reply()).isZero();
          Socket s = r.socket();
          Thread writer = new Thread(() -> {
            try {
              s.getOutputStream().write(payload);
              s.shutdownOutput();
            } catch (IOException e) {
              log.warn("writer failed", e);
            }
          });
          writer.start();
          byte[] back = Net.readAll(s);
          writer.join(10_000);
          assertThat(back.length).as("round " + round).isEqualTo(payload.length);
          assertThat(back).as("round " + round).isEqualTo(payload);
        }
      }
    }
  }

  @ParameterizedTest(name = "splice {0}")
  @ValueSource(booleans = {false, true})
  void idleTunnelIsClosed(boolean splice) throws Exception {
    Conduit idleConduit = splice ? splicedIdleConduit : RelayTest.idleConduit;
    Net.RecordingObserver idleObserver = splice ? splicedIdleObserver : RelayTest.idleObserver;
    try (Net.TcpServer echo = Net.echo();
        Net.Socks5Result r = Net.socks5(idleConduit.address("socks"), "127.0.0.1", echo.port(), null)) {
      assertThat(r.reply()).isZero();
      assertSpliced(idleConduit, splice);
      // traffic keeps it open past the idle time
      for (int i = 0; i < 4; i++) {
        r.socket().getOutputStream().write('y');
        assertThat(r.socket().getInputStream().read()).isEqualTo('y');
        Thread.sleep(150);
      }
      r.socket().getOutputStream().write('x');
      assertThat(r.socket().getInputStream().read()).isEqualTo('x');
      long start = System.nanoTime();
      assertThat(r.socket().getInputStream().read()).isEqualTo(-1); // closed by conduit after 400 ms idle
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThan(Duration.ofMillis(300));
    }
    ConnectionSummary s = idleObserver.nextClosed();
    assertThat(s.outcome()).isEqualTo(Outcome.IDLE_TIMEOUT);
    assertThat(s.detail()).isEqualTo("no traffic for 400 ms");
  }

  @ParameterizedTest(name = "splice {0}")
  @ValueSource(booleans = {false, true})
  void upstreamCloseReachesTheClient(boolean splice) throws Exception {
    Conduit conduit = conduit(splice);
    try (Net.TcpServer server = new Net.TcpServer(s -> s.getOutputStream().write("bye".getBytes(StandardCharsets.US_ASCII)));
        Net.Socks5Result r = Net.socks5(conduit.address("socks"), "127.0.0.1", server.port(), null)) {
      assertThat(r.reply()).isZero();
      assertThat(new String(Net.readAll(r.socket()), StandardCharsets.US_ASCII)).isEqualTo("bye");
      r.socket().close();
    }
    Net.await(Duration.ofSeconds(5), "tunnel gone", () -> conduit.activeConnections() == 0);
  }

  /** An upstream reset reaches the client as a reset, not as a FIN it could take for a complete response. */
  @ParameterizedTest(name = "splice {0}")
  @ValueSource(booleans = {false, true})
  void upstreamResetReachesTheClientAsAReset(boolean splice) throws Exception {
    Conduit conduit = conduit(splice);
    try (Net.TcpServer server = new Net.TcpServer(s -> {
      s.getInputStream().read();
      s.getOutputStream().write("partial".getBytes(StandardCharsets.US_ASCII));
      s.setSoLinger(true, 0); // close with RST
    });
        Net.Socks5Result r = Net.socks5(conduit.address("socks"), "127.0.0.1", server.port(), null)) {
      assertThat(r.reply()).isZero();
      assertSpliced(conduit, splice);
      r.socket().getOutputStream().write('x');
      Net.await(Duration.ofSeconds(5), "tunnel gone", () -> conduit.activeConnections() == 0);
      InputStream in = r.socket().getInputStream();
      assertThatThrownBy(() -> {
        while (in.read() >= 0) {
          // what came before the reset
        }
      }).isInstanceOf(SocketException.class).hasMessageContaining("reset");
    }
  }
}
