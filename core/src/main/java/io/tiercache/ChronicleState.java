package io.tiercache;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The Chronicle Map store's shared memory beside the map, {@code <name>.cmap.state}: the
 * current generation, write-time bounds, the count of processes that opened the map and did not
 * close it, and a ring of recent changes that lets every process drop exactly the front-tier
 * entries another process replaced, at the cost of one volatile read per front-tier hit.
 *
 * <p>Changes ring: a writer takes a sequence number ({@code getAndAdd} on the shared counter) and
 * writes the changed key into slot {@code seq % SLOTS} under a per-slot stamp (a seqlock). A
 * reader that finds the counter moved reads the slots it has not seen; a slot whose stamp is not
 * the expected one (not written yet, or overwritten by a writer a lap ahead) means changes were
 * missed, and the reader drops its whole front tier instead: never stale, sometimes cold.
 *
 * <p>Liveness: each open store holds a shared {@code flock} on its own descriptor of this file
 * ({@link Flock}). An opener that can take an exclusive one on a descriptor holding none knows no
 * process, and no other store of this JVM whatever class loader loaded it, has the map open; if the
 * open count is then not zero, a process died with the map open and the map is recovered. Closing
 * another descriptor of the file (another store's close, a failed open's cleanup) drops nothing, as it
 * would drop an {@code fcntl} lock. On Windows a shared {@code FileChannel} lock on a byte of its own
 * stands in.
 */
final class ChronicleState implements AutoCloseable {
  private static final long MAGIC = 0x7469657263686d31L; // "tierchm1"
  static final int SLOTS = 4096;
  private static final int SLOT_BYTES = 128;
  static final int MAX_NAME_BYTES = SLOT_BYTES - 16;
  private static final int RING = 4096;
  private static final int SIZE = RING + SLOTS * SLOT_BYTES;

  private static final int OFF_MAGIC = 0;
  private static final int OFF_OPENERS = 64;
  private static final int OFF_GENERATION = 128;
  private static final int OFF_SEQ = 192;
  private static final int OFF_LAST_WRITE = 256;
  private static final int OFF_MIN_WRITE = 320;
  private static final int OFF_BEGUN = 384;

  private static final short ALL = -1;
  private static final short TOO_LONG = -2;

