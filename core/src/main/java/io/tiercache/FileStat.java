package io.tiercache;

import com.sun.jna.Native;
import com.sun.jna.Platform;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * What {@code stat(2)} says of a cache file: its type and permissions, owner, links, identity, size
 * and times. Read in one native call on Linux, {@code statx(2)}, whose buffer has one layout on every
 * architecture; elsewhere (or where the kernel refuses {@code statx}) through Java's "unix" attribute
 * view, which gives the same values but parses the names asked for and fills a map: about 50 us a
 * call before the JIT has compiled it, against 10 for {@code statx}, and opening a cache stats its
 * files half a dozen times.
 */
record FileStat(int mode, int uid, int nlink, long dev, long ino, long size, long mtimeNanos, long ctimeNanos) {
  static final int TYPE_MASK = 0170000;
  static final int REGULAR = 0100000;
  static final int SYMBOLIC_LINK = 0120000;

  private static final String ATTRIBUTES = "unix:mode,uid,nlink,dev,ino,size,lastModifiedTime,ctime";
  /** Its buffer is read as little-endian: big-endian Linux takes the attribute view. */
  private static volatile boolean statx =
      Platform.isLinux() && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN && Linux.LOADED;

  /** The file named {@code file} itself, a link included (never its target); null when there is none. */
  static @Nullable FileStat ofLink(Path file) throws IOException {
    return of(file, false);
  }

  /** The file {@code file} names, following links; null when there is none. */
  static @Nullable FileStat of(Path file) throws IOException {
    return of(file, true);
  }

  /** The file open as descriptor {@code fd}, even if its name has been unlinked or replaced. */
  static FileStat of(int fd) throws IOException {
    if (statx) {
      byte[] buf = new byte[Linux.STATX_SIZE];
      if (Linux.statx(fd, "", Linux.AT_EMPTY_PATH, Linux.STATX_BASIC_STATS, buf) == 0) {
        return Linux.parse(buf);
      }
      Linux.unlessRefused(Native.getLastError(), "descriptor " + fd);
    }
    return viaAttributes(Path.of(Files.isDirectory(Path.of("/proc/self/fd")) ? "/proc/self/fd" : "/dev/fd",
        Integer.toString(fd)), true);
  }

  private static @Nullable FileStat of(Path file, boolean follow) throws IOException {
    if (statx) {
      byte[] buf = new byte[Linux.STATX_SIZE];
      if (Linux.statx(Linux.AT_FDCWD, file.toString(), follow ? 0 : Linux.AT_SYMLINK_NOFOLLOW,
          Linux.STATX_BASIC_STATS, buf) == 0) {
        return Linux.parse(buf);
      }
      int errno = Native.getLastError();
      if (errno == Linux.ENOENT) {
        return null;
      }
      Linux.unlessRefused(errno, file.toString());
    }
    try {
      return viaAttributes(file, follow);
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  /** Whether {@code statx(2)} serves, rather than the attribute view. */
  static boolean nativeCalls() {
    return statx;
  }

  /** Through Java's "unix" attribute view, the platforms' common ground. */
  static FileStat viaAttributes(Path file, boolean follow) throws IOException {
    Map<String, Object> a = follow ? Files.readAttributes(file, ATTRIBUTES)
        : Files.readAttributes(file, ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
    return new FileStat((Integer) a.get("mode"), (Integer) a.get("uid"), (Integer) a.get("nlink"),
        (Long) a.get("dev"), (Long) a.get("ino"), (Long) a.get("size"),
        ((FileTime) a.get("lastModifiedTime")).to(TimeUnit.NANOSECONDS), ((FileTime) a.get("ctime")).to(TimeUnit.NANOSECONDS));
  }

  int type() {
    return mode & TYPE_MASK;
  }

  /** The same file: the same device and inode. */
  boolean sameFile(@Nullable FileStat other) {
    return other != null && dev == other.dev && ino == other.ino;
  }

  /** {@code statx(2)} through JNA's direct mapping, bound only on Linux (glibc 2.28 and later). */
  private static final class Linux {
    static final int AT_FDCWD = -100;
    static final int AT_SYMLINK_NOFOLLOW = 0x100;
    static final int AT_EMPTY_PATH = 0x1000;
    /** Type, mode, links, owner, inode, size, times: what the kernel fills in any case. */
    static final int STATX_BASIC_STATS = 0x7ff;
    static final int STATX_SIZE = 256;
    static final int ENOENT = 2;
    static final int EPERM = 1;
    static final int ENOSYS = 38;
    static final boolean LOADED;

    static {
      boolean loaded = false;
      try {
        Native.register(Platform.C_LIBRARY_NAME);
        loaded = true;
      } catch (UnsatisfiedLinkError olderLibc) {
        // the attribute view serves
      }
      LOADED = loaded;
    }

    private Linux() {}

    static native int statx(int dirfd, String path, int flags, int mask, byte[] buf);

    /**
     * A kernel without {@code statx} (before 4.11) or a sandbox that refuses it (older container
     * profiles answer EPERM): the attribute view serves from now on. Any other error is the file's.
     */
    static void unlessRefused(int errno, String what) throws IOException {
      if (errno == ENOSYS || errno == EPERM) {
        statx = false;
        return;
      }
      throw new IOException("statx of " + what + ": " + Posix.describe(errno));
    }

    /** {@code struct statx}: the same offsets on every architecture (linux/stat.h). */
    static FileStat parse(byte[] b) {
      int devMajor = i32(b, 136);
      int devMinor = i32(b, 140);
      // glibc's makedev, which is what stat(2)'s st_dev (and so Java's "unix:dev") holds
      long dev = ((devMajor & 0xfffff000L) << 32) | ((devMajor & 0xfffL) << 8)
          | ((devMinor & 0xffffff00L) << 12) | (devMinor & 0xffL);
      return new FileStat(u16(b, 28), i32(b, 20), i32(b, 16), dev, i64(b, 32), i64(b, 40), nanos(b, 112),
          nanos(b, 96));
    }

    private static long nanos(byte[] b, int at) {
      return i64(b, at) * 1_000_000_000L + (i32(b, at + 8) & 0xffffffffL);
    }

    private static int u16(byte[] b, int at) {
      return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8;
    }

    private static int i32(byte[] b, int at) {
      return u16(b, at) | u16(b, at + 2) << 16;
    }

    private static long i64(byte[] b, int at) {
      return (i32(b, at) & 0xffffffffL) | (long) i32(b, at + 4) << 32;
    }
  }
}
