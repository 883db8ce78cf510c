package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Conduit;
import dev.conduit.core.Listener;
import dev.conduit.core.testing.Processes;
import dev.conduit.mitm.cache.BlobCache;
import dev.conduit.mitm.cache.BlobCacheConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * apt-get through the cache against a Debian repository the test builds (dpkg-deb, apt-ftparchive)
 * and serves with Python's http.server: after the repository publishes a new version at the same
 * index paths, the next {@code apt-get update} and install succeed with the new package's bytes.
 * apt runs with private state, cache and configuration directories (nothing of the host's apt is
 * touched) and downloads only.
 */
class AptRepositoryTest {

  @TempDir
  Path dir;

  @Test
  void aRepositoryThatPublishesAChangeIsSeenByTheNextUpdateAndInstall() throws Exception {
    for (String tool : List.of("apt-get", "apt-ftparchive", "dpkg-deb", "python3", "gzip")) {
      Processes.requireTool(tool);
    }
    Path repo = Files.createDirectories(dir.resolve("repo"));
    Path v1 = publish(repo, "1.0", "first version\n");
    int port = freePort();
    Process origin = new ProcessBuilder("python3", "-m", "http.server", Integer.toString(port), "--bind",
        "127.0.0.1", "-d", repo.toString()).redirectErrorStream(true)
        .redirectOutput(dir.resolve("origin.log").toFile()).start();
    BlobCache cache = BlobCache.open(BlobCacheConfig.builder().root(dir.resolve("cache")).build());
    Conduit conduit = Conduit.builder()
        .listener(Listener.builder("plain").bind("127.0.0.1:0")
            .protocol(MitmProxy.builder().certificateAuthority(Pki.ca("apt test CA")).cache(cache).build()).build())
        .timeouts(CachingProxyTest.NO_DRAIN).build().start();
    try {
      RevalidationTest.awaitTrue(() -> listening(port));
      Path apt = aptDirs(port, conduit.address("plain").getPort());
      run(apt, "update");
      run(apt, "install", "--download-only", "-y", "hello-conduit");
      assertThat(downloaded(apt)).isEqualTo(Files.readAllBytes(v1));
      assertThat(cache.list()).extracting(i -> i.key().value()).anyMatch(k -> k.endsWith("/Packages.gz"));

      Path v2 = publish(repo, "2.0", "second version, with more bytes than the first\n");
      clean(apt);
      run(apt, "update");
      run(apt, "install", "--download-only", "-y", "hello-conduit");
      assertThat(downloaded(apt)).isEqualTo(Files.readAllBytes(v2));
      assertThat(cache.stats().revalidatedModified()).isPositive();
    } finally {
      conduit.close();
      cache.close();
      origin.destroy();
      origin.waitFor(10, TimeUnit.SECONDS);
    }
  }

  /** Builds hello-conduit VERSION into the pool and (re)writes the indexes; returns the .deb. */
  private Path publish(Path repo, String version, String content) throws Exception {
    Path src = dir.resolve("build-" + version);
    Files.createDirectories(src.resolve("DEBIAN"));
    Files.createDirectories(src.resolve("usr/share/hello-conduit"));
    Files.writeString(src.resolve("usr/share/hello-conduit/version"), content);
    Files.writeString(src.resolve("DEBIAN/control"), "Package: hello-conduit\nVersion: " + version
        + "\nArchitecture: all\nMaintainer: conduit tests <tests@conduit.invalid>\nDescription: conduit test package\n");
    Path pool = Files.createDirectories(repo.resolve("pool/main/h/hello-conduit"));
    Path deb = pool.resolve("hello-conduit_" + version + "_all.deb");
    sh(repo, "dpkg-deb", "--root-owner-group", "-Zgzip", "--build", src.toString(), deb.toString());
    Path binary = Files.createDirectories(repo.resolve("dists/stable/main/binary-amd64"));
    // only the newest version is listed, as a mirror that dropped the old one
    Files.writeString(binary.resolve("Packages"), sh(repo, "apt-ftparchive", "packages",
        "pool/main/h/hello-conduit/hello-conduit_" + version + "_all.deb"));
    Files.deleteIfExists(binary.resolve("Packages.gz"));
    sh(repo, "gzip", "-9", "-n", "-k", binary.resolve("Packages").toString());
    Files.writeString(repo.resolve("dists/stable/Release"), sh(repo, "apt-ftparchive",
        "-o", "APT::FTPArchive::Release::Suite=stable", "-o", "APT::FTPArchive::Release::Codename=stable",
        "-o", "APT::FTPArchive::Release::Components=main", "-o", "APT::FTPArchive::Release::Architectures=amd64",
        "release", "dists/stable"));
    // a real publish is seconds apart; http.server's Last-Modified has one-second steps
    FileTime later = FileTime.from(Instant.now().plusSeconds(version.equals("1.0") ? 0 : 10));
    try (Stream<Path> files = Files.walk(repo.resolve("dists"))) {
      for (Path p : (Iterable<Path>) files::iterator) {
        Files.setLastModifiedTime(p, later);
      }
    }
    return deb;
  }

