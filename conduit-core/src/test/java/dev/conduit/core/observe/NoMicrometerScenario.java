package dev.conduit.core.observe;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.Listener;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.testing.TestOrigin;
import java.io.DataInputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Runs a conduit with an access log but no metrics and one SOCKS5 request through it; returns the
 * access log lines. Loaded by {@link WithoutMicrometerTest} in a class loader that has no Micrometer.
 */
public final class NoMicrometerScenario implements Callable<List<String>> {
  @Override
  public List<String> call() throws Exception {
    List<String> lines = new CopyOnWriteArrayList<>();
    CountDownLatch logged = new CountDownLatch(1);
    try (TestOrigin origin = TestOrigin.start();
        ConduitResources resources = ConduitResources.builder().ioThreads(1).preferNativeTransport(false).build()) {
      Conduit conduit = Conduit.builder().resources(resources)
          .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
          .observer(AccessLog.builder().sink(line -> {
            lines.add(line);
            logged.countDown();
          }).build())
          .build().start();
      try (Socket s = new Socket("127.0.0.1", conduit.address("socks").getPort())) {
        s.setSoTimeout(5000);
        OutputStream out = s.getOutputStream();
        DataInputStream in = new DataInputStream(s.getInputStream());
        out.write(new byte[] {5, 1, 0});
        in.readFully(new byte[2]);
        int port = origin.port();
        out.write(new byte[] {5, 1, 0, 1, 127, 0, 0, 1, (byte) (port >> 8), (byte) port});
        in.readFully(new byte[10]);
        out.write("GET /hello HTTP/1.0\r\nHost: origin\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        String response = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        if (!response.endsWith("hello")) {
          throw new AssertionError("unexpected response: " + response);
        }
      }
      // the access line is written when conduit sees the close
      logged.await(5, TimeUnit.SECONDS);
      conduit.close();
    }
    return lines;
  }
}
