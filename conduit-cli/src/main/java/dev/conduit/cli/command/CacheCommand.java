package dev.conduit.cli.command;

import dev.conduit.cli.CliException;
import dev.conduit.cli.ExitCode;
import dev.conduit.mitm.cache.BlobCache;
import dev.conduit.mitm.cache.BlobCacheConfig;
import dev.conduit.mitm.cache.CacheEntryInfo;
import dev.conduit.mitm.cache.CacheKey;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code conduit cache ls|purge}. */
@Command(name = "cache", mixinStandardHelpOptions = true, description = "Run the caching MITM proxy, list and purge its blob cache.",
    subcommands = {CacheServeCommand.class, CacheCommand.Ls.class, CacheCommand.Purge.class})
public final class CacheCommand {

  static BlobCache open(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw CliException.failure(dir + ": no cache directory there");
    }
    return BlobCache.open(BlobCacheConfig.builder().root(dir).build());
  }

  /** {@code conduit cache ls --dir DIR}. */
  @Command(name = "ls", mixinStandardHelpOptions = true, description = "List the cached entries.")
  public static final class Ls extends BaseCommand implements Callable<Integer> {
    @Option(names = "--dir", paramLabel = "DIR", required = true, description = "The cache directory.")
    Path dir;

    @Override
    public Integer call() throws IOException {
      try (BlobCache cache = open(dir)) {
        List<CacheEntryInfo> entries = cache.list();
        out().printf("%-12s %-6s %-20s %-20s %s%n", "SIZE", "HITS", "CREATED", "LAST ACCESS", "KEY");
        long total = 0;
        for (CacheEntryInfo e : entries) {
          total += e.size();
          out().printf("%-12d %-6d %-20s %-20s %s%n", e.size(), e.hits(),
              e.created().truncatedTo(java.time.temporal.ChronoUnit.SECONDS),
              e.lastAccess().truncatedTo(java.time.temporal.ChronoUnit.SECONDS), e.key().value());
        }
        out().println(entries.size() + " entries, " + total + " bytes");
      }
      return ExitCode.OK;
    }
  }

  /** {@code conduit cache purge --dir DIR (--key K | --all)}. */
  @Command(name = "purge", mixinStandardHelpOptions = true, description = "Remove one entry or all of them.")
  public static final class Purge extends BaseCommand implements Callable<Integer> {
    @Option(names = "--dir", paramLabel = "DIR", required = true, description = "The cache directory.")
    Path dir;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Which which;

    static final class Which {
      @Option(names = "--key", paramLabel = "KEY",
          description = "The key as 'cache ls' prints it, a URL, or a digest (sha256:...).")
      String key;

      @Option(names = "--all", description = "Remove every entry.")
      boolean all;
    }

    @Override
    public Integer call() throws IOException {
      try (BlobCache cache = open(dir)) {
        int n;
        if (which.all) {
          n = cache.purgeAll();
        } else {
          String k = which.key;
          CacheKey derived = derive(k);
          n = cache.purge(info -> info.key().value().equals(k) || info.key().equals(derived));
        }
        out().println("purged " + n + (n == 1 ? " entry" : " entries"));
      }
      return ExitCode.OK;
    }

    private static CacheKey derive(String key) {
      try {
        if (key.startsWith("sha256:") || key.startsWith("sha512:")) {
          return CacheKey.ofDigest(key);
        }
        if (key.startsWith("http://") || key.startsWith("https://")) {
          return CacheKey.of(URI.create(key));
        }
      } catch (IllegalArgumentException e) {
        // not a URL or digest: matched by its text only
      }
      return null;
    }
  }
}
