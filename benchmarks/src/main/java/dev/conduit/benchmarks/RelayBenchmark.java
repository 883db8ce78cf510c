package dev.conduit.benchmarks;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.Listener;
import dev.conduit.core.inbound.InboundProtocols;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Relay throughput through conduit's Netty pipeline on real loopback sockets, in MiB per second
 * ({@code ops/s}, one op = 1 MiB; higher is better).
 *
 * <p>A client thread opens one SOCKS5 tunnel through an embedded {@link Conduit} to a sink thread,
 * then each invocation writes 8 MiB into the tunnel and waits for the sink's one-byte
 * acknowledgement (which comes back through the tunnel), so every byte counted has been relayed.
 * Client and sink use blocking NIO; conduit runs its own event loops (epoll when available), so the
 * figure includes the kernel's loopback cost of both legs, like the e2e bulk scenario.
 *
 * <p>{@code allocator}: {@code direct} is Netty's pooled allocator (direct I/O buffers, the default);
 * {@code heap} makes every read and write buffer a heap buffer (the native transport then copies on
 * write). {@code splice}: {@code on} builds the conduit with {@code splice(true)}, so the tunnel's
 * bytes go socket → pipe → socket with {@code splice(2)} and never enter the JVM (the allocator then
 * only serves the SOCKS5 handshake); {@code off} is the copying relay.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class RelayBenchmark {

  private static final int MIB = 1 << 20;
  private static final int MIB_PER_OP = 8;

  /** Buffers of the relayed channels. */
  @Param({"direct", "heap"})
  public String allocator;

  /** Zero-copy relay; see the class documentation. */
  @Param({"off", "on"})
  public String splice;

  private Conduit conduit;
  private ServerSocketChannel sinkServer;
  private Thread sinkThread;
  private SocketChannel client;
  private final ByteBuffer chunk = ByteBuffer.allocateDirect(MIB);
  private final ByteBuffer ack = ByteBuffer.allocate(1);

  /** Starts conduit and the sink, and opens the tunnel. */
  @Setup
  public void setUp() throws IOException {
    ByteBufAllocator alloc = allocator.equals("heap")
        ? new HeapIoAllocator(ByteBufAllocator.DEFAULT) : ByteBufAllocator.DEFAULT;
    conduit = Conduit.builder()
        .resources(ConduitResources.builder().ioThreads(1).build())
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks())
            // accepted channels take their allocator from this handler, which runs before the acceptor
            .socketCustomizer(server -> server.pipeline().addLast(new ChildAllocator(alloc)))
            .build())
        .outboundSocketCustomizer(ch -> ch.config().setOption(ChannelOption.ALLOCATOR, alloc))
        .splice(splice.equals("on"))
        .build()
        .start();
    sinkServer = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
    sinkThread = new Thread(this::sink, "relay-bench-sink");
    sinkThread.setDaemon(true);
    sinkThread.start();
    client = SocketChannel.open(conduit.address("socks"));
    int sinkPort = ((InetSocketAddress) sinkServer.getLocalAddress()).getPort();
    writeFully(ByteBuffer.wrap(new byte[] {5, 1, 0}));
    readFully(ByteBuffer.allocate(2));
    writeFully(ByteBuffer.wrap(new byte[] {5, 1, 0, 1, 127, 0, 0, 1, (byte) (sinkPort >> 8), (byte) sinkPort}));
    ByteBuffer reply = ByteBuffer.allocate(10);
    readFully(reply);
    if (reply.get(1) != 0) {
      throw new IOException("SOCKS5 connect failed: reply " + reply.get(1));
    }
  }

  /** Sets the allocator of each accepted channel. Stateless; one per server channel. */
  private static final class ChildAllocator extends ChannelInboundHandlerAdapter {
    private final ByteBufAllocator alloc;

    ChildAllocator(ByteBufAllocator alloc) {
      this.alloc = alloc;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ((Channel) msg).config().setAllocator(alloc);
      ctx.fireChannelRead(msg);
    }
  }

  private void sink() {
    try (SocketChannel s = sinkServer.accept()) {
      ByteBuffer buf = ByteBuffer.allocateDirect(256 * 1024);
      long received = 0;
      long perOp = (long) MIB_PER_OP * MIB;
      while (true) {
        buf.clear();
        int n = s.read(buf);
        if (n < 0) {
          return;
        }
        long before = received / perOp;
        received += n;
        for (long i = before; i < received / perOp; i++) {
          ByteBuffer one = ByteBuffer.wrap(new byte[] {1});
          while (one.hasRemaining()) {
            s.write(one);
          }
        }
      }
    } catch (IOException e) {
      // closed by tearDown
    }
  }

  /** Closes the tunnel, the sink and conduit. */
  @TearDown
  public void tearDown() throws Exception {
    client.close();
    sinkServer.close();
    sinkThread.join(5_000);
    conduit.close();
  }

  /** Writes 8 MiB through the tunnel and waits until the sink has all of it. */
  @Benchmark
  @OperationsPerInvocation(MIB_PER_OP)
  public int relay8MiB() throws IOException {
    for (int i = 0; i < MIB_PER_OP; i++) {
      chunk.clear();
      writeFully(chunk);
    }
    ack.clear();
    readFully(ack);
    return ack.get(0);
  }

  private void writeFully(ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      client.write(b);
    }
  }

  private void readFully(ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      if (client.read(b) < 0) {
        throw new UncheckedIOException(new IOException("tunnel closed after " + b.position() + " bytes"));
      }
    }
  }
}
