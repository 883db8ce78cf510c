package dev.conduit.core.control.enrol.internal;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/** Atomic file writes; secret files are created with mode 0600 from the start. */
public final class SecretFiles {

  private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
  private static final Set<PosixFilePermission> WORLD_READABLE = PosixFilePermissions.fromString("rw-r--r--");

  private SecretFiles() {}

  /** Replaces {@code target} with {@code content}: a temporary file in the same directory, fsync, rename. */
  public static void write(Path target, byte[] content, boolean secret) throws IOException {
    requireNonNull(target, "target");
    requireNonNull(content, "content");
    Path absolute = target.toAbsolutePath();
    Files.createDirectories(absolute.getParent());
    boolean posix = FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
    FileAttribute<?>[] attributes = posix
        ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(secret ? OWNER_ONLY : WORLD_READABLE)}
        : new FileAttribute<?>[0];
    Path temporary = Files.createTempFile(absolute.getParent(), "." + absolute.getFileName(), ".tmp", attributes);
    try {
      try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(temporary,
          java.nio.file.StandardOpenOption.WRITE)) {
        channel.write(java.nio.ByteBuffer.wrap(content));
        channel.force(true);
      }
      try {
        Files.move(temporary, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(temporary, absolute, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(temporary);
    }
  }

  /** Fails if {@code file} can be read by others than its owner (a key file must not be). */
  public static void requireOwnerOnly(Path file) throws IOException {
    if (!FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
      return;
    }
    Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file);
    for (PosixFilePermission p : permissions) {
      if (!OWNER_ONLY.contains(p) && p != PosixFilePermission.OWNER_EXECUTE) {
        throw new IllegalArgumentException(file + ": mode " + PosixFilePermissions.toString(permissions)
            + " lets others read a secret (expected: 0600; chmod 600 " + file + ")");
      }
    }
  }
}
