package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.testing.Processes;
import dev.conduit.mitm.cache.BlobCache;
import dev.conduit.mitm.cache.BlobCacheConfig;
import dev.conduit.mitm.cache.CacheKey;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** kill -9 of the proxy in the middle of a cache download leaves no entry and no temp file. */
class CrashTest {
  @TempDir
  Path dir;

  @Test
  void killDashNineMidDownloadLeavesNoCorruptEntry() throws Exception {
    Path cacheDir = dir.resolve("cache");
    try (Origin origin = Origin.http()) {
      String url = "http://127.0.0.1:" + origin.port() + "/big/crash.tar?mib=64&pauseMs=50";
      List<String> cmd = new ArrayList<>(Processes.java());
      cmd.addAll(List.of("-Xmx256m", "-cp", System.getProperty("java.class.path"),
          CrashChild.class.getName(), cacheDir.toString()));
      Process child = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      try {
        BufferedReader lines = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
        int port = -1;
        for (String line; port < 0 && (line = lines.readLine()) != null; ) {
          if (line.startsWith("PORT ")) {
            port = Integer.parseInt(line.substring(5).trim());
          }
        }
        assertThat(port).as("the child proxy's port").isPositive();
        try (Socket s = new Socket("127.0.0.1", port)) {
          s.setSoTimeout(20_000);
          OutputStream out = s.getOutputStream();
          out.write(("GET " + url + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
          out.flush();
          InputStream in = s.getInputStream();
          byte[] buf = new byte[64 * 1024];
          long read = 0;
          while (read < (4 << 20)) {
            int n = in.read(buf);
            assertThat(n).isPositive();
            read += n;
          }
          // mid-download: bytes are in the temp file, nothing is committed
          try (Stream<Path> files = Files.walk(cacheDir)) {
            assertThat(files.anyMatch(p -> p.toString().endsWith(".tmp"))).isTrue();
          }
          child.destroyForcibly(); // SIGKILL on Linux
          assertThat(child.waitFor(20, TimeUnit.SECONDS)).isTrue();
        }
      } finally {
        child.destroyForcibly();
      }
      try (BlobCache cache = BlobCache.open(BlobCacheConfig.builder().root(cacheDir).build())) {
        assertThat(cache.list()).isEmpty();
        assertThat(cache.lookup(CacheKey.of(URI.create(url)))).isEmpty();
        try (Stream<Path> files = Files.walk(cacheDir)) {
          List<String> left = files.filter(Files::isRegularFile).map(p -> p.getFileName().toString())
              .filter(n -> !n.startsWith(".")).toList();
          assertThat(left).as("no body, metadata or temp file survives").isEmpty();
        }
      }
    }
  }
}
