package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Conduit;
import dev.conduit.core.Listener;
import dev.conduit.core.testing.Processes;
import dev.conduit.mitm.cache.BlobCache;
import dev.conduit.mitm.cache.BlobCacheConfig;
import dev.conduit.mitm.cache.CacheEntryInfo;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Package-index awareness with curl through the cache: a {@code .deb} or {@code .rpm} whose bytes
 * differ from the SHA-256 its index lists is not cached (and the client's response is cut short),
 * and the same package from two mirrors is stored once and served to both. The RPM metadata is a
 * test fixture in createrepo's format (repomd.xml, primary.xml.gz).
 */
class PackageIndexTest {

  @TempDir
  static Path dir;
  static Origin mirrorA;
  static Origin mirrorB;
  static BlobCache cache;
  static Conduit conduit;

  @BeforeAll
  static void start() throws Exception {
    mirrorA = Origin.http();
    mirrorB = Origin.http();
    cache = BlobCache.open(BlobCacheConfig.builder().root(dir.resolve("cache")).build());
    conduit = Conduit.builder()
        .listener(Listener.builder("plain").bind("127.0.0.1:0")
            .protocol(MitmProxy.builder().certificateAuthority(Pki.ca("index test CA")).cache(cache).build()).build())
        .timeouts(CachingProxyTest.NO_DRAIN).build().start();
  }

  @AfterAll
  static void stop() {
    conduit.close();
    cache.close();
    mirrorA.close();
    mirrorB.close();
  }

  @Test
  void debianPackagesAreVerifiedAgainstTheIndexAndSharedAcrossMirrors() throws Exception {
    byte[] good = Origin.data("hello_1.0_amd64.deb", 200_000);
    byte[] bad = Origin.data("tampered", 200_000);
    byte[] other = Origin.data("other_2.0_amd64.deb", 50_000);
    String packages = stanza("hello", "pool/main/h/hello/hello_1.0_amd64.deb", good)
        + "\n" + stanza("other", "pool/main/o/other/other_2.0_amd64.deb", other);
    byte[] packagesGz = gzip(packages);
    String release = "Origin: test\nSuite: stable\nSHA256:\n"
        + " " + Origin.sha256(packagesGz) + " " + packagesGz.length + " main/binary-amd64/Packages.gz\n";
    for (Origin m : List.of(mirrorA, mirrorB)) {
      m.resource("/debian/dists/stable/Release", Origin.Resource.of(release.getBytes(StandardCharsets.UTF_8)));
      m.resource("/debian/dists/stable/main/binary-amd64/Packages.gz", Origin.Resource.of(packagesGz));
      m.resource("/debian/pool/main/h/hello/hello_1.0_amd64.deb", Origin.Resource.of(good));
    }
    mirrorB.resource("/debian/pool/main/o/other/other_2.0_amd64.deb", Origin.Resource.of(bad));
    for (Origin m : List.of(mirrorA, mirrorB)) {
      assertThat(curl(m, "/debian/dists/stable/Release").exitCode()).isZero();
      assertThat(curl(m, "/debian/dists/stable/main/binary-amd64/Packages.gz").exitCode()).isZero();
    }
    // mirror A's copy is downloaded and verified; mirror B's URL is then served from it
    Processes.Result a = curl(mirrorA, "/debian/pool/main/h/hello/hello_1.0_amd64.deb");
    assertThat(a.stdout()).isEqualTo(good);
    Processes.Result b = curl(mirrorB, "/debian/pool/main/h/hello/hello_1.0_amd64.deb", "-D", "-");
    assertThat(b.exitCode()).as(b.stderr()).isZero();
    assertThat(mirrorB.requests("/debian/pool/main/h/hello/hello_1.0_amd64.deb")).isZero();
    assertThat(cache.list()).filteredOn(i -> i.key().value().endsWith("hello_1.0_amd64.deb")).hasSize(1);

    // a package whose bytes differ from the index: the client's response is cut short, nothing cached
    long mismatches = cache.stats().digestMismatches();
    Processes.Result tampered = curl(mirrorB, "/debian/pool/main/o/other/other_2.0_amd64.deb");
    assertThat(tampered.exitCode()).as("curl must see a bad body").isNotZero();
    assertThat(cache.stats().digestMismatches() - mismatches).isEqualTo(1);
    assertThat(cache.list()).extracting(CacheEntryInfo::key).noneMatch(k -> k.value().contains("other_2.0"));
  }

  @Test
  void anXzIndexVerifiesPackagesAsAptFetchesIt() throws Exception {
    // real Debian mirrors give apt Packages.xz: its digests must verify the .debs as the gzip index's do
    byte[] good = Origin.data("zeta_1.0_amd64.deb", 100_000);
    byte[] bad = Origin.data("xz tampered", 100_000);
    String packages = stanza("zeta", "pool/main/x/zeta/zeta_1.0_amd64.deb", good)
        + "\n" + stanza("omega", "pool/main/x/omega/omega_1.0_amd64.deb", Origin.data("omega", 30_000));
    byte[] packagesXz = xz(packages);
    mirrorA.resource("/xzrepo/dists/stable/main/binary-amd64/Packages.xz", Origin.Resource.of(packagesXz));
    mirrorA.resource("/xzrepo/pool/main/x/zeta/zeta_1.0_amd64.deb", Origin.Resource.of(good));
    mirrorA.resource("/xzrepo/pool/main/x/omega/omega_1.0_amd64.deb", Origin.Resource.of(bad));
    assertThat(curl(mirrorA, "/xzrepo/dists/stable/main/binary-amd64/Packages.xz").exitCode()).isZero();

    assertThat(curl(mirrorA, "/xzrepo/pool/main/x/zeta/zeta_1.0_amd64.deb").stdout()).isEqualTo(good);
    assertThat(cache.list()).filteredOn(i -> i.key().value().endsWith("zeta_1.0_amd64.deb")).hasSize(1);
    long mismatches = cache.stats().digestMismatches();
    Processes.Result tampered = curl(mirrorA, "/xzrepo/pool/main/x/omega/omega_1.0_amd64.deb");
    assertThat(tampered.exitCode()).as("curl must see a bad body").isNotZero();
    assertThat(cache.stats().digestMismatches() - mismatches).isEqualTo(1);
    assertThat(cache.list()).extracting(CacheEntryInfo::key).noneMatch(k -> k.value().contains("omega_1.0"));
  }

  @Test
  void rpmPackagesAreVerifiedAgainstPrimaryXml() throws Exception {
    byte[] good = Origin.data("hello-1.0-1.x86_64.rpm", 120_000);
    byte[] bad = Origin.data("evil.rpm", 120_000);
    String primary = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        + "<metadata xmlns=\"http://linux.duke.edu/metadata/common\" packages=\"2\">\n"
        + rpm("hello", "Packages/h/hello-1.0-1.x86_64.rpm", good)
        + rpm("world", "Packages/w/world-1.0-1.x86_64.rpm", Origin.data("world", 10)) + "</metadata>\n";
    byte[] primaryGz = gzip(primary);
    String primaryPath = "repodata/" + Origin.sha256(primaryGz) + "-primary.xml.gz";
    String repomd = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repomd xmlns=\"http://linux.duke.edu/metadata/repo\">\n"
        + "  <revision>1</revision>\n  <data type=\"primary\">\n    <checksum type=\"sha256\">" + Origin.sha256(primaryGz)
        + "</checksum>\n    <location href=\"" + primaryPath + "\"/>\n  </data>\n</repomd>\n";
    mirrorA.resource("/fedora/repodata/repomd.xml", Origin.Resource.of(repomd.getBytes(StandardCharsets.UTF_8)));
    mirrorA.resource("/fedora/" + primaryPath, Origin.Resource.of(primaryGz));
    mirrorA.resource("/fedora/Packages/h/hello-1.0-1.x86_64.rpm", Origin.Resource.of(good));
    mirrorA.resource("/fedora/Packages/w/world-1.0-1.x86_64.rpm", Origin.Resource.of(bad));
    assertThat(curl(mirrorA, "/fedora/repodata/repomd.xml").exitCode()).isZero();
    assertThat(curl(mirrorA, "/fedora/" + primaryPath).exitCode()).isZero();
    assertThat(curl(mirrorA, "/fedora/Packages/h/hello-1.0-1.x86_64.rpm").stdout()).isEqualTo(good);
    assertThat(curl(mirrorA, "/fedora/Packages/w/world-1.0-1.x86_64.rpm").exitCode()).isNotZero();
    assertThat(cache.list()).extracting(i -> i.key().value())
        .anyMatch(k -> k.endsWith("hello-1.0-1.x86_64.rpm")).noneMatch(k -> k.endsWith("world-1.0-1.x86_64.rpm"));
  }

  private static String stanza(String name, String filename, byte[] body) {
    return "Package: " + name + "\nVersion: 1.0\nArchitecture: amd64\nFilename: " + filename + "\nSize: "
        + body.length + "\nSHA256: " + Origin.sha256(body) + "\n";
  }

  private static String rpm(String name, String location, byte[] body) {
    return "<package type=\"rpm\">\n  <name>" + name + "</name>\n  <arch>x86_64</arch>\n"
        + "  <checksum type=\"sha256\" pkgid=\"YES\">" + Origin.sha256(body) + "</checksum>\n"
        + "  <size package=\"" + body.length + "\"/>\n  <location href=\"" + location + "\"/>\n</package>\n";
  }

  private static Processes.Result curl(Origin origin, String path, String... extra) throws Exception {
    Processes.requireTool("curl");
    List<String> cmd = new java.util.ArrayList<>(List.of("curl", "-sS", "--max-time", "30", "-x",
        "http://127.0.0.1:" + conduit.address("plain").getPort()));
    cmd.addAll(List.of(extra));
    cmd.add("http://127.0.0.1:" + origin.port() + path);
    return Processes.run(40, cmd);
  }

  private static byte[] xz(String text) throws Exception {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (org.tukaani.xz.XZOutputStream z = new org.tukaani.xz.XZOutputStream(b, new org.tukaani.xz.LZMA2Options())) {
      z.write(text.getBytes(StandardCharsets.UTF_8));
    }
    return b.toByteArray();
  }

  private static byte[] gzip(String text) throws Exception {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (GZIPOutputStream z = new GZIPOutputStream(b)) {
      z.write(text.getBytes(StandardCharsets.UTF_8));
    }
    return b.toByteArray();
  }
}
