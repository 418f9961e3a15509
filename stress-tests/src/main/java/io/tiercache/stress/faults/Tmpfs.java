package io.tiercache.stress.faults;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A size-limited tmpfs mounted for one scenario: a disk that really fills up ({@code ENOSPC}).
 * Needs root (or CAP_SYS_ADMIN); where {@code mount} is refused the scenario is {@link Unavailable}.
 * {@link #close} unmounts, so nothing outlives the run.
 */
final class Tmpfs implements AutoCloseable {
  private final Path mountPoint;

  private Tmpfs(Path mountPoint) {
    this.mountPoint = mountPoint;
  }

  /** Mounts a tmpfs of {@code bytes} (rounded up to pages) on {@code mountPoint}, created if missing. */
  static Tmpfs mount(Path mountPoint, long bytes) throws IOException, InterruptedException, Unavailable {
    Files.createDirectories(mountPoint);
    String out = run(List.of("mount", "-t", "tmpfs", "-o", "size=" + bytes + ",mode=0755", "tmpfs",
        mountPoint.toString()));
    if (out != null) {
      throw new Unavailable("cannot mount a size-limited tmpfs on " + mountPoint + " (needs root): " + out);
    }
    return new Tmpfs(mountPoint);
  }

  /** Null when the command succeeded, else its output and exit code. */
  private static String run(List<String> command) throws IOException, InterruptedException {
    Process p;
    try {
      p = new ProcessBuilder(command).redirectErrorStream(true).start();
    } catch (IOException noCommand) {
      return noCommand.getMessage();
    }
    try {
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        return String.join(" ", command) + " did not return within 30 s";
      }
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      return p.exitValue() == 0 ? null : out + " (exit code " + p.exitValue() + ")";
    } finally {
      p.destroyForcibly();
    }
  }

  Path path() {
    return mountPoint;
  }

  /** Bytes a new file could still take. */
  long free() throws IOException {
    return Files.getFileStore(mountPoint).getUsableSpace();
  }

  /**
   * Grows {@code ballast} until at most {@code keepFree} bytes are left (0: until the disk is full,
   * {@code ENOSPC}). Returns the bytes written.
   */
  long fill(Path ballast, long keepFree) throws IOException {
    long written = 0;
    ByteBuffer page = ByteBuffer.allocate(4096);
    try (FileChannel ch = FileChannel.open(ballast, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.APPEND)) {
      while (keepFree == 0 || free() > keepFree) {
        page.clear();
        try {
          written += ch.write(page);
        } catch (IOException full) {
          if (keepFree == 0) {
            return written; // the disk is full
          }
          throw full;
        }
      }
    }
    return written;
  }

  @Override
  public void close() throws IOException, InterruptedException {
    String failure = null;
    for (int attempt = 0; attempt < 20; attempt++) {
      failure = run(List.of("umount", mountPoint.toString()));
      if (failure == null) {
        return;
      }
      Thread.sleep(250); // a killed child's files may still be closing
    }
    String lazy = run(List.of("umount", "-l", mountPoint.toString()));
    if (lazy != null) {
      throw new IOException("cannot unmount the tmpfs on " + mountPoint + ": " + failure + "; lazily: " + lazy);
    }
  }
}
