package io.tiercache;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Set;

/**
 * File handling done the Lucene way: every replacement is written to a temporary file in the same
 * directory, forced, atomically renamed over the target, and the directory is forced; nothing is
 * truncated in place. Files and directories are created with the configured permissions
 * (owner-only by default: cached assets may carry API keys).
 */
record FileOps(Set<PosixFilePermission> filePermissions, Set<PosixFilePermission> directoryPermissions) {
  private static final System.Logger LOG = System.getLogger(FileOps.class.getName());
  private static final boolean POSIX =
      java.nio.file.FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
  private static final DateTimeFormatter STAMP =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'").withZone(ZoneOffset.UTC);

  FileOps {
    filePermissions = Set.copyOf(filePermissions);
    directoryPermissions = Set.copyOf(directoryPermissions);
  }

  static FileOps ownerOnly() {
    return new FileOps(PosixFilePermissions.fromString("rw-------"),
        PosixFilePermissions.fromString("rwx------"));
  }

  private FileAttribute<?>[] fileAttributes() {
    return POSIX ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(filePermissions)}
        : new FileAttribute<?>[0];
  }

  /** Creates {@code dir} and missing parents (those tiercache creates get the directory mode). */
  void createDirectories(Path dir) {
    try {
      if (Files.isDirectory(dir)) {
        if (!Files.isWritable(dir)) {
          throw new CacheException("the cache directory is not writable", dir);
        }
        return;
      }
      Path parent = dir.toAbsolutePath().getParent();
      if (parent != null && !Files.isDirectory(parent)) {
        createDirectories(parent);
      }
      try {
        if (POSIX) {
          Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(directoryPermissions));
          // The umask may have narrowed what we asked for; ask again explicitly.
          Files.setPosixFilePermissions(dir, directoryPermissions);
        } else {
          Files.createDirectory(dir);
        }
      } catch (FileAlreadyExistsException raced) {
        if (!Files.isDirectory(dir)) {
          throw new CacheException("the cache directory path is a file", dir, raced);
        }
      }
    } catch (AccessDeniedException e) {
      throw new CacheException("cannot create the cache directory: permission denied", dir, e);
    } catch (IOException e) {
      throw new CacheException("cannot create the cache directory", dir, e);
    }
  }

  void createFileIfAbsent(Path file) {
    if (Files.exists(file)) {
      return;
    }
    try {
      Files.createFile(file, fileAttributes());
      if (POSIX) {
        Files.setPosixFilePermissions(file, filePermissions);
      }
    } catch (FileAlreadyExistsException raced) {
      // another process created it first: fine
    } catch (IOException e) {
      throw new CacheException("cannot create file", file, e);
    }
  }

  /** Gives a file another library created the permissions of files tiercache creates. */
  void restrict(Path file) {
    if (POSIX) {
      try {
        Files.setPosixFilePermissions(file, filePermissions);
      } catch (IOException e) {
        throw new CacheException("cannot set the file permissions", file, e);
      }
    }
  }

  /**
   * Replaces {@code target} with {@code bytes[0, length)} atomically and durably: a reader sees
   * the old file or the new one, never a mix, and after a crash one of the two survives whole.
   */
  void atomicWrite(Path target, byte[] bytes, int length) {
    replace(target, writeTemporary(target, bytes, length));
  }

  /**
   * The first half of {@link #atomicWrite}: {@code bytes[0, length)} in a forced temporary file
   * next to {@code target} ({@code <target>.<random>.tmp}), which {@link #replace} then renames.
   */
  Path writeTemporary(Path target, byte[] bytes, int length) {
    Path temp = null;
    try {
      temp = Files.createTempFile(target.toAbsolutePath().getParent(), target.getFileName() + ".", ".tmp",
          fileAttributes());
      try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE)) {
        ByteBuffer buf = ByteBuffer.wrap(bytes, 0, length);
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        ch.force(true);
      }
      if (POSIX) {
        Files.setPosixFilePermissions(temp, filePermissions);
      }
      Path written = temp;
      temp = null;
      return written;
    } catch (IOException e) {
      throw new CacheException("cannot write " + target.getFileName(), target, e);
    } finally {
      deleteTemporary(temp);
    }
  }

  /**
   * The second half of {@link #atomicWrite}: renames {@code temp} over {@code target} and forces
   * the directory. A {@code temp} that is gone (removed by a process that took it for a crash's
   * leftover) is reported as a {@link java.nio.file.NoSuchFileException} cause.
   */
  static void replace(Path target, Path temp) {
    try {
      Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      fsyncDirectory(target.toAbsolutePath().getParent());
    } catch (IOException e) {
      deleteTemporary(temp);
      throw new CacheException("cannot write " + target.getFileName(), target, e);
    }
  }

  static void deleteTemporary(Path temp) {
    if (temp != null) {
      try {
        Files.deleteIfExists(temp);
      } catch (IOException e) {
        LOG.log(System.Logger.Level.WARNING, "cannot remove temporary file " + temp, e);
      }
    }
  }

  /** Forces a directory's entries (a rename is durable only once its directory is). */
  static void fsyncDirectory(Path dir) {
    if (!POSIX) {
      return; // Windows cannot open a directory for reading; NTFS journals renames.
    }
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      throw new CacheException("cannot fsync the cache directory", dir, e);
    }
  }

  /**
   * Moves a damaged file aside as {@code <file>.corrupt-<UTC timestamp>} and logs a warning
   * naming both paths. Nothing is deleted.
   */
  static Path moveAside(Path file, String reason) {
    Path aside = file.resolveSibling(file.getFileName() + ".corrupt-" + STAMP.format(java.time.Instant.now()));
    try {
      Files.move(file, aside, StandardCopyOption.ATOMIC_MOVE);
      fsyncDirectory(file.toAbsolutePath().getParent());
    } catch (IOException e) {
      throw new CacheException("cannot move the damaged file aside (" + reason + ")", file, e);
    }
    LOG.log(System.Logger.Level.WARNING,
        "tiercache: " + file + " is damaged (" + reason + "); moved it to " + aside + " and started empty");
    return aside;
  }

  /** Removes temporary files left by an interrupted write ({@code <name>.json.*.tmp}). */
  static void removeStaleTemporaries(Path dir, String baseName) {
    // A filter, not a glob: the cache name may hold glob characters ("model[1").
    String prefix = baseName + ".";
    try (var files = Files.newDirectoryStream(dir, p -> {
      String name = p.getFileName().toString();
      return name.startsWith(prefix) && name.endsWith(".tmp") && name.length() > prefix.length() + 4;
    })) {
      for (Path temp : files) {
        Files.deleteIfExists(temp);
        LOG.log(System.Logger.Level.INFO, "tiercache: removed " + temp + " left by an interrupted write");
      }
    } catch (IOException e) {
      throw new CacheException("cannot remove temporary files", dir, e);
    }
  }

  static byte[] readAll(Path file) throws IOException {
    return Files.readAllBytes(file);
  }
}