  private static final VarHandle LONGS =
      MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.nativeOrder());
  /** Windows: gives each open state in this JVM its own lock byte, as Java refuses overlapping locks in one JVM. */
  private static final AtomicLong LOCK_BYTES = new AtomicLong();

  private final Path path;
  private final FileOps fs;
  private final FileChannel channel;
  /** The descriptor this store's {@code flock} is on; -1 on Windows. */
  private final int fd;
  private final MappedByteBuffer buf;
  private final int writer = java.util.concurrent.ThreadLocalRandom.current().nextInt(1, Integer.MAX_VALUE);
  /** Windows only. */
  private FileLock liveness;
  private long seen;

  ChronicleState(Path path, FileOps fs) {
    this.path = path;
    this.fs = fs;
    try {
      FileOps.Held held = fs.openOrCreateHeld(path, FileOps.Use.IN_PLACE, StandardOpenOption.READ,
          StandardOpenOption.WRITE);
      channel = held.channel();
      fd = held.fd();
    } catch (IOException e) {
      throw new CacheException("cannot open the Chronicle Map state file", path, e);
    }
    try {
      requireFormat();
      buf = channel.map(FileChannel.MapMode.READ_WRITE, 0, SIZE); // grows a new file; new bytes are zero
    } catch (IOException | RuntimeException e) {
      close();
      throw e instanceof CacheException ? (CacheException) e
          : new CacheException("cannot map the Chronicle Map state file", path, e);
    }
    buf.order(ByteOrder.nativeOrder());
    LONGS.compareAndSet(buf, OFF_MAGIC, 0L, MAGIC);
    seen = sequence();
  }

  /**
   * Refuses, before mapping grows anything, a file that is neither new (empty, or mapped and not yet
   * stamped) nor this format. Openers are serialized by the open lock, so no other is half-way.
   */
  private void requireFormat() throws IOException {
    long size = channel.size();
    if (size == 0) {
      return;
    }
    if (size != SIZE) {
      throw new CacheException("not a tiercache Chronicle Map state file (" + size + " bytes, not " + SIZE
          + "); left as it is", path);
    }
    ByteBuffer magic = ByteBuffer.allocate(Long.BYTES).order(ByteOrder.nativeOrder());
    while (magic.hasRemaining() && channel.read(magic, magic.position()) > 0) {
      // read the 8 bytes
    }
    long found = magic.getLong(0);
    if (found != 0 && found != MAGIC) {
      throw new CacheException("not a tiercache Chronicle Map state file (bad magic); left as it is", path);
    }
  }

  Path path() {
    return path;
  }

  /**
   * True when no other process (or other store in this JVM) has the map open. Call with the
   * opening lock held, before {@link #markLive}.
   */
  boolean nobodyElseLive() {
    if (fd >= 0) {
      int probe;
      try {
        probe = fs.openDescriptor(path, FileOps.Use.IN_PLACE, Posix.O_RDONLY);
        if (!FileStat.of(probe).sameFile(FileStat.of(fd))) {
          Posix.close(probe);
          throw new CacheException("the Chronicle Map state file was replaced while opening", path);
        }
      } catch (IOException e) {
        throw new CacheException("cannot open the Chronicle Map state file to probe it", path, e);
      }
      try {
        return Flock.nobodyHolds(probe, path);
      } finally {
        Posix.close(probe);
      }
    }
    try {
      FileLock all = channel.tryLock(0, Long.MAX_VALUE, false);
      if (all == null) {
        return false;
      }
      all.release();
      return true;
    } catch (OverlappingFileLockException e) {
      return false; // another store in this JVM holds its byte
    } catch (IOException e) {
      throw new CacheException("cannot lock the Chronicle Map state file", path, e);
    }
  }

  /** Takes this store's shared liveness lock, held until {@link #close}. */
  void markLive() {
    if (fd >= 0) {
      Flock.lock(fd, Posix.LOCK_SH, path);
      return;
    }
    try {
      liveness = channel.lock(SIZE + LOCK_BYTES.incrementAndGet(), 1, true);
    } catch (IOException e) {
      throw new CacheException("cannot lock the Chronicle Map state file", path, e);
    }
  }

  long openers() {
    return (long) LONGS.getVolatile(buf, OFF_OPENERS);
  }

  void addOpeners(long delta) {
    LONGS.getAndAdd(buf, OFF_OPENERS, delta);
  }

  void resetOpeners() {
    LONGS.setVolatile(buf, OFF_OPENERS, 0L);
  }

  long generation() {
    return (long) LONGS.getVolatile(buf, OFF_GENERATION);
  }

  /**
   * A generation no replace has used before, for the next replace to write under. Never reused: a
   * replace killed before its commit leaves entries under its own number, which a later replace
   * would otherwise fill, commit and serve. Call under the open lock.
   */
  long beginGeneration() {
    long next = Math.max((long) LONGS.getVolatile(buf, OFF_BEGUN), generation()) + 1; // 0 in files made before
    LONGS.setVolatile(buf, OFF_BEGUN, next);
    return next;
  }

  /** Makes {@code begun} the current generation: a clear or a replace commits here. */
  void commitGeneration(long begun) {
    LONGS.setVolatile(buf, OFF_GENERATION, begun);
  }

  long lastWriteMillis() {
    return (long) LONGS.getVolatile(buf, OFF_LAST_WRITE);
  }

  /** A lower bound of the live entries' write times; {@link Long#MAX_VALUE} when none. */
  long minWriteMillis() {
    long min = (long) LONGS.getVolatile(buf, OFF_MIN_WRITE);
    return min == 0 ? Long.MAX_VALUE : min; // 0: a new file, nothing written yet
  }

  void setMinWriteMillis(long millis) {
    LONGS.setVolatile(buf, OFF_MIN_WRITE, millis == Long.MAX_VALUE ? 0L : millis);
  }

  /** Records a write at {@code millis}: raises the last-write time, lowers the minimum. */
  void wrote(long millis) {
    long last;
    while ((last = lastWriteMillis()) < millis && !LONGS.compareAndSet(buf, OFF_LAST_WRITE, last, millis)) {
      Thread.onSpinWait();
    }
    long raw;
    while (((raw = (long) LONGS.getVolatile(buf, OFF_MIN_WRITE)) == 0 || raw > millis)
        && !LONGS.compareAndSet(buf, OFF_MIN_WRITE, raw, millis)) {
      Thread.onSpinWait();
    }
  }

  // ---------------------------------------------------------------- the changes ring

  private long sequence() {
    return (long) LONGS.getVolatile(buf, OFF_SEQ);
  }

  /** Announces that {@code key} changed; null: everything changed (a clear or a replace). */
  void announce(String key) {
    if (key == null) {
      announce(null, 0, 0);
    } else {
      byte[] name = key.getBytes(StandardCharsets.UTF_8);
      announce(name, 0, name.length);
    }
  }

  /**
   * Announces that the key whose UTF-8 bytes are {@code name[offset, offset + length)} changed;
   * a null {@code name}: everything changed.
   */
  void announce(byte[] name, int offset, int length) {
    long seq = (long) LONGS.getAndAdd(buf, OFF_SEQ, 1L);
    int slot = RING + (int) (seq % SLOTS) * SLOT_BYTES;
    LONGS.setOpaque(buf, slot, 0L); // readers of an older lap see a torn slot as "missed"
    VarHandle.storeStoreFence();
    buf.putInt(slot + 8, writer);
    if (name == null) {
      buf.putShort(slot + 12, ALL);
    } else if (length > MAX_NAME_BYTES) {
      buf.putShort(slot + 12, TOO_LONG);
    } else {
      buf.putShort(slot + 12, (short) length);
      buf.put(slot + 16, name, offset, length);
    }
    LONGS.setRelease(buf, slot, seq + 1);
  }

  /** True when other writers announced changes this state has not delivered yet: one volatile read. */
  boolean behind() {
    return sequence() != seen;
  }

  /**
   * Delivers the changes announced since the last call by other writers: each changed key to
   * {@code changed}, and a null when everything changed or changes were missed. Not
   * thread-safe: the store calls it under its own lock.
   */
  void deliver(Consumer<String> changed) {
    long end = sequence();
    boolean missed = end - seen > SLOTS;
    for (long seq = missed ? end : seen; seq < end; seq++) {
      int slot = RING + (int) (seq % SLOTS) * SLOT_BYTES;
      if ((long) LONGS.getAcquire(buf, slot) != seq + 1) {
        missed = true;
        break;
      }
      int from = buf.getInt(slot + 8);
      short length = buf.getShort(slot + 12);
      byte[] name = length >= 0 ? new byte[length] : null; // the empty key is a key
      if (name != null) {
        buf.get(slot + 16, name, 0, length);
      }
      VarHandle.loadLoadFence();
      if ((long) LONGS.getOpaque(buf, slot) != seq + 1) {
        missed = true;
        break;
      }
      if (from == writer) {
        continue; // this store's own write: its front tiers are already right
      }
      if (length < 0) {
        missed = true; // a clear, a replace, or a key too long for a slot: drop everything once
      } else {
        changed.accept(new String(name, 0, length, StandardCharsets.UTF_8));
      }
    }
    seen = end;
    if (missed) {
      changed.accept(null);
    }
  }

  /** Makes the counters (the generation, the count of openers) durable (FSYNC); the ring need not be. */
  void force() {
    buf.force(0, RING);
  }

  @Override
  public void close() {
    try {
      if (liveness != null && liveness.isValid()) {
        liveness.release();
      }
      if (fd >= 0 && channel.isOpen()) {
        Posix.close(fd); // its flock goes with it; once: the number may be another file's afterwards
      }
      channel.close();
    } catch (IOException e) {
      throw new CacheException("cannot close the Chronicle Map state file", path, e);
    }
  }
}
