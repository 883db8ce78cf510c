package dev.conduit.core.control.push.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.control.push.PushState;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;

/**
 * An agent's last applied state on disk, so that it comes up from it without the server. Written atomically: a
 * temporary file created with mode 0600 in the same directory, fsync, rename over the target.
 */
public final class StateFile {

  /** A state read back, with the hash of what the agent had installed from it. */
  public record Saved(PushState state, String installedHash) {}

  private final Path path;

  /** A state file at {@code path}. */
  public StateFile(Path path) {
    this.path = path.toAbsolutePath();
  }

  /** Returns the path. */
  public Path path() {
    return path;
  }

  /**
   * Reads the saved state, or empty when there is none. Blocking.
   *
   * @throws IOException if it cannot be read or is not a state file conduit wrote (its hash does not match)
   */
  public Optional<Saved> read() throws IOException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(path);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    try {
      JsonNode node = Json.MAPPER.readTree(bytes);
      if (node == null || !node.isObject()) {
        throw new Json.MalformedMessageException("not a JSON object");
      }
      PushState state = Json.decodeSnapshot(node);
      return Optional.of(new Saved(state, Json.text(node, "installed_hash")));
    } catch (IOException | IllegalArgumentException e) {
      throw new IOException(path + ": not a usable push state file: " + e.getMessage(), e);
    }
  }

  /** Replaces the saved state. Blocking. */
  public void write(PushState state, String installedHash) throws IOException {
    ObjectNode node = Json.snapshotNode(state);
    node.put("installed_hash", installedHash);
    byte[] content = Json.bytes(node);
    Path directory = path.getParent();
    Files.createDirectories(directory);
    FileAttribute<?>[] attributes = FileSystems.getDefault().supportedFileAttributeViews().contains("posix")
        ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))}
        : new FileAttribute<?>[0];
    Path temporary = Files.createTempFile(directory, "." + path.getFileName(), ".tmp", attributes);
    try {
      try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.WRITE);
           OutputStream out = Channels.newOutputStream(channel)) {
        out.write(content);
        out.flush();
        channel.force(true);
      }
      try {
        Files.move(temporary, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(temporary, path, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(temporary);
    }
  }
}
