package dev.conduit.cli.command;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.Random;

/**
 * Both ends of a TCP exchange for {@link MeshSystemTest}, run in a namespace: {@code echo PORT} listens on
 * {@code [::]:PORT} (IPv4 and IPv6), prints {@code READY}, then {@code PEER ip} for each connection and echoes its
 * bytes until the client half-closes; {@code send IP PORT SIZE} sends SIZE random bytes, half-closes, reads the
 * answer to the end and prints {@code OK} when it is the same bytes (else {@code MISMATCH} or the error);
 * {@code hold} and {@code stream} keep one connection open (see theirs).
 */
final class TcpEchoPeer {
  private TcpEchoPeer() {}

  public static void main(String[] args) throws Exception {
    if (args[0].equals("echo")) {
      try (ServerSocket server = new ServerSocket()) {
        server.bind(new InetSocketAddress(InetAddress.getByName("::"), Integer.parseInt(args[1])));
        System.out.println("READY");
        System.out.flush();
        while (true) {
          Socket s = server.accept();
          System.out.println("PEER " + s.getInetAddress().getHostAddress());
          System.out.flush();
          Thread t = new Thread(() -> echo(s));
          t.setDaemon(true);
          t.start();
        }
      }
    }
    if (args[0].equals("hold")) {
      hold(args[1], Integer.parseInt(args[2]));
      return;
    }
    if (args[0].equals("stream")) {
      stream(args[1], Integer.parseInt(args[2]), Long.parseLong(args[3]));
      return;
    }
    byte[] sent = new byte[Integer.parseInt(args[3])];
    new Random().nextBytes(sent);
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(InetAddress.getByName(args[1]), Integer.parseInt(args[2])), 20_000);
      s.setSoTimeout(60_000);
      Thread writer = new Thread(() -> {
        try {
          OutputStream out = s.getOutputStream();
          out.write(sent);
          out.flush();
          s.shutdownOutput();
        } catch (java.io.IOException e) {
          System.out.println("WRITE FAILED " + e);
        }
      });
      writer.start();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      s.getInputStream().transferTo(got);
      writer.join();
      System.out.println(Arrays.equals(sent, got.toByteArray()) ? "OK" : "MISMATCH " + got.size() + " of "
          + sent.length);
    } catch (java.io.IOException e) {
      System.out.println("FAILED " + e);
    }
  }

  /**
   * {@code hold IP PORT}: exchanges one line, prints {@code HELD}, then waits (up to 5 minutes) for the connection
   * to end and prints {@code CLOSED} (or {@code FAILED} when the first exchange fails).
   */
  private static void hold(String ip, int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(InetAddress.getByName(ip), port), 20_000);
      s.setSoTimeout(300_000);
      s.getOutputStream().write("ping\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      byte[] back = s.getInputStream().readNBytes(5);
      if (!new String(back, java.nio.charset.StandardCharsets.US_ASCII).equals("ping\n")) {
        System.out.println("FAILED no echo");
        return;
      }
      System.out.println("HELD");
      System.out.flush();
      try {
        while (s.getInputStream().read() >= 0) {
          // nothing more is sent: any byte would be a surprise, the end is what this waits for
        }
      } catch (java.net.SocketException reset) {
        // a reset ends it too
      }
      System.out.println("CLOSED");
    } catch (java.io.IOException e) {
      System.out.println("FAILED " + e);
    }
  }

  /**
   * {@code stream IP PORT MIN}: one connection, printing {@code STREAMING} once connected, then 32 KiB pseudo-random
   * chunks sent and each read back and compared, until a line {@code DONE} arrives on standard input and at least
   * MIN bytes went through; then it half-closes, expects a clean end of stream and prints {@code OK <bytes>} (else
   * {@code MISMATCH} or {@code FAILED} with the bytes so far and the error: a reset is a failure).
   */
  private static void stream(String ip, int port, long min) {
    java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
    Thread stdin = new Thread(() -> {
      try (java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(System.in,
          java.nio.charset.StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          if (line.equals("DONE")) {
            done.countDown();
          }
        }
      } catch (java.io.IOException e) {
        // the test went away: the process is stopped next
      }
    }, "stdin");
    stdin.setDaemon(true);
    stdin.start();
    long total = 0;
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(InetAddress.getByName(ip), port), 20_000);
      s.setSoTimeout(120_000);
      System.out.println("STREAMING");
      System.out.flush();
      OutputStream out = s.getOutputStream();
      InputStream in = s.getInputStream();
      Random content = new Random(15);
      byte[] sent = new byte[32 * 1024];
      while (total < min || done.getCount() > 0) {
        content.nextBytes(sent);
        out.write(sent);
        out.flush();
        byte[] back = in.readNBytes(sent.length);
        if (!Arrays.equals(sent, back)) {
          System.out.println("MISMATCH after " + total + " bytes (" + back.length + " read back)");
          return;
        }
        total += sent.length;
        // paces the sender (a chunk at a time, slowly) and wakes at once when the test says it is done
        done.await(50, java.util.concurrent.TimeUnit.MILLISECONDS);
      }
      s.shutdownOutput();
      int end = in.read();
      System.out.println(end == -1 ? "OK " + total : "FAILED after " + total + ": a byte after the echo");
    } catch (java.io.IOException e) {
      System.out.println("FAILED after " + total + ": " + e);
    } catch (InterruptedException e) {
      System.out.println("FAILED after " + total + ": interrupted");
    }
  }

  private static void echo(Socket s) {
    try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
      in.transferTo(out);
      out.flush();
      s.shutdownOutput();
    } catch (java.io.IOException e) {
      // the client went away
    }
  }
}
