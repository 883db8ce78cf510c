package dev.conduit.core.mesh;

import dev.conduit.core.Conduit;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;

/** A SOCKS5 CONNECT to 127.0.0.1:port through a conduit's {@code socks} listener. */
final class TunnelSocks {
  private TunnelSocks() {}

  /** Returns the connected socket (30 s read timeout), or null when conduit answered with a failure. */
  static Socket connect(Conduit via, int port) throws IOException {
    Socket s = new Socket();
    s.connect(via.address("socks"), 10_000);
    s.setSoTimeout(30_000);
    OutputStream out = s.getOutputStream();
    InputStream in = s.getInputStream();
    out.write(new byte[] {5, 1, 0});
    out.write(new byte[] {5, 1, 0, 1, 127, 0, 0, 1, (byte) (port >> 8), (byte) port});
    out.flush();
    byte[] greeting = in.readNBytes(2);
    byte[] reply = in.readNBytes(10);
    if (greeting.length != 2 || greeting[1] != 0 || reply.length != 10 || reply[1] != 0) {
      s.close();
      return null;
    }
    return s;
  }
}
