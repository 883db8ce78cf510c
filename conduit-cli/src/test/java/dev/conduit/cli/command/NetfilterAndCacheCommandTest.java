package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.Cli;
import dev.conduit.cli.ExitCode;
import dev.conduit.mitm.cache.BlobCache;
import dev.conduit.mitm.cache.BlobCacheConfig;
import dev.conduit.mitm.cache.CacheKey;
import dev.conduit.mitm.cache.Flight;
import dev.conduit.netfilter.CommandRunner;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NetfilterAndCacheCommandTest {

  /** A runner that records commands and answers like an unprivileged host without the tools. */
  static final class FakeRunner implements CommandRunner {
    final List<String> ran = new ArrayList<>();

    @Override
    public Result run(List<String> argv, String stdin) {
      ran.add(String.join(" ", argv));
      if (argv.equals(List.of("id", "-u"))) {
        return new Result(0, "1000\n", "");
      }
      return new Result(argv.get(0).equals("sh") ? 1 : 0, "", "");
    }
  }

  @Test
  void planPrintsTheExactIptablesRestorePayload() {
    FakeRunner runner = new FakeRunner();
    Cli.Result r = Cli.run(runner, "netfilter", "plan", "--dry-run", "--port", "15001", "--capture-port", "80",
        "--capture-port", "8000-8100", "--capture-cidr", "198.18.0.0/24", "--exclude-source", "198.18.5.0/24",
        "--ipv4", "--mark", "0x5a4");
    assertThat(r.exitCode()).as(r.toString()).isZero();
    assertThat(r.out()).contains("# iptables plan for", "ipset restore <<'EOF'", "add CONDUIT_PORT_T 80 -exist",
        "add CONDUIT_PORT_T 8000-8100 -exist", "iptables-restore --noflush --wait <<'EOF'\n*nat\n",
        "-A CONDUIT_OUTPUT -m mark --mark 0x5a4/0xffffffff -j RETURN",
        "-j REDIRECT --to-ports 15001",
        "-I OUTPUT 1 -p tcp -m comment --comment \"conduit:CONDUIT\" -j CONDUIT_OUTPUT", "COMMIT\nEOF")
        .doesNotContain("ip6tables");
    assertThat(runner.ran).isEmpty();
  }

  @Test
  void planWithNftablesAndTproxy() {
    Cli.Result r = Cli.run(new FakeRunner(), "netfilter", "plan", "--backend", "nft", "--mode", "tproxy",
        "--port", "15001", "--capture-all", "--exclude-destination", "198.18.0.9/32", "--prefix", "EDGE");
    assertThat(r.exitCode()).as(r.toString()).isZero();
    assertThat(r.out()).contains("nft -f - <<'EOF'", "table inet conduit_edge {", "tproxy ip to :15001",
        "elements = { 198.18.0.9/32 }", "fwmark");
  }

  @Test
  void badPlanIsAUsageErrorWithOneLine() {
    Cli.Result r = Cli.run(new FakeRunner(), "netfilter", "plan", "--port", "15001");
    assertThat(r.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(r.errLines()).containsExactly("conduit netfilter plan: capture: nothing to capture (expected: an"
        + " address, network, endpoint or port, or captureAllTcp())");
    Cli.Result prefix = Cli.run(new FakeRunner(), "netfilter", "show", "--prefix", "bad-prefix");
    assertThat(prefix.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(prefix.err()).startsWith("conduit netfilter show: --prefix:");
  }

  @Test
  void applyChecksPrerequisitesFirstAndSaysWhatToFix() {
    FakeRunner runner = new FakeRunner();
    Cli.Result r = Cli.run(runner, "netfilter", "apply", "--port", "15001", "--capture-port", "80");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(ExitCode.FAILURE);
    assertThat(r.err()).contains("not running as root", "fix: run conduit as root",
        "iptables-restore is not installed; fix: apt-get install iptables", "ipset is not installed");
    assertThat(runner.ran).noneMatch(c -> c.startsWith("iptables-restore") || c.startsWith("ipset restore"));

    Cli.Result dry = Cli.run(runner, "netfilter", "apply", "--dry-run", "--port", "15001", "--capture-port", "80");
    assertThat(dry.exitCode()).isZero();
    assertThat(dry.out()).contains("iptables-restore --noflush --wait");
  }

  @Test
  void cacheLsAndPurge(@TempDir Path dir) throws Exception {
    Path root = dir.resolve("cache");
    CacheKey key = CacheKey.of(URI.create("https://registry.example/v2/lib/blobs/x.tar.gz"));
    try (BlobCache cache = BlobCache.open(BlobCacheConfig.builder().root(root).build())) {
      for (String path : new String[] {"/a.deb", "/b.deb"}) {
        CacheKey k = path.equals("/a.deb") ? key : CacheKey.of(URI.create("https://mirror.example" + path));
        Flight.Miss miss = (Flight.Miss) cache.begin(k).get(10, TimeUnit.SECONDS);
        miss.writer().start(List.of(Map.entry("Content-Type", "application/octet-stream")));
        miss.writer().write(ByteBuffer.wrap("body".getBytes(StandardCharsets.US_ASCII))).get(10, TimeUnit.SECONDS);
        miss.writer().commit().get(10, TimeUnit.SECONDS).close();
      }
    }
    Cli.Result ls = Cli.run("cache", "ls", "--dir", root.toString());
    assertThat(ls.exitCode()).as(ls.toString()).isZero();
    assertThat(ls.out()).contains(key.value(), "2 entries, 8 bytes");

    Cli.Result one = Cli.run("cache", "purge", "--dir", root.toString(), "--key", key.value());
    assertThat(one.out()).isEqualTo("purged 1 entry\n");
    Cli.Result all = Cli.run("cache", "purge", "--dir", root.toString(), "--all");
    assertThat(all.out()).isEqualTo("purged 1 entry\n");
    assertThat(Cli.run("cache", "ls", "--dir", root.toString()).out()).contains("0 entries, 0 bytes");

    Cli.Result neither = Cli.run("cache", "purge", "--dir", root.toString());
    assertThat(neither.exitCode()).isEqualTo(ExitCode.USAGE);
    Cli.Result missing = Cli.run("cache", "ls", "--dir", dir.resolve("nope").toString());
    assertThat(missing.exitCode()).isEqualTo(ExitCode.FAILURE);
    assertThat(missing.err()).contains("no cache directory there");
  }
}
