package io.tiercache;

import com.sun.jna.Native;
import com.sun.jna.Platform;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The few libc calls Java 17 has no API for, through JNA's direct mapping (a few hundred
 * nanoseconds a call): {@code flock(2)}, which the Python SDK's {@code filelock} takes and
 * {@link java.nio.channels.FileChannel#lock} (an {@code fcntl} lock on Linux) does not exclude;
 * the process's user id; {@code access(2)}, whose errno tells a read-only file system from a
 * permission denied; {@code O_APPEND} writes, reads and forces through a descriptor, which an interrupt
 * does not close (a {@code FileChannel} closes itself, for every thread, when a thread inside one of
 * its calls is interrupted) and which names its file whatever the name holds later; a descriptor
 * opened without blocking, which a {@code FileChannel} cannot do on a FIFO. Not loaded on Windows.
 */
final class Posix {
  static final int O_RDONLY = 0;
  static final int O_WRONLY = 1;
  static final int O_RDWR = 2;
  /** 02000 on Linux whatever the architecture. */
  static final int O_APPEND = Platform.isMac() ? 0x8 : 0x400;
  /** Differs by architecture: x86 and most others 0400000, ARM and POWER 0100000, macOS 0x100. */
  static final int O_NOFOLLOW = Platform.isMac() ? 0x100
      : Platform.isARM() || Platform.isPPC() ? 0x8000 : 0x20000;
  /** 04000 on Linux whatever the architecture. */
  static final int O_NONBLOCK = Platform.isMac() ? 0x4 : 0x800;
  static final int O_CLOEXEC = Platform.isMac() ? 0x1000000 : 0x80000;
  /**
   * Linux's 010000000 (its few architectures with another value are not served here); 0 where there is
   * none. A descriptor that names a file without opening it: it never waits on a FIFO, and its close
   * does not drop this process's {@code fcntl} locks on the file, which any other close does.
   */
  static final int O_PATH = Platform.isLinux() ? 0x200000 : 0;
  static final int LOCK_SH = 1;
  static final int LOCK_EX = 2;
  static final int LOCK_NB = 4;
  static final int LOCK_UN = 8;
  static final int EINTR = 4;
  static final int ENOENT = 2;
  static final int EACCES = 13;
  static final int EROFS = 30;
  static final int X_OK = 1;
  static final int W_OK = 2;
  static final int EWOULDBLOCK = Platform.isMac() ? 35 : 11;

  static {
    if (!Platform.isWindows()) {
      Native.register(Platform.C_LIBRARY_NAME);
    }
  }

  private Posix() {}

  /** Where a descriptor opens again as the file it has open, whatever its name names by then; null if nowhere. */
  private static final String FD_DIR = Files.isDirectory(Path.of("/proc/self/fd")) ? "/proc/self/fd"
      : Files.isDirectory(Path.of("/dev/fd")) ? "/dev/fd" : null;

  /**
   * {@code /proc/self/fd/<fd>} (or {@code /dev/fd/<fd>}, which reopens in the descriptor's own access
   * mode only): the file descriptor {@code fd} has open, to open again or stat.
   *
   * @throws CacheException where the system has neither, naming {@code file}
   */
  static Path fdPath(int fd, Path file) {
    if (FD_DIR == null) {
      throw new CacheException("cannot open a file safely without /proc/self/fd or /dev/fd (a descriptor's file is"
          + " reopened through it)", file);
    }
    return Path.of(FD_DIR, Integer.toString(fd));
  }

  static native int open(String path, int flags);

  static native int flock(int fd, int operation);

  static native int close(int fd);

  /**
   * {@code ssize_t write(int, const void *, size_t)}: 64-bit platforms only, as JNA maps {@code long}.
   * {@code address} is native memory the caller keeps reachable: primitive arguments only, so JNA makes
   * no call back into the JVM (a {@code Buffer} argument costs three, about a third of the call).
   */
  static native long write(int fd, long address, long count);

  /** As above, from the start of {@code buf}, which JNA copies in (and back out) around the call. */
  static native long write(int fd, byte[] buf, long count);

  /** {@code ssize_t pread(int, void *, size_t, off_t)}: into the start of {@code buf}. */
  static native long pread(int fd, byte[] buf, long count, long offset);

  /** {@code off_t lseek(int, off_t, int)}. */
  static native long lseek(int fd, long offset, int whence);

  static final int SEEK_END = 2;

  static native int fsync(int fd);

  static native int fdatasync(int fd);

  static native int geteuid();

  /** {@code access(2)}: 0 when the real user may {@code mode} the file, else -1 with errno set. */
  static native int access(String path, int mode);

  static native String strerror(int errno);

  /** The last call's error as {@code "Permission denied (errno 13)"}. */
  static String lastError() {
    return describe(Native.getLastError());
  }

  /** {@code errno} as {@code "Permission denied (errno 13)"}, for a caller that has read it already. */
  static String describe(int errno) {
    return strerror(errno) + " (errno " + errno + ")";
  }
}
