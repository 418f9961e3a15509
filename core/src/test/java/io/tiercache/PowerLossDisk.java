package io.tiercache;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A real ext4 file system on a loop device, whose power {@link #cut} cuts: it copies the device's
 * image, which holds what the file system wrote to its disk and not what only the page cache
 * holds, and mounts the copy, as the machine would find the disk when it came back. The kernel
 * writes back a dirty page of its own accord after 30 s ({@code vm.dirty_expire_centisecs}), so a
 * cut made within seconds of a write finds on the disk exactly what was forced. Mounting needs
 * root: where it is refused, the test is skipped, saying why.
 */
final class PowerLossDisk implements AutoCloseable {
  final Path mount;
  private final Path image;

  private PowerLossDisk(Path image, Path mount) {
    this.image = image;
    this.mount = mount;
  }

  /** An empty file system of {@code megabytes}, mounted at {@code base/name}. */
  static PowerLossDisk create(Path base, String name, int megabytes) throws Exception {
    Path image = base.resolve(name + ".img");
    try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
      file.setLength((long) megabytes << 20);
    }
    assumeTrue(JsonFileStoreTest.run("mkfs.ext4", "-q", "-F", image.toString()) == 0, "mkfs.ext4 failed on " + image);
    return mounted(image, base.resolve(name));
  }

  private static PowerLossDisk mounted(Path image, Path mount) throws Exception {
    Files.createDirectory(mount);
    assumeTrue(JsonFileStoreTest.run("mount", "-o", "loop", image.toString(), mount.toString()) == 0,
        "mounting a loop device needs root: " + mount);
    return new PowerLossDisk(image, mount);
  }

  /** The disk as a power loss now leaves it, mounted at {@code base/name}; this one stays as it is. */
  PowerLossDisk cut(Path base, String name) throws Exception {
    Path copy = base.resolve(name + ".img");
    Files.copy(image, copy);
    return mounted(copy, base.resolve(name));
  }

  @Override
  public void close() throws Exception {
    JsonFileStoreTest.run("umount", "-l", mount.toString());
    Files.delete(image);
  }
}
