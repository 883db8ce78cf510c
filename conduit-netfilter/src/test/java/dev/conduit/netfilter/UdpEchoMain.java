package dev.conduit.netfilter;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A UDP echo server for system tests, run in a child JVM inside a network namespace on {@code
 * [::]:<port>}, or on {@code <port> <ip>...} (each reply then leaves from the address it was sent to, as
 * a connected peer on a host with several addresses expects): answers each datagram with its exact
 * bytes, prints {@code READY}, then {@code PEER <ip>} for the first 100 datagrams (who sent it: conduit,
 * or the client when nothing captured).
 */
public final class UdpEchoMain {

  private UdpEchoMain() {}

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    List<DatagramSocket> sockets = new ArrayList<>();
    if (args.length == 1) {
      sockets.add(new DatagramSocket(new InetSocketAddress(port)));
    }
    for (int i = 1; i < args.length; i++) {
      sockets.add(new DatagramSocket(new InetSocketAddress(InetAddress.getByName(args[i]), port)));
    }
    AtomicInteger printed = new AtomicInteger();
    List<Thread> threads = new ArrayList<>();
    for (DatagramSocket socket : sockets) {
      Thread t = new Thread(() -> echo(socket, printed), "echo-" + socket.getLocalSocketAddress());
      t.start();
      threads.add(t);
    }
    System.out.println("READY");
    System.out.flush();
    for (Thread t : threads) {
      t.join();
    }
  }

  private static void echo(DatagramSocket socket, AtomicInteger printed) {
    byte[] buf = new byte[65536];
    try (socket) {
      while (true) {
        DatagramPacket p = new DatagramPacket(buf, buf.length);
        socket.receive(p);
        socket.send(new DatagramPacket(p.getData(), p.getLength(), p.getSocketAddress()));
        if (printed.getAndIncrement() < 100) {
          synchronized (System.out) {
            System.out.println("PEER " + p.getAddress().getHostAddress().replaceFirst("^::ffff:", ""));
            System.out.flush();
          }
        }
      }
    } catch (java.io.IOException e) {
      System.out.println("ECHO FAILED " + e);
    }
  }
}
