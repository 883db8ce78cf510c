package dev.conduit.cli.command;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conduit.cli.CliException;
import dev.conduit.cli.ExitCode;
import dev.conduit.mitm.cache.BlobCache;
import dev.conduit.mitm.cache.BlobCacheConfig;
import dev.conduit.mitm.cache.CacheAdminRoute;
import dev.conduit.mitm.cache.CacheEntryInfo;
import dev.conduit.mitm.cache.CacheException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Predicate;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code conduit cache ls|purge|pin}. On a directory a running {@code cache serve} holds, they go
 * through its admin endpoint (recorded in the directory, or {@code --admin}); without one,
 * {@code ls} reads the directory read-only and {@code purge}/{@code pin} say how to reach it.
 */
@Command(name = "cache", mixinStandardHelpOptions = true,
    description = "Run the caching MITM proxy, list, purge and pin its blob cache.",
    subcommands = {CacheServeCommand.class, CacheCommand.Ls.class, CacheCommand.Purge.class, CacheCommand.Pin.class})
public final class CacheCommand {

  /** Where the cache is, and how to reach the server holding it. */
  static final class Target {
    @Option(names = "--dir", paramLabel = "DIR", required = true, description = "The cache directory.")
    Path dir;

    @Option(names = "--admin", paramLabel = "URL",
        description = "The admin endpoint of the server holding DIR (default: the one it recorded in DIR).")
    String admin;

    @Option(names = "--admin-token", paramLabel = "TOKEN", description = "The admin endpoint's bearer token.")
    String adminToken;

    void checkDirectory() {
      if (!Files.isDirectory(dir)) {
        throw CliException.failure(dir + ": no cache directory there");
      }
    }

    /** The cache opened for writing, or empty when a server holds it. */
    Optional<BlobCache> openUnlessHeld() throws IOException {
      checkDirectory();
      try {
        return Optional.of(BlobCache.open(BlobCacheConfig.builder().root(dir).build()));
      } catch (CacheException e) {
        if (e.getMessage() != null && e.getMessage().contains("already open")) {
          return Optional.empty();
        }
        throw e;
      }
    }

    CacheAdminClient adminOrFail() {
      return CacheAdminClient.of(dir, admin, adminToken).orElseThrow(() -> CliException.failure(dir
          + " is in use by a server without an admin endpoint: give it --admin-listen, or stop it first"));
    }
  }

  /** Selects entries by key, prefix or age. */
  static final class Selector {
    @Option(names = "--key", paramLabel = "KEY",
        description = "The key as 'cache ls' prints it, a URL, or a digest (sha256:...).")
    String key;

    @Option(names = "--prefix", paramLabel = "PREFIX", description = "Every key starting with PREFIX.")
    String prefix;

    @Option(names = "--older-than", paramLabel = "AGE", description = "Entries committed more than AGE ago (90s, 15m, 2h, 7d).")
    String olderThan;

    @Option(names = "--all", description = "Every entry.")
    boolean all;

    Map<String, String> query() {
      Map<String, String> q = new LinkedHashMap<>();
      if (all) {
        q.put("all", "true");
      } else if (key != null) {
        q.put("key", key);
      } else if (prefix != null) {
        q.put("prefix", prefix);
      } else {
        q.put("older-than", olderThan);
      }
      return q;
    }

    Predicate<CacheEntryInfo> predicate() {
      try {
        if (all) {
          return info -> true;
        }
        if (key != null) {
          return CacheAdminRoute.keyMatcher(key);
        }
        if (prefix != null) {
          return info -> info.key().value().startsWith(prefix);
        }
        Instant cutoff = Instant.now().minus(CacheAdminRoute.parseAge(olderThan));
        return info -> info.created().isBefore(cutoff);
      } catch (IllegalArgumentException e) {
        throw CliException.usage(e.getMessage());
      }
    }
  }

  /** {@code conduit cache ls --dir DIR}. */
  @Command(name = "ls", mixinStandardHelpOptions = true, description = "List the cached entries.")
  public static final class Ls extends BaseCommand implements Callable<Integer> {
    @ArgGroup(exclusive = false, multiplicity = "1")
    Target target;

    @Override
    public Integer call() throws IOException {
      target.checkDirectory();
      Optional<CacheAdminClient> admin = CacheAdminClient.of(target.dir, target.admin, target.adminToken);
      if (admin.isPresent() && (target.admin != null || held(target.dir))) {
        printRemote(admin.get().entries());
        return ExitCode.OK;
      }
      Optional<BlobCache> cache = target.openUnlessHeld();
      if (cache.isEmpty()) {
        err().println("note: " + target.dir + " is in use; listing it read-only");
        print(BlobCache.listReadOnly(target.dir));
        return ExitCode.OK;
      }
      try (BlobCache c = cache.get()) {
        print(c.list());
      }
      return ExitCode.OK;
    }

