package io.tiercache;

import com.sun.jna.Native;
import com.sun.jna.Platform;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * The inter-process lock on {@code <name>.lock}: {@code flock(2)}, the lock Python's
 * {@code filelock} takes, so a Python SDK process and any number of JVMs exclude each other.
 * ({@link FileChannel#lock} is an {@code fcntl} record lock on Linux; it does not exclude
 * {@code flock} holders.)
 *
 * <p>The file is never deleted while in use. Another program may still unlink it (the Python
 * SDK's {@code invalidate()} does); so after each acquisition the path is checked to still name
 * the locked file, and if it does not, the lock is taken again on the new file.
 *
 * <p>Not reentrant and not thread-safe: the owning store serializes callers with its own lock.
 * On Windows, where there is no {@code flock}, {@link FileChannel#tryLock} stands in.
 */
final class LockFile implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(LockFile.class.getName());

  private final Path path;
  private final Duration timeout;
  private final FileOps fs;
  private final FileOps.Use use;
  private final @Nullable StoreCounters counters;
  /** False: the file must exist and is opened read-only (a directory this process cannot write). */
  private final boolean create;
  private int fd = -1;
  private FileStat fileKey;
  private FileChannel windowsChannel;
  private java.nio.channels.FileLock windowsLock;
  private boolean held;

  LockFile(Path path, Duration timeout, FileOps fs) {
    this(path, timeout, fs, FileOps.Use.READ); // the Python SDK creates it readable by others: fine for a lock
  }

  /** {@code use}: what else the file is for, which decides what an existing one must be. */
  LockFile(Path path, Duration timeout, FileOps fs, FileOps.Use use) {
    this(path, timeout, fs, use, null);
  }

  /** {@code counters}: where the time spent waiting for the lock is added, or null. */
  LockFile(Path path, Duration timeout, FileOps fs, FileOps.Use use, @Nullable StoreCounters counters) {
    this(path, timeout, fs, use, counters, true);
  }

  private LockFile(Path path, Duration timeout, FileOps fs, FileOps.Use use, @Nullable StoreCounters counters,
      boolean create) {
    this.path = path;
    this.timeout = timeout;
    this.fs = fs;
    this.use = use;
    this.counters = counters;
    this.create = create;
  }

  /**
   * The lock on {@code path}, which is never created: it is opened read-only ({@code flock} needs no
   * write access), for a directory this process cannot write. Taking it fails if the file is missing.
   */
  static LockFile existing(Path path, Duration timeout, FileOps fs) {
    return new LockFile(path, timeout, fs, FileOps.Use.READ, null, false);
  }

  Path path() {
    return path;
  }

  /** Takes the lock, waiting up to the timeout. */
  void lock() {
    if (held) {
      throw new IllegalStateException("already locked: " + path);
    }
    long start = System.nanoTime();
    long deadline = start + timeout.toNanos();
    long backoffMicros = 50;
    while (true) {
      if (tryLockOnce()) {
        held = true;
        if (counters != null) {
          counters.recordLockWait(System.nanoTime() - start);
        }
        return;
      }
      if (System.nanoTime() - deadline >= 0) {
        throw new LockTimeoutException(path, timeout, holder());
      }
      LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(backoffMicros));
      backoffMicros = Math.min(backoffMicros * 2, 1_000); // short: holders keep it for milliseconds
    }
  }

  /** Takes the lock if nobody holds it; never waits. */
  boolean tryLock() {
    if (held) {
      throw new IllegalStateException("already locked: " + path);
    }
    held = tryLockOnce();
    return held;
  }

  boolean isHeld() {
    return held;
  }

  void unlock() {
    if (!held) {
      return;
    }
    held = false;
    if (Platform.isWindows()) {
      try {
        windowsLock.release();
      } catch (IOException e) {
        throw new CacheException("cannot release the lock", path, e);
      }
      return;
    }
    if (Posix.flock(fd, Posix.LOCK_UN) != 0) {
      int errno = Native.getLastError();
      closeFd();
      throw new CacheException("cannot release the lock: " + Posix.describe(errno), path);
    }
  }

  private boolean tryLockOnce() {
    if (Platform.isWindows()) {
      return tryLockWindows();
    }
    openIfNeeded();
    if (Posix.flock(fd, Posix.LOCK_EX | Posix.LOCK_NB) != 0) {
      int errno = Native.getLastError();
      if (errno == Posix.EWOULDBLOCK || errno == Posix.EINTR) {
        return false;
      }
      throw new CacheException("flock failed: " + Posix.describe(errno), path);
    }
    // Someone may have unlinked or replaced the file between our open and our flock.
    if (fileKey.sameFile(currentFileKey())) {
      return true;
    }
    Posix.flock(fd, Posix.LOCK_UN);
    closeFd();
    return false;
  }

  private void openIfNeeded() {
    if (fd >= 0) {
      if (fileKey.sameFile(currentFileKey())) {
        return;
      }
      closeFd();
    }
    while (true) {
      try {
        fd = fs.openDescriptor(path, use, create ? Posix.O_RDWR : Posix.O_RDONLY);
        break;
      } catch (NoSuchFileException absent) {
        if (!create) {
          throw new CacheException("cannot open the lock file: it does not exist", path, absent);
        }
      } catch (IOException e) {
        throw new CacheException("cannot open the lock file", path, e);
      }
      try {
        fs.create(path).close();
      } catch (java.nio.file.FileAlreadyExistsException raced) {
        // another process (or the Python SDK) created it first: open theirs
      } catch (NoSuchFileException directoryGone) {
        throw new CacheException("cannot create the lock file: its directory is gone", path, directoryGone);
      } catch (IOException e) {
        throw new CacheException("cannot create the lock file", path, e);
      }
    }
    fileKey = fdFileKey(fd);
  }

  private @Nullable FileStat currentFileKey() {
    try {
      return FileStat.of(path);
    } catch (IOException e) {
      throw new CacheException("cannot stat the lock file", path, e);
    }
  }

  private FileStat fdFileKey(int descriptor) {
    try {
      return FileStat.of(descriptor);
    } catch (IOException e) {
      throw new CacheException("cannot stat the open lock file", path, e);
    }
  }

  private void closeFd() {
    if (fd >= 0) {
      Posix.close(fd);
      fd = -1;
    }
  }

  private boolean tryLockWindows() {
    try {
      if (windowsChannel == null) {
        windowsChannel = fs.openOrCreate(path, use, StandardOpenOption.WRITE);
      }
      windowsLock = windowsChannel.tryLock();
      return windowsLock != null;
    } catch (IOException e) {
      throw new CacheException("cannot lock", path, e);
    }
  }

  /** Who holds the lock, from {@code /proc/locks} on Linux; null when unknown. */
  String holder() {
    Path locks = Paths.get("/proc/locks");
    if (fileKey == null || !Files.isReadable(locks)) {
      return null;
    }
    try {
      FileStat current = FileStat.of(path);
      if (current == null) {
        return null;
      }
      long inode = current.ino();
      List<String> lines = Files.readAllLines(locks);
      for (String line : lines) {
        // "1: FLOCK  ADVISORY  WRITE 12345 fd:01:2883613 0 EOF"
        String[] f = line.trim().split("\\s+");
        if (f.length > 5 && f[1].equals("FLOCK") && f[5].endsWith(":" + inode)) {
          return "process " + f[4];
        }
      }
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      LOG.log(System.Logger.Level.DEBUG, "cannot read /proc/locks", e);
    }
    return null;
  }

  @Override
  public void close() {
    unlock();
    closeFd();
    if (windowsChannel != null) {
      try {
        windowsChannel.close();
      } catch (IOException e) {
        throw new CacheException("cannot close the lock file", path, e);
      }
    }
  }

}
