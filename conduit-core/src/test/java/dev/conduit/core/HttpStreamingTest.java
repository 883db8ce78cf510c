package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.testing.TestOrigin;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTP bodies of the forwarding proxy are streamed, never buffered whole: each side sends part of a
 * body and waits until the other side has seen it before sending the rest, so a proxy that held a
 * body back until its end would deadlock (and these tests would fail on their bounded waits).
 */
class HttpStreamingTest {
  private static final Logger log = LoggerFactory.getLogger(HttpStreamingTest.class);
  private static final long WAIT_SECONDS = 10;
  private static final byte[] WHOLE = TestOrigin.bytes(1_000 + (3 << 20));
  private static final byte[] FIRST = Arrays.copyOfRange(WHOLE, 0, 1_000);
  private static final byte[] REST = Arrays.copyOfRange(WHOLE, 1_000, WHOLE.length);
  private static final long LARGE = 256L << 20;
  private static final int BLOCK = 1 << 20;

  /** How a body is delimited on the wire. */
  enum Framing { CHUNKED, CONTENT_LENGTH }

  static Conduit conduit;

  @BeforeAll
  static void start() throws IOException {
    conduit = Conduit.builder()
        .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http()).build())
        .build().start();
  }

  @AfterAll
  static void stop() {
    conduit.close();
  }

  /**
   * The origin sees the first 1000 bytes of a request body while the client still holds the rest
   * back (chunked and Content-Length), and then receives the whole body exactly.
   */
  @ParameterizedTest
  @EnumSource(Framing.class)
  void requestBodyReachesTheOriginBeforeItEnds(Framing framing) throws Exception {
    CompletableFuture<Void> sawFirst = new CompletableFuture<>();
    CompletableFuture<byte[]> body = new CompletableFuture<>();
    try (Origin origin = new Origin(s -> {
      InputStream in = new BufferedInputStream(s.getInputStream());
      String head = readHead(in);
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      BodySink sink = (b, off, len) -> {
        got.write(b, off, len);
        if (!sawFirst.isDone() && got.size() >= FIRST.length) {
          sawFirst.complete(null);
        }
      };
      if (framing == Framing.CHUNKED) {
        assertThat(header(head, "transfer-encoding")).isEqualToIgnoringCase("chunked");
        readChunked(in, sink);
      } else {
        assertThat(header(head, "transfer-encoding")).isNull();
        readFixed(in, Long.parseLong(header(head, "content-length")), sink);
      }
      body.complete(got.toByteArray());
      s.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
    });
        Socket client = connect()) {
      OutputStream out = client.getOutputStream();
      String framingHeader = framing == Framing.CHUNKED ? "Transfer-Encoding: chunked"
          : "Content-Length: " + (FIRST.length + REST.length);
      out.write(("POST http://127.0.0.1:" + origin.port() + "/upload HTTP/1.1\r\n"
          + "Host: 127.0.0.1:" + origin.port() + "\r\n" + framingHeader + "\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      writePart(out, FIRST, framing);
      out.flush();
      origin.await(sawFirst, "the origin to see the first " + FIRST.length + " bytes of the request body while the client"
          + " holds the rest back (a proxy that buffers whole bodies never forwards them)");
      writePart(out, REST, framing);
      if (framing == Framing.CHUNKED) {
        out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      }
      out.flush();
      InputStream in = new BufferedInputStream(client.getInputStream());
      String head = readHead(in);
      assertThat(head).startsWith("HTTP/1.1 200");
      ByteArrayOutputStream reply = new ByteArrayOutputStream();
      readFixed(in, Long.parseLong(header(head, "content-length")), reply::write);
      assertThat(reply.toString(StandardCharsets.US_ASCII)).isEqualTo("ok");
      assertThat(origin.await(body, "the origin to read the whole body")).isEqualTo(WHOLE);
      origin.awaitDone();
    }
  }

  /**
   * The client reads the first 1000 bytes of a response body while the origin still holds the rest
   * back (chunked and Content-Length), and then receives the whole body exactly.
   */
  @ParameterizedTest
  @EnumSource(Framing.class)
  void responseBodyReachesTheClientBeforeItEnds(Framing framing) throws Exception {
    CompletableFuture<Void> clientSawFirst = new CompletableFuture<>();
    try (Origin origin = new Origin(s -> {
      InputStream in = new BufferedInputStream(s.getInputStream());
      assertThat(readHead(in)).startsWith("GET /download HTTP/1.1");
      OutputStream out = s.getOutputStream();
      String framingHeader = framing == Framing.CHUNKED ? "Transfer-Encoding: chunked"
          : "Content-Length: " + (FIRST.length + REST.length);
      out.write(("HTTP/1.1 200 OK\r\n" + framingHeader + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      writePart(out, FIRST, framing);
      out.flush();
      await(clientSawFirst, "the client to read the first part of the response");
      writePart(out, REST, framing);
      if (framing == Framing.CHUNKED) {
        out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      }
      out.flush();
      // keep the connection until the client has read everything: the origin's close is not the end
      in.read();
    });
        Socket client = connect()) {
      client.getOutputStream().write(("GET http://127.0.0.1:" + origin.port() + "/download HTTP/1.1\r\n"
          + "Host: 127.0.0.1:" + origin.port() + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      client.getOutputStream().flush();
      InputStream in = new BufferedInputStream(client.getInputStream());
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      BodySink sink = (b, off, len) -> {
        got.write(b, off, len);
        if (!clientSawFirst.isDone() && got.size() >= FIRST.length) {
          clientSawFirst.complete(null);
        }
      };
      try {
        String head = readHead(in);
        assertThat(head).startsWith("HTTP/1.1 200");
        if (framing == Framing.CHUNKED) {
          assertThat(header(head, "transfer-encoding")).isEqualToIgnoringCase("chunked");
          readChunked(in, sink);
        } else {
          assertThat(header(head, "content-length")).isEqualTo(String.valueOf(FIRST.length + REST.length));
          readFixed(in, FIRST.length + REST.length, sink);
        }
      } catch (SocketTimeoutException e) {
        fail("the client read " + got.size() + " bytes of the response body in " + WAIT_SECONDS
            + " s while the origin waits for it to see the first " + FIRST.length
            + " (a proxy that buffers whole bodies never forwards them)", e);
      }
      assertThat(got.toByteArray()).isEqualTo(WHOLE);
      client.shutdownOutput();
      origin.awaitDone();
    }
  }

  /**
   * A 256 MiB response to a client that stops reading: the origin is stalled by back-pressure long
   * before the end, conduit's direct memory stays within a few MiB meanwhile, and the client then
   * reads the whole body intact.
   */
  @ParameterizedTest
  @EnumSource(Framing.class)
  void largeResponseToAStalledReaderStaysBounded(Framing framing) throws Exception {
    AtomicLong sent = new AtomicLong();
    CompletableFuture<Long> sentCrc = new CompletableFuture<>();
    try (Origin origin = new Origin(s -> {
      InputStream in = new BufferedInputStream(s.getInputStream());
      readHead(in);
      OutputStream out = s.getOutputStream();
      String framingHeader = framing == Framing.CHUNKED ? "Transfer-Encoding: chunked" : "Content-Length: " + LARGE;
      out.write(("HTTP/1.1 200 OK\r\n" + framingHeader + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      byte[] block = Arrays.copyOf(REST, BLOCK);
      CRC32C crc = new CRC32C();
      for (long i = 0; i < LARGE / BLOCK; i++) {
        block[0] = (byte) i; // every block differs, so reordering or repeats change the checksum
        block[1] = (byte) (i >> 8);
        writePart(out, block, framing);
        crc.update(block);
        sent.addAndGet(BLOCK);
      }
      if (framing == Framing.CHUNKED) {
        out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      }
      out.flush();
      sentCrc.complete(crc.getValue());
      in.read();
    });
        Socket client = connect()) {
      client.setReceiveBufferSize(64 * 1024);
      client.getOutputStream().write(("GET http://127.0.0.1:" + origin.port() + "/large HTTP/1.1\r\n"
          + "Host: 127.0.0.1:" + origin.port() + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      client.getOutputStream().flush();
      InputStream in = new BufferedInputStream(client.getInputStream(), 64 * 1024);
      String head = readHead(in);
      assertThat(head).startsWith("HTTP/1.1 200");
      // the client stops reading; wait (bounded) until the origin's progress stops too
      long maxGrowth = 0;
      long last = -1;
      int still = 0;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
      while (still < 5 && System.nanoTime() < deadline && sent.get() < LARGE) {
        Thread.sleep(100);
        long now = sent.get();
        still = now == last ? still + 1 : 0;
        last = now;
        maxGrowth = Math.max(maxGrowth, Net.bufferedBytes(conduit));
      }
      log.info("stalled reader: origin sent {} of {} bytes; conduit buffered at most {} bytes",
          sent.get(), LARGE, maxGrowth);
      assertThat(still).as("origin stalled by back-pressure (sent %d of %d bytes)", sent.get(), LARGE).isEqualTo(5);
      assertThat(sent.get()).as("bytes the origin got rid of while the client reads nothing").isLessThan(64L << 20);
      // conduit's own count, not the process's direct memory (chunk-sized, shared with every other thread): the
      // water mark plus one read and one decoded chunk, whatever the scheduling
      assertThat(maxGrowth).as("bytes conduit buffered while the client reads nothing").isLessThanOrEqualTo(1L << 20);
      // now read everything
      CRC32C crc = new CRC32C();
      long[] received = new long[1];
      BodySink sink = (b, off, len) -> {
        crc.update(b, off, len);
        received[0] += len;
      };
      if (framing == Framing.CHUNKED) {
        readChunked(in, sink);
      } else {
        assertThat(header(head, "content-length")).isEqualTo(String.valueOf(LARGE));
        readFixed(in, LARGE, sink);
      }
      assertThat(received[0]).isEqualTo(LARGE);
      assertThat(crc.getValue()).isEqualTo(origin.await(sentCrc, "the origin to finish"));
      client.shutdownOutput();
      origin.awaitDone();
    }
  }

  // ------------------------------------------------------------------ helpers

  private static Socket connect() throws IOException {
    Socket s = new Socket(InetAddress.getLoopbackAddress(), conduit.address("http").getPort());
    s.setSoTimeout((int) TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
    return s;
  }

  private static <T> T await(CompletableFuture<T> f, String what) throws Exception {
    try {
      return f.get(WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      throw new AssertionError("gave up after " + WAIT_SECONDS + " s waiting for " + what, e);
    }
  }

  private static void writePart(OutputStream out, byte[] part, Framing framing) throws IOException {
    if (framing == Framing.CHUNKED) {
      out.write((Integer.toHexString(part.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
      out.write(part);
      out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
    } else {
      out.write(part);
    }
  }

  /** Receives body bytes as they are decoded. */
  @FunctionalInterface
  interface BodySink {
    void accept(byte[] b, int off, int len) throws IOException;
  }

  /** Reads up to and including the empty line that ends a message head. */
  private static String readHead(InputStream in) throws IOException {
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int c = in.read();
      if (c < 0) {
        throw new EOFException("end of stream in a message head: " + head);
      }
      head.append((char) c);
      if (head.length() > 64 * 1024) {
        throw new IOException("message head too long");
      }
    }
    return head.toString();
  }

  /** The value of the first field named {@code name} (lower case), or null. */
  private static String header(String head, String name) {
    for (String line : head.split("\r\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).trim().toLowerCase(Locale.ROOT).equals(name)) {
        return line.substring(colon + 1).trim();
      }
    }
    return null;
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder line = new StringBuilder();
    while (true) {
      int c = in.read();
      if (c < 0) {
        throw new EOFException("end of stream in a line: " + line);
      }
      if (c == '\n') {
        return line.toString().strip();
      }
      line.append((char) c);
      if (line.length() > 8 * 1024) {
        throw new IOException("line too long");
      }
    }
  }

  private static void readFixed(InputStream in, long length, BodySink sink) throws IOException {
    byte[] buf = new byte[64 * 1024];
    long left = length;
    while (left > 0) {
      int n = in.read(buf, 0, (int) Math.min(buf.length, left));
      if (n < 0) {
        throw new EOFException(left + " bytes of the body missing");
      }
      sink.accept(buf, 0, n);
      left -= n;
    }
  }

  /** Decodes a chunked body (any chunk sizes: the proxy may re-chunk), trailers skipped. */
  private static void readChunked(InputStream in, BodySink sink) throws IOException {
    while (true) {
      String sizeLine = readLine(in);
      int semi = sizeLine.indexOf(';');
      long size = Long.parseLong(semi < 0 ? sizeLine : sizeLine.substring(0, semi).trim(), 16);
      if (size == 0) {
        while (!readLine(in).isEmpty()) {
          // trailer field
        }
        return;
      }
      readFixed(in, size, sink);
      if (!readLine(in).isEmpty()) {
        throw new IOException("chunk not followed by CRLF");
      }
    }
  }

  /** What the origin does with its one connection. */
  @FunctionalInterface
  interface Exchange {
    void serve(Socket s) throws Exception;
  }

  /** A hand-written origin on loopback: one thread, one connection, bounded waits. */
  static final class Origin implements AutoCloseable {
    private final ServerSocket server;
    private final CompletableFuture<Void> done = new CompletableFuture<>();
    private final Thread thread;
    private volatile Socket accepted;

    Origin(Exchange exchange) throws IOException {
      server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress());
      server.setSoTimeout((int) TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
      thread = new Thread(() -> {
        try (Socket s = server.accept()) {
          accepted = s;
          s.setSoTimeout((int) TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
          exchange.serve(s);
          done.complete(null);
        } catch (Throwable t) {
          done.completeExceptionally(t);
        }
      }, "origin");
      thread.setDaemon(true);
      thread.start();
    }

    int port() {
      return server.getLocalPort();
    }

    /** Waits for {@code f}, failing early with the origin's own failure if it has one. */
    <T> T await(CompletableFuture<T> f, String what) throws Exception {
      try {
        CompletableFuture.anyOf(f, done).get(WAIT_SECONDS, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        // the origin failed: reported below
      } catch (TimeoutException e) {
        throw new AssertionError("gave up after " + WAIT_SECONDS + " s waiting for " + what, e);
      }
      if (!f.isDone()) {
        awaitDone();
        throw new AssertionError("the origin finished without " + what);
      }
      return f.get();
    }

    /** Rethrows what went wrong on the origin's side. */
    void awaitDone() throws Exception {
      try {
        done.get(WAIT_SECONDS, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        if (e.getCause() instanceof Error err) {
          throw err;
        }
        throw new AssertionError("origin failed", e.getCause());
      } catch (TimeoutException e) {
        throw new AssertionError("origin still busy after " + WAIT_SECONDS + " s", e);
      }
    }

    @Override
    public void close() throws Exception {
      server.close();
      Socket s = accepted;
      if (s != null) {
        s.close();
      }
      thread.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
    }
  }
}
