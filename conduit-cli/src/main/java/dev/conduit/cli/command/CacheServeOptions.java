package dev.conduit.cli.command;

import dev.conduit.cli.CliException;
import dev.conduit.cli.config.Durations;
import dev.conduit.mitm.MitmServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Option;

/** The cache-specific options of {@code conduit cache serve}: seed 004's TOML file and the freshness rules. */
final class CacheServeOptions {

  @Option(names = "--cfg", paramLabel = "FILE",
      description = "A dduct-style TOML file ([misc], [proxy], [certs]); default: " + SeedToml.FILE_NAME
          + " next to the jar, when present. Flags win over it.")
  Path cfg;

  @Option(names = "--max-age", paramLabel = "REGEX=DURATION",
      description = "Entries whose URL path matches REGEX are fresh for DURATION after each validation"
          + " (0: revalidate every time); repeatable, the first match wins.")
  List<String> maxAges = new ArrayList<>();

  @Option(names = "--no-cache", paramLabel = "REGEX", description = "Never cache URLs whose path matches; repeatable.")
  List<String> noCache = new ArrayList<>();

  @Option(names = "--stale-if-error", paramLabel = "DURATION",
      description = "Serve a stale mutable entry for this long after it went stale when the origin fails (default: 1d; 0: never).")
  String staleIfError;

  /** Sets what the seed file says about a new CA, and the freshness flags. */
  void customize(MitmServer.Builder b, Optional<SeedToml> seed) {
    seed.ifPresent(t -> b.caValidity(t.caValidity).caCommonName(t.caCommonName).pkcs12Password(t.p12Password));
    try {
      for (String rule : maxAges) {
        int eq = rule.lastIndexOf('=');
        if (eq <= 0) {
          throw new IllegalArgumentException("--max-age: " + rule + " (expected: REGEX=DURATION, such as '\\.json$=10m')");
        }
        b.maxAge(rule.substring(0, eq), Durations.parse(rule.substring(eq + 1)));
      }
      noCache.forEach(b::neverCache);
      if (staleIfError != null) {
        b.staleIfError(Durations.parse(staleIfError));
      }
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
  }
}
