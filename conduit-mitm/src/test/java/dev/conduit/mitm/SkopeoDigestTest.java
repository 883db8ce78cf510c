package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conduit.core.Conduit;
import dev.conduit.core.Listener;
import dev.conduit.core.Timeouts;
import dev.conduit.core.testing.Processes;
import dev.conduit.mitm.cache.BlobCache;
import dev.conduit.mitm.cache.BlobCacheConfig;
import dev.conduit.mitm.cache.CacheKey;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * skopeo (Go's HTTP client) pulls through conduit from a fake OCI registry in a network namespace
 * the test makes (Go never proxies loopback hosts): a layer whose bytes do not match its digest
 * makes the copy fail and is not cached; a matching layer copies and is cached.
 */
class SkopeoDigestTest {
  @TempDir
  static Path dir;
  static String netns;
  static String registry;
  static Process registryProcess;
  static BlobCache cache;
  static Conduit conduit;

  @BeforeAll
  static void start() throws Exception {
    requireRootAnd("ip", "skopeo", "python3");
    ThreadLocalRandom random = ThreadLocalRandom.current();
    String id = Integer.toHexString(random.nextInt(1 << 24));
    netns = "cdm-" + id;
    String subnet = "198.18." + random.nextInt(256) + ".";
    int base = random.nextInt(64) * 4;
    String hostAddress = subnet + (base + 1);
    String nsAddress = subnet + (base + 2);
    sh("ip", "netns", "add", netns);
    sh("ip", "link", "add", "cdmh" + id, "type", "veth", "peer", "name", "cdmn" + id);
    sh("ip", "link", "set", "cdmn" + id, "netns", netns);
    sh("ip", "addr", "add", hostAddress + "/30", "dev", "cdmh" + id);
    sh("ip", "link", "set", "cdmh" + id, "up");
    sh("ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up");
    sh("ip", "netns", "exec", netns, "ip", "addr", "add", nsAddress + "/30", "dev", "cdmn" + id);
    sh("ip", "netns", "exec", netns, "ip", "link", "set", "cdmn" + id, "up");

    Path root = dir.resolve("registry");
    image(root, "test/good", Origin.data("good layer", 300_000), Origin.data("good layer", 300_000));
    image(root, "test/bad", Origin.data("claimed layer", 300_000), Origin.data("served layer", 300_000));
    Path script = dir.resolve("fake-oci-registry.py");
    try (InputStream in = SkopeoDigestTest.class.getResourceAsStream("/fake-oci-registry.py")) {
      Files.copy(in, script);
    }
    registryProcess = new ProcessBuilder("ip", "netns", "exec", netns, "python3", "-u", script.toString(),
        nsAddress, root.toAbsolutePath().toString())
        .redirectError(dir.resolve("registry.log").toFile())
        .start();
    String port = new BufferedReader(new InputStreamReader(registryProcess.getInputStream(), StandardCharsets.UTF_8))
        .readLine();
    assertThat(port).as("fake registry port (see registry.log)").isNotNull().matches("\\d+");
    registry = nsAddress + ":" + port;

    cache = BlobCache.open(BlobCacheConfig.builder().root(dir.resolve("cache")).maxSizeBytes(64L << 20).build());
    MitmProxy proxy = MitmProxy.builder().certificateAuthority(Pki.ca("conduit skopeo test CA")).cache(cache).build();
    conduit = Conduit.builder()
        .listener(Listener.builder("plain").bind("127.0.0.1:0").protocol(proxy).build())
        .timeouts(Timeouts.builder().drain(Duration.ZERO).build())
        .build().start();
  }

  @AfterAll
  static void stop() throws Exception {
    if (conduit != null) {
      conduit.close();
    }
    if (cache != null) {
      cache.close();
    }
    if (registryProcess != null) {
      registryProcess.destroy();
      registryProcess.waitFor(10, TimeUnit.SECONDS);
    }
    if (netns != null) {
      Processes.run(30, List.of("ip", "netns", "del", netns));
    }
  }

  @Test
  void skopeoFailsOnALayerWhoseBytesDoNotMatchItsDigestAndConduitDoesNotCacheIt() throws Exception {
    String claimed = "sha256:" + Origin.sha256(Origin.data("claimed layer", 300_000));
    long mismatches = cache.stats().digestMismatches();
    Processes.Result r = skopeoCopy("test/bad");
    assertThat(r.exitCode()).as("skopeo must fail: %s", r.stderr()).isNotZero();
    assertThat(cache.stats().digestMismatches() - mismatches).isPositive();
    assertThat(cache.lookup(CacheKey.ofDigest(claimed))).isEmpty();
    assertThat(cache.list()).noneMatch(e -> e.toString().contains(claimed.substring(7)));
  }

  @Test
  void skopeoCopiesAMatchingLayerThroughConduitWhichCachesIt() throws Exception {
    byte[] layer = Origin.data("good layer", 300_000);
    String digest = "sha256:" + Origin.sha256(layer);
    Processes.Result r = skopeoCopy("test/good");
    assertThat(r.exitCode()).as("skopeo must succeed: %s", r.stderr()).isZero();
    assertThat(cache.lookup(CacheKey.ofDigest(digest))).isPresent();
  }

  /** Writes an OCI image (one config blob, one layer blob) with the layer's digest taken over {@code claimed}. */
  static void image(Path root, String repo, byte[] claimed, byte[] served) throws Exception {
    Path blobs = Files.createDirectories(root.resolve(repo).resolve("blobs"));
    Path manifests = Files.createDirectories(root.resolve(repo).resolve("manifests"));
    byte[] config = ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:"
        + Origin.sha256(claimed) + "\"]}}").getBytes(StandardCharsets.UTF_8);
    String configDigest = "sha256:" + Origin.sha256(config);
    String layerDigest = "sha256:" + Origin.sha256(claimed);
    Files.write(blobs.resolve(configDigest), config);
    Files.write(blobs.resolve(layerDigest), served);
    String manifest = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + configDigest
        + "\",\"size\":" + config.length + "},"
        + "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" + layerDigest
        + "\",\"size\":" + claimed.length + "}]}";
    Files.writeString(manifests.resolve("tag"), manifest);
  }

  static Processes.Result skopeoCopy(String repo) throws Exception {
    Path dest = Files.createTempDirectory(dir, "copy");
    String proxy = "http://127.0.0.1:" + conduit.address("plain").getPort();
    ProcessBuilder pb = new ProcessBuilder("skopeo", "--insecure-policy", "copy", "--src-tls-verify=false",
        "docker://" + registry + "/" + repo + ":tag", "dir:" + dest.resolve("image"));
    pb.environment().put("HTTP_PROXY", proxy);
    pb.environment().put("HTTPS_PROXY", proxy);
    pb.environment().remove("NO_PROXY");
    pb.environment().remove("no_proxy");
    pb.environment().put("HOME", dest.toString());
    Path out = dest.resolve("skopeo.out");
    Path err = dest.resolve("skopeo.err");
    Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    if (!p.waitFor(180, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("skopeo did not finish within 180 s: " + Files.readString(err));
    }
    return new Processes.Result(p.exitValue(), Files.readAllBytes(out), Files.readString(err));
  }

  static void sh(String... argv) throws Exception {
    Processes.Result r = Processes.run(30, List.of(argv));
    if (r.exitCode() != 0) {
      throw new IllegalStateException(String.join(" ", argv) + ": " + r.stderr());
    }
  }

  /** Skips without root or the tools; fails instead under CI=true, where system tests must run. */
  static void requireRootAnd(String... tools) throws Exception {
    String reason = null;
    if (!new String(Processes.run(10, List.of("id", "-u")).stdout(), StandardCharsets.UTF_8).strip().equals("0")) {
      reason = "system test needs root (network namespaces)";
    }
    for (String tool : tools) {
      if (reason == null && !Processes.available(tool)) {
        reason = "system test needs " + tool + " on the PATH";
      }
    }
    if (reason != null) {
      if ("true".equals(System.getenv("CI"))) {
        fail(reason + " (CI=true: system tests must run)");
      }
      assumeTrue(false, reason);
    }
  }
}
