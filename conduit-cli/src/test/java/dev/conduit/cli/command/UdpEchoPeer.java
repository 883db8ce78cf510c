package dev.conduit.cli.command;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.util.Arrays;
import java.util.Random;

/**
 * Both ends of a UDP exchange for {@link TproxyUdpSystemTest}, run in a namespace: {@code echo IP PORT} answers
 * every datagram with its bytes and prints {@code READY}, then {@code PEER ip} per sender; {@code send IP PORT
 * SIZE [SOURCE_PORT [TRIES]]} sends random bytes (again until answered, 10 tries by default) and prints {@code
 * OK} when the answer is the same bytes from the address it sent to, {@code TIMEOUT} when none came.
 */
final class UdpEchoPeer {
  private UdpEchoPeer() {}

  public static void main(String[] args) throws Exception {
    InetSocketAddress address = new InetSocketAddress(InetAddress.getByName(args[1]), Integer.parseInt(args[2]));
    if (args[0].equals("echo")) {
      try (DatagramSocket socket = new DatagramSocket(address)) {
        System.out.println("READY");
        System.out.flush();
        byte[] buf = new byte[65535];
        while (true) {
          DatagramPacket p = new DatagramPacket(buf, buf.length);
          socket.receive(p);
          System.out.println("PEER " + p.getAddress().getHostAddress());
          System.out.flush();
          socket.send(new DatagramPacket(p.getData(), p.getLength(), p.getSocketAddress()));
        }
      }
    }
    byte[] payload = new byte[Integer.parseInt(args[3])];
    new Random().nextBytes(payload);
    int sourcePort = args.length > 4 ? Integer.parseInt(args[4]) : 0;
    int tries = args.length > 5 ? Integer.parseInt(args[5]) : 10;
    try (DatagramSocket socket = new DatagramSocket(sourcePort)) {
      socket.setSoTimeout(2000);
      byte[] buf = new byte[65535];
      for (int i = 0; i < tries; i++) {
        socket.send(new DatagramPacket(payload, payload.length, address));
        DatagramPacket p = new DatagramPacket(buf, buf.length);
        try {
          socket.receive(p);
        } catch (SocketTimeoutException e) {
          continue; // lost or not yet relayed: send again
        }
        boolean same = Arrays.equals(payload, Arrays.copyOf(p.getData(), p.getLength()));
        System.out.println(same && p.getSocketAddress().equals(address) ? "OK"
            : "MISMATCH from " + p.getSocketAddress() + " length " + p.getLength());
        return;
      }
      System.out.println("TIMEOUT");
    }
  }
}
