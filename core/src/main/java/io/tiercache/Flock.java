package io.tiercache;

import com.sun.jna.Native;
import java.nio.file.Path;

/**
 * {@code flock(2)} on a descriptor, for the locks that tell other processes a writer is alive (a
 * temporary being written, a Chronicle Map store's liveness, an undo file's writer). Unlike an
 * {@code fcntl} lock, which {@link java.nio.channels.FileChannel#lock} takes on Linux, a {@code flock}
 * lock belongs to its open file description: it conflicts with another descriptor's even in the same
 * process, and closing another descriptor of the file (another store's, a scan's, a second copy of
 * tiercache loaded by another class loader) does not drop it. Only the holder's unlock or last close
 * does, or its death. POSIX only: on Windows, where a {@code FileChannel} lock belongs to its handle,
 * the callers take one of those instead.
 */
final class Flock {
  private Flock() {}

  /**
   * Takes {@code operation} ({@link Posix#LOCK_SH} or {@link Posix#LOCK_EX}) on {@code fd} if no other
   * description holds a conflicting lock; never waits.
   *
   * @return false if another holds one
   * @throws CacheException naming {@code file} if {@code flock} fails otherwise
   */
  static boolean tryLock(int fd, int operation, Path file) {
    while (true) {
      if (Posix.flock(fd, operation | Posix.LOCK_NB) == 0) {
        return true;
      }
      int errno = Native.getLastError();
      if (errno == Posix.EWOULDBLOCK) {
        return false;
      }
      if (errno != Posix.EINTR) {
        throw new CacheException("flock failed: " + Posix.describe(errno), file);
      }
    }
  }

  /** Takes {@code operation} on {@code fd}, waiting for conflicting holders. */
  static void lock(int fd, int operation, Path file) {
    while (Posix.flock(fd, operation) != 0) {
      int errno = Native.getLastError();
      if (errno != Posix.EINTR) {
        throw new CacheException("flock failed: " + Posix.describe(errno), file);
      }
    }
  }

  /**
   * True when no description holds a lock on {@code file} ({@code probe} a descriptor of it that holds
   * none): an exclusive lock is taken and released at once.
   */
  static boolean nobodyHolds(int probe, Path file) {
    if (!tryLock(probe, Posix.LOCK_EX, file)) {
      return false;
    }
    Posix.flock(probe, Posix.LOCK_UN);
    return true;
  }
}
