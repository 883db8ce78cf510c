package dev.conduit.netfilter;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;

/**
 * A UDP echo server for system tests, run in a child JVM inside a network namespace on {@code
 * [::]:<port>}: answers each datagram with its exact bytes, prints {@code READY}, then {@code PEER
 * <ip>} for the first 100 datagrams (who sent it: conduit, or the client when nothing captured).
 */
public final class UdpEchoMain {

  private UdpEchoMain() {}

  public static void main(String[] args) throws Exception {
    try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(Integer.parseInt(args[0])))) {
      System.out.println("READY");
      System.out.flush();
      byte[] buf = new byte[65536];
      for (int n = 0; ; n++) {
        DatagramPacket p = new DatagramPacket(buf, buf.length);
        socket.receive(p);
        socket.send(new DatagramPacket(p.getData(), p.getLength(), p.getSocketAddress()));
        if (n < 100) {
          System.out.println("PEER " + p.getAddress().getHostAddress().replaceFirst("^::ffff:", ""));
          System.out.flush();
        }
      }
    }
  }
}
