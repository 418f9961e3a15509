package io.tiercache;

import com.sun.jna.Native;
import com.sun.jna.Platform;

/**
 * The few libc calls Java 17 has no API for, through JNA's direct mapping (a few hundred
 * nanoseconds a call): {@code flock(2)}, which the Python SDK's {@code filelock} takes and
 * {@link java.nio.channels.FileChannel#lock} (an {@code fcntl} lock on Linux) does not exclude,
 * and the process's user id. Not loaded on Windows.
 */
final class Posix {
  static final int O_RDWR = 2;
  /** Differs by architecture: x86 and most others 0400000, ARM and POWER 0100000, macOS 0x100. */
  static final int O_NOFOLLOW = Platform.isMac() ? 0x100
      : Platform.isARM() || Platform.isPPC() ? 0x8000 : 0x20000;
  static final int O_CLOEXEC = Platform.isMac() ? 0x1000000 : 0x80000;
  static final int LOCK_EX = 2;
  static final int LOCK_NB = 4;
  static final int LOCK_UN = 8;
  static final int EINTR = 4;
  static final int EWOULDBLOCK = Platform.isMac() ? 35 : 11;

  static {
    if (!Platform.isWindows()) {
      Native.register(Platform.C_LIBRARY_NAME);
    }
  }

  private Posix() {}

  static native int open(String path, int flags);

  static native int flock(int fd, int operation);

  static native int close(int fd);

  static native int geteuid();

  static native String strerror(int errno);

  /** The last call's error as {@code "Permission denied (errno 13)"}. */
  static String lastError() {
    int errno = Native.getLastError();
    return strerror(errno) + " (errno " + errno + ")";
  }
}
