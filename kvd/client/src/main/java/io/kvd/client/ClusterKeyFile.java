package io.kvd.client;

import io.kvd.core.auth.ClusterKey;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.EnumSet;
import java.util.Set;

/**
 * Cluster key files, as kvd ({@code --cluster-key-file}), kvctl and {@code kvd cluster} read and
 * write them. The text is {@link ClusterKey#parse}'s: the key on one line, at least 64 hex digits
 * (32 bytes) or base64 of at least 32 bytes; # comments. A key file must be a regular file (a
 * symbolic link to one is followed) that its owner can read and nobody else can: POSIX permissions
 * without any group or other bit (0600 or 0400). Anything else is refused, before the key is read.
 */
public final class ClusterKeyFile {
  /** The file name {@code kvd cluster} writes beside the servers file, and kvctl looks for. */
  public static final String NAME = "cluster.key";
  /** Bytes of a generated key. */
  public static final int GENERATED_LENGTH = 32;
  /** Larger key files are refused unread (a key is at most 1,024 bytes, about 2 KiB of text). */
  private static final long FILE_LENGTH_MAX = 16 * 1024;
  private static final Set<PosixFilePermission> GROUP_OR_OTHER = EnumSet.of(
      PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
      PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_READ,
      PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);

  private ClusterKeyFile() {}

  /** A key file that cannot be used, with what is wrong (never the key). */
  public static final class Invalid extends Exception {
    private static final long serialVersionUID = 1L;

    Invalid(String message) {
      super(message);
    }
  }

  /**
   * Reads the key in {@code file}; {@link Invalid} when it is missing, unreadable, not a regular
   * file, readable or writable by group or others, or not a key.
   */
  public static ClusterKey read(Path file) throws Invalid {
    PosixFileAttributes attributes;
    try {
      attributes = Files.readAttributes(file, PosixFileAttributes.class);
    } catch (NoSuchFileException e) {
      throw new Invalid(file + ": no such file");
    } catch (UnsupportedOperationException e) {
      throw new Invalid(file + ": its file system has no POSIX permissions, so kvd cannot tell"
          + " whether others can read the key");
    } catch (IOException e) {
      throw new Invalid(file + ": " + e.getMessage());
    }
    if (!attributes.isRegularFile()) {
      throw new Invalid(file + ": not a regular file");
    }
    Set<PosixFilePermission> permissions = attributes.permissions();
    if (permissions.stream().anyMatch(GROUP_OR_OTHER::contains)) {
      throw new Invalid(file + ": permissions " + PosixFilePermissions.toString(permissions)
          + " let others than its owner at the key; allow the owner only: chmod 600 " + file);
    }
    if (!permissions.contains(PosixFilePermission.OWNER_READ)) {
      throw new Invalid(file + ": its owner cannot read it (chmod 600 " + file + ")");
    }
    if (attributes.size() > FILE_LENGTH_MAX) {
      throw new Invalid(file + ": " + attributes.size() + " bytes, too long for a key file");
    }
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new Invalid(file + ": cannot read it: " + e.getMessage());
    }
    try {
      return ClusterKey.parse(text);
    } catch (IllegalArgumentException e) {
      throw new Invalid(file + ": not a cluster key: " + e.getMessage());
    }
  }

  /** 32 random bytes from {@code random}, as {@link #write} takes them. */
  public static byte[] generate(SecureRandom random) {
    byte[] material = new byte[GENERATED_LENGTH];
    random.nextBytes(material);
    return material;
  }

  /**
   * Writes {@code material} to {@code file} as a key file with permissions 0600, replacing any
   * file there: the key goes into a new file created 0600 beside it, then moved into place, so
   * the key is never readable by others, not even for a moment.
   */
  public static void write(Path file, byte[] material, String comment) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path temporary = dir.resolve("." + file.getFileName() + "." + ProcessHandle.current().pid()
        + ".tmp");
    Files.deleteIfExists(temporary);
    try {
      Files.createFile(temporary, PosixFilePermissions.asFileAttribute(
          PosixFilePermissions.fromString("rw-------")));
    } catch (FileAlreadyExistsException e) {
      throw new IOException("cannot create " + temporary + ": it exists", e);
    }
    try {
      // createFile's permissions pass through the umask, which only removes bits; set them
      // exactly anyway.
      Files.setPosixFilePermissions(temporary, PosixFilePermissions.fromString("rw-------"));
      Files.writeString(temporary, (comment == null ? "" : "# " + comment + "\n")
          + ClusterKey.format(material), StandardCharsets.UTF_8);
      try {
        Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING,
            StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(temporary);
    }
  }
}
