package dev.conduit.mitm.cache;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The cache's on-disk layout: file names, atomic metadata writes and the directory scan. */
final class CacheFiles {

  private static final Logger LOG = LoggerFactory.getLogger(CacheFiles.class);
  static final String TEMP_SUFFIX = ".tmp";
  static final String DATA_SUFFIX = ".data";
  static final String META_SUFFIX = ".meta";
  static final String LOCK_FILE = ".lock";

  private CacheFiles() {
  }

  /** What a scan of a cache directory found. */
  static final class Scan {
    /** Committed entries whose body has the recorded size. */
    final List<EntryRecord> entries = new ArrayList<>();
    /** Temp files, bodies without metadata and invalid metadata: garbage for a writable open. */
    final List<Path> garbage = new ArrayList<>();
  }

  /**
   * Reads a cache directory without changing it. Files vanishing during the scan (a server working
   * on the directory) are skipped.
   */
  static Scan scan(Path root) throws IOException {
    Map<String, Path> datas = new HashMap<>();
    List<Path> metas = new ArrayList<>();
    Scan scan = new Scan();
    try (Stream<Path> files = Files.walk(root, 3)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        String name = p.getFileName().toString();
        if (root.equals(p.getParent()) || !Files.isRegularFile(p)) {
          continue;
        }
        if (name.endsWith(TEMP_SUFFIX)) {
          scan.garbage.add(p);
        } else if (name.endsWith(DATA_SUFFIX)) {
          datas.put(stem(name, DATA_SUFFIX), p);
        } else if (name.endsWith(META_SUFFIX)) {
          metas.add(p);
        }
      }
    }
    for (Path metaPath : metas) {
      String stem = stem(metaPath.getFileName().toString(), META_SUFFIX);
      Path data = datas.remove(stem);
      try {
        EntryMetadata m = EntryMetadata.decode(Files.readAllBytes(metaPath));
        String hash = m.key.fileHash();
        if (data == null || !stem.startsWith(hash + "-")
            || !metaPath.getParent().equals(root.resolve(hash.substring(0, 2)).resolve(hash.substring(2, 4)))
            || Files.size(data) != m.size) {
          throw new IOException("body missing, misplaced or not " + m.size + " bytes");
        }
        long lastAccess = Files.getLastModifiedTime(data).toMillis();
        scan.entries.add(new EntryRecord(m.key, data, metaPath, m.size, m.createdMillis, m.sha256, m.headers,
            m.hits, lastAccess, 0, m.validatedMillis, m.pinned));
      } catch (NoSuchFileException e) {
        // removed while we looked
      } catch (IOException e) {
        LOG.warn("invalid cache entry {}: {}", metaPath, e.getMessage());
        scan.garbage.add(metaPath);
        if (data != null) {
          scan.garbage.add(data);
        }
      }
    }
    scan.garbage.addAll(datas.values()); // bodies without a commit record
    return scan;
  }

  static void writeMeta(Path meta, EntryMetadata m) throws IOException {
    writeMeta(meta, m, true);
  }

  /**
   * Replaces the metadata atomically; {@code durable} syncs it first (a commit record must be; a
   * refreshed validation time need not: lost in a crash, the entry is just revalidated once more).
   */
  static void writeMeta(Path meta, EntryMetadata m, boolean durable) throws IOException {
    Path tmp = meta.resolveSibling(meta.getFileName() + TEMP_SUFFIX);
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer b = ByteBuffer.wrap(m.encode());
      while (b.hasRemaining()) {
        ch.write(b);
      }
      if (durable) {
        ch.force(true);
      }
    }
    move(tmp, meta);
  }

  static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      throw new CacheException("cannot rename " + from + " atomically", e);
    }
  }

  static void syncDirectory(Path dir) {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException e) {
      LOG.trace("directory fsync not supported for {}", dir, e); // not possible on every platform
    }
  }

  static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (NoSuchFileException e) {
      // already gone
    } catch (IOException e) {
      LOG.warn("cannot delete {}: {}", p, e.toString());
    }
  }

  static String stem(String name, String suffix) {
    return name.substring(0, name.length() - suffix.length());
  }

  static String randomSuffix() {
    return String.format("%016x", ThreadLocalRandom.current().nextLong());
  }

  static String hex(byte[] bytes) {
    StringBuilder sb = new StringBuilder(bytes.length * 2);
    for (byte b : bytes) {
      sb.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
    }
    return sb.toString();
  }
}
