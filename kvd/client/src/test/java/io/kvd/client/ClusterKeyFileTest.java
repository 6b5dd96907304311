package io.kvd.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.core.auth.ClusterKey;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves key files: write creates them 0600 (replacing a file that was readable by others) and
 * read gives the key back; read takes base64 too, follows a symbolic link to a private file, and
 * refuses files others can read or write, directories, oversized files and non-keys.
 */
class ClusterKeyFileTest {
  @Test
  void writtenFilesAreForTheOwnerOnlyAndReadBack(@TempDir Path dir) throws Exception {
    byte[] material = ClusterKeyFile.generate(new SecureRandom());
    assertEquals(32, material.length);
    Path file = dir.resolve("sub").resolve(ClusterKeyFile.NAME);
    Files.createDirectories(file.getParent());
    Files.writeString(file, "old");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-rw-rw-"));
    ClusterKeyFile.write(file, material, "a comment");
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    assertEquals(ClusterKey.of(material), ClusterKeyFile.read(file));
    assertTrue(Files.readString(file).startsWith("# a comment\n"));
    try (var left = Files.list(file.getParent())) {
      assertEquals(1, left.count(), "no temporary file left");
    }

    Path base64 = dir.resolve("b64.key");
    Files.writeString(base64, Base64.getEncoder().encodeToString(material) + "\n");
    Files.setPosixFilePermissions(base64, PosixFilePermissions.fromString("r--------"));
    assertEquals(ClusterKey.of(material), ClusterKeyFile.read(base64), "0400 is fine too");
    Path link = Files.createSymbolicLink(dir.resolve("link.key"), file);
    assertEquals(ClusterKey.of(material), ClusterKeyFile.read(link), "a link to a private file");
  }

  @Test
  void filesOthersCanReachOrThatAreNoKeysAreRefused(@TempDir Path dir) throws Exception {
    byte[] material = ClusterKeyFile.generate(new SecureRandom());
    Path file = dir.resolve("k");
    ClusterKeyFile.write(file, material, null);
    for (String open : new String[] {"rw-r-----", "rw----r--", "rw-----w-", "rwx--x---"}) {
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(open));
      ClusterKeyFile.Invalid e = assertThrows(ClusterKeyFile.Invalid.class,
          () -> ClusterKeyFile.read(file), open);
      assertTrue(e.getMessage().contains("chmod 600"), e.getMessage());
    }
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("-w-------"));
    assertTrue(assertThrows(ClusterKeyFile.Invalid.class, () -> ClusterKeyFile.read(file))
        .getMessage().contains("cannot read"));
    assertTrue(assertThrows(ClusterKeyFile.Invalid.class, () -> ClusterKeyFile.read(dir))
        .getMessage().contains("not a regular file"));
    Path big = dir.resolve("big");
    Files.writeString(big, "a".repeat(20_000), StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(big, PosixFilePermissions.fromString("rw-------"));
    assertTrue(assertThrows(ClusterKeyFile.Invalid.class, () -> ClusterKeyFile.read(big))
        .getMessage().contains("too long"));
    Path notKey = dir.resolve("not");
    Files.writeString(notKey, "hello\n", StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(notKey, PosixFilePermissions.fromString("rw-------"));
    assertTrue(assertThrows(ClusterKeyFile.Invalid.class, () -> ClusterKeyFile.read(notKey))
        .getMessage().contains("not a cluster key"));
  }
}