  private Path aptDirs(int originPort, int proxyPort) throws Exception {
    Path apt = Files.createDirectories(dir.resolve("apt"));
    for (String d : List.of("state/lists/partial", "cache/archives/partial", "etc/apt.conf.d",
        "etc/preferences.d", "etc/sources.list.d", "etc/trusted.gpg.d", "log")) {
      Files.createDirectories(apt.resolve(d));
    }
    Files.writeString(apt.resolve("status"), "");
    Files.writeString(apt.resolve("etc/sources.list"),
        "deb [trusted=yes arch=amd64] http://127.0.0.1:" + originPort + "/ stable main\n");
    String conf = String.join("\n",
        "Dir::State \"" + apt.resolve("state") + "\";",
        "Dir::State::status \"" + apt.resolve("status") + "\";",
        "Dir::Cache \"" + apt.resolve("cache") + "\";",
        "Dir::Etc \"" + apt.resolve("etc") + "\";",
        "Dir::Log \"" + apt.resolve("log") + "\";",
        "APT::Architecture \"amd64\";",
        "APT::Architectures { \"amd64\"; };",
        "APT::Sandbox::User \"" + System.getProperty("user.name") + "\";",
        "Acquire::Languages \"none\";",
        "Acquire::http::Proxy \"http://127.0.0.1:" + proxyPort + "\";",
        "Debug::NoLocking \"true\";", "");
    Files.writeString(apt.resolve("apt.conf"), conf);
    return apt;
  }

  private String run(Path apt, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("env", "APT_CONFIG=" + apt.resolve("apt.conf"), "apt-get", "-q"));
    cmd.addAll(List.of(args));
    Processes.Result r = Processes.run(120, cmd);
    assertThat(r.exitCode()).as("apt-get %s: %s%s", String.join(" ", args), r.out(), r.stderr()).isZero();
    assertThat(r.out() + r.stderr()).as("apt-get %s", String.join(" ", args))
        .doesNotContain("unexpected size", "Hash Sum mismatch", "Mirror sync in progress");
    return r.out();
  }

  private byte[] downloaded(Path apt) throws Exception {
    try (Stream<Path> files = Files.list(apt.resolve("cache/archives"))) {
      List<Path> debs = files.filter(p -> p.toString().endsWith(".deb")).toList();
      assertThat(debs).hasSize(1);
      return Files.readAllBytes(debs.get(0));
    }
  }

  private void clean(Path apt) throws Exception {
    try (Stream<Path> files = Files.list(apt.resolve("cache/archives"))) {
      for (Path p : (Iterable<Path>) files::iterator) {
        if (p.toString().endsWith(".deb")) {
          Files.delete(p);
        }
      }
    }
  }

  private static String sh(Path cwd, String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(false).start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("%s: %s", String.join(" ", cmd), err).isZero();
    return new String(out, StandardCharsets.UTF_8);
  }

  private static int freePort() throws Exception {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static boolean listening(int port) {
    try (java.net.Socket probe = new java.net.Socket("127.0.0.1", port)) {
      return true;
    } catch (java.io.IOException e) {
      return false;
    }
  }
}