    private void print(List<CacheEntryInfo> entries) {
      header();
      long total = 0;
      Instant now = Instant.now();
      for (CacheEntryInfo e : entries) {
        total += e.size();
        row(e.kind().name(), e.size(), Duration.between(e.created(), now).getSeconds(), e.hits(), e.lastValidated(),
            e.pinned(), e.key().value());
      }
      out().println(entries.size() + " entries, " + total + " bytes");
    }

    private void printRemote(JsonNode json) {
      header();
      for (JsonNode e : json.path("entries")) {
        row(e.path("kind").asText().toUpperCase(Locale.ROOT), e.path("size").asLong(), e.path("age_s").asLong(),
            e.path("hits").asLong(), Instant.parse(e.path("last_validated").asText()), e.path("pinned").asBoolean(),
            e.path("key").asText());
      }
      out().println(json.path("count").asLong() + " entries, " + json.path("bytes").asLong() + " bytes");
    }

    private void header() {
      out().printf("%-17s %-12s %-8s %-6s %-20s %-3s %s%n", "KIND", "SIZE", "AGE", "HITS", "VALIDATED", "PIN", "KEY");
    }

    private void row(String kind, long size, long ageSeconds, long hits, Instant validated, boolean pinned, String key) {
      out().printf("%-17s %-12d %-8s %-6d %-20s %-3s %s%n", kind, size, age(ageSeconds), hits,
          validated.truncatedTo(ChronoUnit.SECONDS), pinned ? "yes" : "-", key);
    }

    private static String age(long s) {
      return s < 120 ? s + "s" : s < 7200 ? s / 60 + "m" : s < 172_800 ? s / 3600 + "h" : s / 86_400 + "d";
    }
  }

  /** {@code conduit cache purge --dir DIR (--key K | --prefix P | --older-than AGE | --all)}. */
  @Command(name = "purge", mixinStandardHelpOptions = true, description = "Remove entries by key, prefix or age, or all of them.")
  public static final class Purge extends BaseCommand implements Callable<Integer> {
    @ArgGroup(exclusive = false, multiplicity = "1")
    Target target;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Selector which;

    @Override
    public Integer call() throws IOException {
      Predicate<CacheEntryInfo> predicate = which.predicate(); // a bad selector is a usage error either way
      Optional<BlobCache> cache = target.admin != null ? Optional.empty() : target.openUnlessHeld();
      int n;
      if (cache.isPresent()) {
        try (BlobCache c = cache.get()) {
          n = c.purge(predicate);
        }
      } else {
        n = target.adminOrFail().purge(which.query());
      }
      out().println("purged " + n + (n == 1 ? " entry" : " entries"));
      return ExitCode.OK;
    }
  }

  /** {@code conduit cache pin --dir DIR (--key K | --prefix P) [--unpin]}. */
  @Command(name = "pin", mixinStandardHelpOptions = true, description = "Pin entries against eviction (or unpin them).")
  public static final class Pin extends BaseCommand implements Callable<Integer> {
    @ArgGroup(exclusive = false, multiplicity = "1")
    Target target;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Which which;

    @Option(names = "--unpin", description = "Remove the pin instead.")
    boolean unpin;

    static final class Which {
      @Option(names = "--key", paramLabel = "KEY",
          description = "The key as 'cache ls' prints it, a URL, or a digest (sha256:...).")
      String key;

      @Option(names = "--prefix", paramLabel = "PREFIX", description = "Every key starting with PREFIX.")
      String prefix;
    }

    @Override
    public Integer call() throws IOException {
      Selector s = new Selector();
      s.key = which.key;
      s.prefix = which.prefix;
      Predicate<CacheEntryInfo> predicate = s.predicate();
      Optional<BlobCache> cache = target.admin != null ? Optional.empty() : target.openUnlessHeld();
      int n;
      if (cache.isPresent()) {
        try (BlobCache c = cache.get()) {
          n = c.pin(predicate, !unpin);
        }
      } else {
        n = target.adminOrFail().pin(s.query(), !unpin);
      }
      out().println((unpin ? "unpinned " : "pinned ") + n + (n == 1 ? " entry" : " entries"));
      return ExitCode.OK;
    }
  }

  /** Whether a process holds the directory's lock (a server runs on it). */
  static boolean held(Path dir) {
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(dir.resolve(".lock"),
        java.nio.file.StandardOpenOption.WRITE)) {
      java.nio.channels.FileLock lock = ch.tryLock();
      if (lock == null) {
        return true;
      }
      lock.release();
      return false;
    } catch (java.nio.channels.OverlappingFileLockException e) {
      return true; // held in this very JVM
    } catch (IOException e) {
      return false; // no lock file: nobody ever opened it
    }
  }
}
