package io.tiercache.stress;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An ext4 file system on a loop device whose power can be cut. {@link #cut} copies the device's
 * image, which holds what the file system wrote to its disk and not what only the page cache
 * holds, and mounts the copy as the machine would find it when the power came back; the old disk
 * is unmounted and deleted. Cut after the writers were killed, so that no write is in flight
 * while the image is copied: the kernel writes a dirty page back of its own accord only after
 * 30 s ({@code vm.dirty_expire_centisecs}), and the file system is mounted with {@code commit=600}
 * so that its journal commits only when a writer forces. Needs root.
 */
final class LoopDisk implements AutoCloseable {
  private final Path base;
  private int generation;
  private Path image;
  private Path mount;

  private LoopDisk(Path base) {
    this.base = base;
    name(0);
  }

  private void name(int generation) {
    this.generation = generation;
    this.image = base.resolve("disk-" + generation + ".img");
    this.mount = base.resolve("mnt-" + generation);
  }

  /** The machine refused the loop device (not root, no loop support): power cannot be cut here. */
  static final class Refused extends IOException {
    private static final long serialVersionUID = 1L;

    Refused(String message, IOException cause) {
      super(message, cause);
    }
  }

  /** An empty file system of {@code bytes} (sparse: it takes what is written) under {@code base}. */
  static LoopDisk create(Path base, long bytes) throws IOException, InterruptedException {
    LoopDisk disk = new LoopDisk(base);
    Files.createDirectories(base);
    try (RandomAccessFile file = new RandomAccessFile(disk.image.toFile(), "rw")) {
      file.setLength(bytes);
    }
    try {
      run("mkfs.ext4", "-q", "-F", disk.image.toString());
      disk.mount();
    } catch (IOException e) {
      Files.delete(disk.image);
      throw new Refused("cannot mount an ext4 loop device under " + base + ": " + e.getMessage(), e);
    }
    return disk;
  }

  private void mount() throws IOException, InterruptedException {
    Files.createDirectories(mount);
    run("mount", "-o", "loop,commit=600", image.toString(), mount.toString());
  }

  /** Where the files are now. */
  Path path() {
    return mount;
  }

  /** Cuts the power: from now on this disk is the old one as a power loss left it, mounted at a new {@link #path}. */
  void cut() throws IOException, InterruptedException {
    Path copy = base.resolve("disk-" + (generation + 1) + ".img");
    run("cp", "--sparse=always", image.toString(), copy.toString());
    close();
    name(generation + 1);
    mount();
  }

  /** Unmounts and deletes this disk; lazily, as the checker's closed cache may leave mappings for the collector. */
  @Override
  public void close() throws IOException, InterruptedException {
    System.gc(); // unmaps what nothing references, so the loop device is freed at once
    run("umount", "-l", mount.toString());
    Files.delete(image);
    Files.delete(mount);
  }

  private static void run(String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
    try {
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        throw new IOException(String.join(" ", command) + " did not return within 120 s");
      }
      if (p.exitValue() != 0) {
        throw new IOException(String.join(" ", command) + " failed (exit code " + p.exitValue() + "; a loop device"
            + " needs root): " + new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip());
      }
    } finally {
      p.destroyForcibly();
    }
  }
}
