package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitBuilder;
import dev.conduit.core.Timeouts;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.testing.Processes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Seed 004's set-up: CA in cert_dir, cache in file_dir, plain and HTTPS proxy listeners. */
class MitmServerTest {
  @TempDir
  Path dir;

  @Test
  void seed004FullyEncryptedPullIsCachedAcrossRestarts() throws Exception {
    Processes.requireTool("curl");
    CertificateAuthority originCa = Pki.ca("test origin CA");
    try (Origin origin = Origin.https(Pki.server(originCa, "localhost"))) {
      String path = "/files/seed.txz";
      String url = "https://localhost:" + origin.port() + path + "?n=100000";
      byte[] expected = Origin.data(path, 100_000);
      for (int start = 0; start < 2; start++) {
        try (MitmServer server = MitmServer.builder()
            .certDir(dir.resolve("certs")).fileDir(dir.resolve("files"))
            .bind("127.0.0.1:0").bindTls("127.0.0.1:0")
            .intercept("*.localhost").intercept("localhost")
            .trustUpstreamCa(originCa.certificate())
            .build()) {
          ConduitBuilder b = Conduit.builder().timeouts(Timeouts.builder().drain(Duration.ZERO).build());
          server.listeners().forEach(b::listener);
          try (Conduit conduit = b.build().start()) {
            String caCrt = dir.resolve("certs/ca.crt").toString();
            Path out = dir.resolve("out-" + start);
            Processes.Result r = Processes.run(30, List.of("curl", "-sS", "--max-time", "20", "-D", "-",
                "--proxy-cacert", caCrt, "-x", "https://127.0.0.1:" + conduit.address("tls").getPort(),
                "--cacert", caCrt, "-o", out.toString(), url));
            assertThat(r.exitCode()).as(r.stderr()).isZero();
            assertThat(r.out()).contains("X-Cache: " + (start == 0 ? "MISS" : "HIT"));
            assertThat(Arrays.equals(Files.readAllBytes(out), expected)).isTrue();
          }
        }
      }
      assertThat(origin.requests(path)).isEqualTo(1);
      assertThat(dir.resolve("certs/ca.p12")).exists();
    }
  }
}
