package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.net.IpPrefixSet;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * The allowlist a gateway last enforced, kept on disk so that a restarted gateway enforces it again
 * before (or without) reaching its server. Written atomically: a crash leaves the old file or the new
 * one, never half of one.
 */
public final class EgressStateFile {

  private final Path path;

  /**
   * Uses a file.
   *
   * @param path the file, e.g. {@code /var/lib/conduit/egress-allowlist}
   */
  public EgressStateFile(Path path) {
    this.path = requireNonNull(path, "path");
  }

  /** Returns the file. */
  public Path path() {
    return path;
  }

  /**
   * Reads the allowlist, if the file exists.
   *
   * @param allowedSpecial special-purpose space that may be allowlisted
   * @return the allowlist, empty when there is no file
   * @throws IOException when the file cannot be read
   * @throws IllegalArgumentException when the file holds bad entries (with their line numbers)
   */
  public Optional<Allowlist> load(IpPrefixSet allowedSpecial) throws IOException {
    if (!Files.exists(path)) {
      return Optional.empty();
    }
    try {
      return Optional.of(Allowlist.parse(Files.readString(path, StandardCharsets.UTF_8), allowedSpecial));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(path + ": " + e.getMessage(), e);
    }
  }

  /**
   * Writes the allowlist: a temporary file beside it, synced, then renamed over it.
   *
   * @param allowlist the allowlist
   * @throws IOException when the file cannot be written
   */
  public void save(Allowlist allowlist) throws IOException {
    requireNonNull(allowlist, "allowlist");
    write(path, "# the allowlist this conduit egress gateway enforces; rewritten on every change\n"
        + allowlist.toText());
  }

  /** Returns the file beside it that keeps the names the L7 check enforces: {@code <file>.names}. */
  public Path namesPath() {
    return path.resolveSibling(path.getFileName() + ".names");
  }

  /**
   * Reads the names the L7 check last enforced ({@link #namesPath()}), if kept.
   *
   * @return the names, empty when there is no file
   * @throws IOException when the file cannot be read
   * @throws IllegalArgumentException when the file is malformed
   */
  public Optional<NameAllowlist> loadNames() throws IOException {
    Path names = namesPath();
    if (!Files.exists(names)) {
      return Optional.empty();
    }
    try {
      return Optional.of(NameAllowlist.parse(Files.readString(names, StandardCharsets.UTF_8)));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(names + ": " + e.getMessage(), e);
    }
  }

  /**
   * Writes the names the L7 check enforces to {@link #namesPath()}, atomically as {@link #save}.
   *
   * @param names the names
   * @throws IOException when the file cannot be written
   */
  public void saveNames(NameAllowlist names) throws IOException {
    requireNonNull(names, "names");
    write(namesPath(), "# the names this conduit egress gateway's L7 check enforces; rewritten on every change\n"
        + names.toText());
  }

  private static void write(Path path, String text) throws IOException {
    Path dir = path.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = dir.resolve("." + path.getFileName() + ".tmp");
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      ch.write(java.nio.ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
      ch.force(true);
    }
    Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  @Override
  public String toString() {
    return "EgressStateFile[" + path + "]";
  }
}
