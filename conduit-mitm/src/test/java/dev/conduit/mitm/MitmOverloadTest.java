package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.Listener;
import dev.conduit.core.Timeouts;
import dev.conduit.core.observe.ConnectionObserver;
import dev.conduit.core.overload.OverloadLevel;
import dev.conduit.core.overload.OverloadPolicy;
import dev.conduit.core.overload.OverloadStatus;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.testing.Processes;
import java.io.File;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The MITM proxy under conduit's overload manager, with curl: while conduit refuses new work, a plain
 * {@code http://} request gets the same busy reply as an intercepted {@code CONNECT} (503, {@code Retry-After},
 * {@code Proxy-Status}), even when an idle upstream from before could serve it; once the load is gone it is
 * served again.
 */
class MitmOverloadTest {
  @TempDir
  Path dir;

  @Test
  void whileOverloadedPlainRequestsGetTheBusyReplyThenAreServedAgain() throws Exception {
    Processes.requireTool("curl");
    CertificateAuthority mitmCa = Pki.ca("overload test MITM CA");
    Path caFile = dir.resolve("mitm.crt");
    mitmCa.writeTo(caFile, dir.resolve("mitm.key"));
    BlockingQueue<OverloadStatus> readings = new LinkedBlockingQueue<>();
    MitmProxy proxy = MitmProxy.builder().certificateAuthority(mitmCa).interceptHost("localhost").build();
    // one event loop: the upstream the first request leaves in the pool is the one the next request would reuse
    try (ConduitResources resources = ConduitResources.builder().ioThreads(1).build();
        Origin origin = Origin.http();
        Conduit conduit = Conduit.builder().resources(resources)
            .listener(Listener.builder("plain").bind("127.0.0.1:0").protocol(proxy).build())
            // the descriptors open now plus room for the listener, curl and a few idle clients, not forty more
            .overload(OverloadPolicy.builder().fileBudget(openFiles() + 60).checkInterval(Duration.ofMillis(50))
                .build())
            .timeouts(Timeouts.builder().drain(Duration.ZERO).build())
            .observer(new ConnectionObserver() {
              @Override
              public void overload(OverloadStatus status) {
                readings.add(status);
              }
            })
            .build().start()) {
      InetSocketAddress address = conduit.address("plain");
      String proxyUrl = "http://127.0.0.1:" + address.getPort();
      String plain = "http://127.0.0.1:" + origin.port() + "/hello";
      awaitReading(readings, "a first reading", s -> s.openFiles() > 0);
      assertThat(curl("-i", "-x", proxyUrl, plain).out()).startsWith("HTTP/1.1 200").endsWith("hello");

      List<Socket> idle = new ArrayList<>();
      try {
        // idle clients (both ends in this process: two descriptors each) push conduit past its budget
        for (int i = 0; i < 40; i++) {
          idle.add(new Socket(address.getAddress(), address.getPort()));
        }
        awaitReading(readings, "refusing", s -> s.level().refusesNewWork());
        Processes.Result busy = curl("-i", "-x", proxyUrl, plain);
        assertThat(busy.out()).startsWith("HTTP/1.1 503")
            .containsIgnoringCase("retry-after: 5")
            .containsIgnoringCase("proxy-status: conduit; error=proxy_internal_response; details=\"conduit is overloaded\"")
            .contains("conduit is overloaded");
        Processes.Result intercepted = curl("-i", "--cacert", caFile.toString(), "-x", proxyUrl,
            "https://localhost:" + origin.port() + "/hello");
        assertThat(intercepted.exitCode()).as("no tunnel while overloaded").isNotZero();
        assertThat(intercepted.stderr()).contains("503");
      } finally {
        for (Socket s : idle) {
          s.close();
        }
      }
      awaitReading(readings, "normal again", s -> s.level() == OverloadLevel.NORMAL);
      assertThat(curl("-i", "-x", proxyUrl, plain).out()).startsWith("HTTP/1.1 200").endsWith("hello");
      assertThat(origin.seen("/hello")).as("the refused request never reached the origin").hasSize(2);
    }
  }

  private static Processes.Result curl(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "20"));
    cmd.addAll(List.of(args));
    return Processes.run(30, cmd);
  }

  /** Waits for the overload manager's next reading that matches (it reports one every check). */
  private static void awaitReading(BlockingQueue<OverloadStatus> readings, String what, Predicate<OverloadStatus> test)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    for (long left; (left = deadline - System.nanoTime()) > 0; ) {
      OverloadStatus s = readings.poll(left, TimeUnit.NANOSECONDS);
      if (s != null && test.test(s)) {
        return;
      }
    }
    throw new AssertionError("no overload reading " + what + " within 30 s");
  }

  private static long openFiles() {
    return new File("/proc/self/fd").list().length;
  }
}
