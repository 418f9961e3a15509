package io.tiercache;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;

/**
 * {@code <name>.state}: a page every tiercache process on a JSON-store cache maps, and whose
 * {@code flock} is tiercache's own lock on the cache. The Python SDK knows neither, so its
 * {@code invalidate()}, which unlinks {@code <name>.lock}, cannot break the exclusion between
 * tiercache processes; {@code <name>.lock} is still taken, after this one, whenever the Python SDK's
 * file {@code <name>.json} is read or replaced.
 *
 * <p>The page holds the journal generation in place, the generation being switched to while a
 * compactor replaces the journal (appenders that see it confirm their write reached the journal that
 * stays), and what the last export of {@code <name>.json} looked like on disk, so that a rewrite by
 * another program is noticed with one {@code stat}.
 */
final class StateFile implements AutoCloseable {
  private static final long MAGIC = 0x31455441_54534354L; // "TCSTATE1" little-endian
  private static final int SIZE = 4096;
  private static final int OFF_MAGIC = 0;
  private static final int OFF_GENERATION = 8;
  private static final int OFF_SWITCHING = 16;
  private static final int OFF_EXPORT = 24; // 5 longs: dev, ino, size, mtime ns, ctime ns
  private static final VarHandle LONGS = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.nativeOrder());

  private final Path path;
  private final FileChannel channel;
  private final MappedByteBuffer page;
  private final LockFile lock;

  StateFile(Path path, FileOps files, Duration lockTimeout) {
    this(path, files, lockTimeout, null);
  }

  /** {@code counters}: where the time spent waiting for the lock is added, or null. */
  StateFile(Path path, FileOps files, Duration lockTimeout, @org.jspecify.annotations.Nullable StoreCounters counters) {
    this.path = path;
    try {
      this.channel = files.openOrCreate(path, FileOps.Use.IN_PLACE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    } catch (IOException e) {
      throw new CacheException("cannot open the state file", path, e);
    }
    this.lock = new LockFile(path, lockTimeout, files, FileOps.Use.IN_PLACE, counters);
    try {
      allocate();
      page = channel.map(FileChannel.MapMode.READ_WRITE, 0, SIZE);
      page.order(ByteOrder.nativeOrder());
      long magic = (long) LONGS.getVolatile(page, OFF_MAGIC);
      if (magic == 0) {
        LONGS.compareAndSet(page, OFF_MAGIC, 0L, MAGIC);
      } else if (magic != MAGIC) {
        throw new CacheException("not a tiercache state file (bad magic number)", path);
      }
    } catch (IOException e) {
      close();
      throw new CacheException("cannot map the state file", path, e);
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  /**
   * Gives a new file its page with a write, under the lock so that no process zeroes a page another one is
   * using. A mapping over a hole would get its block on first touch, and a full disk then raises SIGBUS (an
   * InternalError in Java) instead of an IOException.
   */
  private void allocate() throws IOException {
    if (channel.size() >= SIZE) {
      return;
    }
    lock.lock();
    try {
      long size = channel.size();
      FileOps.writeFully(channel, ByteBuffer.allocate((int) (SIZE - Math.min(size, SIZE))), Math.min(size, SIZE));
      channel.force(true);
    } finally {
      lock.unlock();
    }
  }

  Path path() {
    return path;
  }

  /** Takes tiercache's own lock on the cache (not reentrant; the store serializes its threads). */
  void lock() {
    lock.lock();
  }

  /** {@link #lock} if nobody holds it; never waits. */
  boolean tryLock() {
    return lock.tryLock();
  }

  void unlock() {
    lock.unlock();
  }

  /** The generation of the snapshot and journal in place; 0 before the first. */
  long generation() {
    return (long) LONGS.getVolatile(page, OFF_GENERATION);
  }

  /** The generation a compactor is switching to, or 0. An appender that sees it confirms its write. */
  long switching() {
    return (long) LONGS.getVolatile(page, OFF_SWITCHING);
  }

  /** Announces a switch to {@code next}. Caller holds the lock. */
  void beginSwitch(long next) {
    LONGS.setVolatile(page, OFF_SWITCHING, next);
  }

  /** The switch is done (or abandoned): {@code generation} is in place. Caller holds the lock. */
  void endSwitch(long generation) {
    LONGS.setVolatile(page, OFF_GENERATION, generation);
    LONGS.setVolatile(page, OFF_SWITCHING, 0L);
  }

  /** Records what {@code file} (the export, just written or merged) looks like now. Caller holds the lock. */
  void recordExport(Path file) {
    long[] stat = stat(file);
    for (int i = 0; i < stat.length; i++) {
      LONGS.setVolatile(page, OFF_EXPORT + i * 8, stat[i]);
    }
  }

  /** Whether {@code file} is still what {@link #recordExport} saw: nobody rewrote it since. */
  boolean exportUnchanged(Path file) {
    long[] stat = stat(file);
    for (int i = 0; i < stat.length; i++) {
      if ((long) LONGS.getVolatile(page, OFF_EXPORT + i * 8) != stat[i]) {
        return false;
      }
    }
    return true;
  }

  /** dev, ino, size, mtime and ctime in nanoseconds; all zero for a missing file. */
  static long[] stat(Path file) {
    try {
      FileStat a = FileStat.ofLink(file);
      return a == null ? new long[5] : new long[] {a.dev(), a.ino(), a.size(), a.mtimeNanos(), a.ctimeNanos()};
    } catch (IOException | UnsupportedOperationException e) {
      throw new CacheException("cannot stat", file, e);
    }
  }

  @Override
  public void close() {
    lock.close();
    closeChannel();
  }

  private void closeChannel() {
    try {
      channel.close();
    } catch (IOException e) {
      throw new CacheException("cannot close the state file", path, e);
    }
  }
}
