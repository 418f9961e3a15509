package io.tiercache;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.ReentrantLock;
import java.util.zip.CRC32C;
import net.openhft.chronicle.bytes.BytesStore;
import net.openhft.chronicle.hash.Data;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ExternalMapQueryContext;
import net.openhft.chronicle.map.MapEntry;

/**
 * A rollback journal for Chronicle Map's in-place overwrites. Chronicle Map writes a new value
 * over the old one and then the entry's checksum; a process killed in between leaves a checksum
 * that does not match, and Chronicle's recovery removes the entry, so the key loses its earlier,
 * acknowledged value too. Before such a replace the store copies the entry as stored (key and
 * value bytes) into this process's undo file, {@code <name>.cmap.undo-<id>}, and clears the copy
 * once the new value and its checksum are written, all under the entry's segment lock. An opener
 * alone with the map restores, after Chronicle's recovery, each copy whose key recovery removed,
 * and deletes the file. A copy left by a process killed while others keep the map open waits for
 * that recovery; meanwhile no other process can change its key, whose segment the dead process
 * still holds locked (Chronicle reports a dead lock to them).
 *
 * <p>A copy costs a memcpy into a mapped page, not a system call, and a kill does not lose it:
 * the page cache keeps what a killed process wrote to a shared mapping. A power loss would: the
 * kernel may write a half-replaced value to disk at any moment (another writer's {@code fsync} of
 * the map takes every dirty page), so a {@code durable} file (the store is FSYNC) forces each copy
 * before the replace begins, as SQLite syncs its rollback journal before writing the database, and
 * the store forces this file with the map before it acknowledges, so that no copy released before
 * an acknowledgement is found live after a power loss. A copy counts only once it is whole, so a
 * kill while copying leaves none; its own checksum guards against a damaged file, and a copy that
 * does not match it is ignored. Each writing thread uses one of a few slots, each a page-aligned region of the
 * file that holds one copy; a value too large for its slot gets a new, larger region at the end.
 *
 * <p>Region layout (big-endian): {@code int MAGIC, int capacity, int full (1 while a copy is
 * live), int crc32c (of what follows), int keyLength, int valueLength, key bytes, value bytes}.
 */
final class ChronicleUndo implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(ChronicleUndo.class.getName());
  private static final VarHandle INTS = MethodHandles.byteBufferViewVarHandle(int[].class, java.nio.ByteOrder.BIG_ENDIAN);
  private static final int MAGIC = 0x74637531; // "tcu1"
  private static final int PAGE = 4096;
  private static final int OFF_CAPACITY = 4;
  private static final int OFF_FULL = 8;
  private static final int OFF_CRC = 12;
  private static final int OFF_KEY_LENGTH = 16;
  private static final int OFF_VALUE_LENGTH = 20;
  private static final int HEADER = 24;
  /** Enough that threads rarely share a slot; a slot is held for one in-place replace. */
  private static final int SLOTS = Math.min(256, Integer.highestOneBit(4 * Runtime.getRuntime().availableProcessors() - 1) << 1);

  final Path file;
  /** Opened again through {@link #fd} if an interrupt closed it (see {@link #channel()}). */
  @GuardedBy("this")
  private FileChannel channel;
  @GuardedBy("this")
  private boolean closed;
  /** Each copy is on disk before its replace begins. */
  private final boolean durable;
  /** A durable file's copy was released since {@link #forceReleases} last ran. */
  private volatile boolean releasedUnforced;
  /** The descriptor whose exclusive {@code flock} tells a restore this file's writer is alive; -1 on Windows. */
  private final int fd;
  /** Windows only: the {@code FileChannel} lock standing in for the {@code flock}. */
  private final FileLock owned;
  private final Slot[] slots = new Slot[SLOTS];

  /** One region; held by one thread from {@link #keep} to {@link #release}. */
  static final class Slot {
    final ReentrantLock lock = new ReentrantLock();
    @GuardedBy("lock") MappedByteBuffer region;
    @GuardedBy("lock") BytesStore<?, ?> bytes;
    @GuardedBy("lock") final CRC32C crc = new CRC32C();

    /** The copy is done with: a kill from here on leaves the entry whole. */
    void release() {
      INTS.setRelease(region, OFF_FULL, 0);
      lock.unlock();
    }
  }

  private ChronicleUndo(Path file, FileOps.Held held, boolean durable) throws IOException {
    this.file = file;
    this.channel = held.channel();
    this.fd = held.fd();
    this.durable = durable;
    // Tells a recovering opener that this file's writer is alive: a flock, which no other descriptor's
    // close drops (see Flock), where an fcntl lock would go with any close of the file in this JVM.
    if (fd >= 0) {
      Flock.lock(fd, Posix.LOCK_EX, file);
      this.owned = null;
    } else {
      this.owned = channel.lock();
    }
    MappedByteBuffer first = append(SLOTS, PAGE);
    if (durable) {
      channel.force(true);
      FileOps.fsyncDirectory(file.toAbsolutePath().getParent()); // it (and the map beside it) is found after a power loss
    }
    for (int i = 0; i < SLOTS; i++) {
      slots[i] = new Slot();
      slots[i].region = first.slice(i * PAGE, PAGE);
      slots[i].bytes = BytesStore.wrap(slots[i].region);
    }
  }

  /**
   * Creates this process's undo file beside the map, under a name no other process has; {@code durable}
   * copies survive a power loss (see the class comment).
   */
  static ChronicleUndo create(FileNames names, FileOps fileOps, boolean durable) {
    while (true) {
      Path file = names.chronicleUndo(Long.toHexString(ThreadLocalRandom.current().nextLong() | Long.MIN_VALUE));
      FileOps.Held held;
      try {
        held = fileOps.createHeld(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
      } catch (FileAlreadyExistsException taken) {
        continue;
      } catch (IOException e) {
        throw new CacheException("cannot create the Chronicle Map undo file", file, e);
      }
      try {
        return new ChronicleUndo(file, held, durable);
      } catch (IOException | RuntimeException e) {
        try {
          held.close();
          Files.deleteIfExists(file);
        } catch (IOException closing) {
          e.addSuppressed(closing);
        }
        throw e instanceof CacheException ? (CacheException) e
            : new CacheException("cannot set up the Chronicle Map undo file", file, e);
      }
    }
  }

  /**
   * Replaces {@code entry}'s value with {@code value}, its old bytes kept in a slot until the
   * replace and its checksum are written. Call with the entry's segment write lock held; returns
   * with the update lock held.
   *
   * @throws CacheException if the slot cannot grow to hold the entry (the map is left untouched)
   */
  void replace(ExternalMapQueryContext<String, byte[], ?> context, MapEntry<String, byte[]> entry,
      Data<byte[]> value) {
    Slot slot = keep(entry);
    try {
      context.replaceValue(entry, value);
      // Chronicle writes the entry's checksum when the write lock is released, not in the replace:
      // released down to the update lock, which still keeps every other writer out of the segment.
      context.writeLock().unlock();
    } finally {
      slot.release();
      releasedUnforced = durable;
    }
  }

  /**
   * Copies {@code entry} into this thread's slot, which stays held until {@link Slot#release}: a
   * kill in between leaves the copy for {@link #restore}.
   */
  Slot keep(MapEntry<String, byte[]> entry) {
    Slot slot = slots[(int) Thread.currentThread().getId() & (SLOTS - 1)];
    slot.lock.lock();
    try {
      save(slot, entry.key(), entry.value());
      return slot;
    } catch (RuntimeException | Error e) {
      slot.lock.unlock();
      throw e;
    }
  }

  @GuardedBy("slot.lock")
  private void save(Slot slot, Data<String> key, Data<byte[]> value) {
    int keyLength = (int) key.size();
    int valueLength = (int) value.size();
    long needed = (long) HEADER + keyLength + valueLength;
    if (needed > slot.region.capacity()) {
      try {
        grow(slot, needed);
      } catch (IOException e) {
        throw new CacheException("cannot grow the Chronicle Map undo file to keep the value it replaces"
            + " (a disk full?); nothing was written", file, e);
      }
    }
    MappedByteBuffer region = slot.region;
    key.writeTo(slot.bytes, HEADER);
    value.writeTo(slot.bytes, HEADER + keyLength);
    INTS.set(region, OFF_KEY_LENGTH, keyLength); // by a view: wrapping the buffer changed its byte order
    INTS.set(region, OFF_VALUE_LENGTH, valueLength);
    slot.crc.reset();
    slot.crc.update(region.slice(OFF_KEY_LENGTH, (int) needed - OFF_KEY_LENGTH));
    INTS.set(region, OFF_CRC, (int) slot.crc.getValue());
    INTS.setRelease(region, OFF_FULL, 1); // the copy is whole before it counts
    if (durable) {
      try {
        region.force(0, (int) needed);
      } catch (UncheckedIOException e) {
        INTS.setRelease(region, OFF_FULL, 0); // the map is untouched: no copy may stand for it
        throw new CacheException("cannot force the Chronicle Map undo file to disk; nothing was written", file, e);
      }
    }
  }

  /**
   * Forces the releases made so far, if any: a copy released before an acknowledgement must not be
   * live after a power loss. Callers take turns (the store's sync lock), so none returns while
   * another's force is still running.
   */
  void forceReleases() {
    if (releasedUnforced) {
      releasedUnforced = false; // cleared first: a release during the force sets it again
      force();
    }
  }

  /** Forces the whole file. */
  void force() {
    try {
      FileChannel channel;
      synchronized (this) {
        channel = this.channel;
      }
      FileOps.forceData(channel, fd);
    } catch (IOException e) {
      throw new CacheException("cannot force the Chronicle Map undo file to disk", file, e);
    }
  }

  /** Gives {@code slot} a new region of at least {@code needed} bytes at the end of the file, written (not a hole). */
  @GuardedBy("slot.lock")
  private void grow(Slot slot, long needed) throws IOException {
    long capacity = Math.max(PAGE, (needed + PAGE - 1) / PAGE * PAGE);
    if (slot.region != null) {
      capacity = Math.max(capacity, Math.min(Integer.MAX_VALUE / 2, 2L * slot.region.capacity()));
    }
    if (capacity > Integer.MAX_VALUE - PAGE) {
      throw new IOException("a value of " + needed + " bytes is too large to keep a copy of");
    }
    slot.region = append(1, (int) capacity);
    slot.bytes = BytesStore.wrap(slot.region);
  }

  /** Appends {@code count} empty regions of {@code capacity} bytes, written (not a hole), and maps them. */
  private synchronized MappedByteBuffer append(int count, int capacity) throws IOException {
    ByteBuffer regions = ByteBuffer.allocate(count * capacity);
    for (int i = 0; i < count; i++) {
      regions.putInt(i * capacity, MAGIC).putInt(i * capacity + OFF_CAPACITY, capacity);
    }
    return FileOps.settingAsideInterrupt(() -> {
      FileChannel channel = channel();
      long at = channel.size();
      try {
        FileOps.writeFully(channel, regions, at); // blocks allocated now: a full disk fails here, not in a page fault
      } catch (IOException e) {
        channel().truncate(at); // a partial region would hide the regions appended after it from a restore
        throw e;
      }
      return channel.map(FileChannel.MapMode.READ_WRITE, at, regions.capacity());
    });
  }

  /**
   * The open channel: a {@code FileChannel} closes itself, for every thread, when a thread inside one of its
   * calls is interrupted; it is opened again through the descriptor, which names the same file whatever its
   * name holds by then.
   */
  @GuardedBy("this")
  private FileChannel channel() throws IOException {
    if (!channel.isOpen() && !closed && fd >= 0) {
      channel = FileChannel.open(Posix.fdPath(fd, file), StandardOpenOption.READ, StandardOpenOption.WRITE);
    }
    return channel;
  }

  /**
   * Restores from every undo file of a process that is gone each copy whose key is missing from
   * {@code map} (its recovery removed the entry the kill cut), forces {@code mapFile} (the map's
   * file) so that the restored values outlive a power loss, then deletes the file. Call alone
   * with the map, under the open lock, after recovery. A file that is not this format is moved
   * aside; one that may not be trusted (a link, another user's) is left alone and never read.
   */
  static void restore(FileNames names, FileOps fileOps, ChronicleMap<String, byte[]> map, FileChannel mapFile) {
    String prefix = names.chronicleUndo("").getFileName().toString();
    Path dir = names.chronicleMap().toAbsolutePath().getParent();
    List<Path> files = new ArrayList<>();
    try (var listing = Files.newDirectoryStream(dir, p -> isUndoFile(p.getFileName().toString(), prefix))) {
      listing.forEach(files::add);
    } catch (IOException e) {
      throw new CacheException("cannot list the Chronicle Map undo files", dir, e);
    }
    files.sort(null); // a restore is repeatable: where two live copies of a key exist, the same one wins
    for (Path file : files) {
      FileOps.Held held = null;
      try {
        held = fileOps.openHeld(file, FileOps.Use.IN_PLACE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileChannel channel = held.channel();
        // A probe from a descriptor of its own: the flock of a writer alive in this JVM (another store of
        // this cache, another class loader's copy of tiercache) conflicts with it, and its close drops nothing.
        FileLock lock = held.fd() >= 0 ? null : FileOps.lockIfAbandoned(channel);
        if (held.fd() >= 0 ? !Flock.tryLock(held.fd(), Posix.LOCK_EX, file) : lock == null) {
          continue;
        }
        Replay replay = new Replay(file, map);
        replay.all(FileOps.readFully(channel, file));
        if (replay.restored) {
          forceMap(mapFile, names); // before the copies go: else a power loss could take both
        }
        if (replay.damage != null) {
          if (lock != null) {
            lock.release(); // Windows does not move a locked file
          }
          FileOps.moveAside(file, replay.damage);
        } else if (replay.kept) {
          LOG.log(Level.WARNING, "tiercache: kept " + file + ": a value in it could not be restored (above)");
        } else {
          Files.delete(file);
        }
      } catch (NoSuchFileException gone) {
        // another opener's clean close
      } catch (CacheException notOurs) {
        LOG.log(Level.WARNING, "tiercache: left " + file + " alone: " + notOurs.getMessage());
      } catch (IOException e) {
        throw new CacheException("cannot read the Chronicle Map undo file", file, e);
      } finally {
        if (held != null) {
          try {
            held.close();
          } catch (IOException e) {
            LOG.log(Level.WARNING, "tiercache: cannot close the Chronicle Map undo file " + file, e);
          }
        }
      }
    }
  }

  /**
   * The prefix, then the 16 hex digits {@link #create} draws, and nothing else: another cache's name
   * may begin with this one's prefix ({@code m.cmap.undo-x} beside {@code m}), and its files are not ours.
   */
  static boolean isUndoFile(String fileName, String prefix) {
    if (fileName.length() != prefix.length() + 16 || !fileName.startsWith(prefix)) {
      return false;
    }
    for (int i = prefix.length(); i < fileName.length(); i++) {
      char c = fileName.charAt(i);
      if ((c < '0' || c > '9') && (c < 'a' || c > 'f')) {
        return false;
      }
    }
    return true;
  }

  private static void forceMap(FileChannel mapFile, FileNames names) {
    try {
      mapFile.force(false);
    } catch (IOException e) {
      throw new CacheException("cannot force the Chronicle Map file after restoring values into it; the undo file"
          + " that holds them stays", names.chronicleMap(), e);
    }
  }

  /** One undo file's copies, restored into a map. */
  private static final class Replay {
    final Path file;
    final ChronicleMap<String, byte[]> map;
    /** Why the file is not an undo file, or null. */
    String damage;
    /** A copy could not be restored: the file must stay. */
    boolean kept;
    /** A copy was put back into the map. */
    boolean restored;

    Replay(Path file, ChronicleMap<String, byte[]> map) {
      this.file = file;
      this.map = map;
    }

    /** Restores each live, whole copy in {@code content}, the file's bytes. */
    void all(byte[] content) {
      ByteBuffer all = ByteBuffer.wrap(content);
      CRC32C crc = new CRC32C();
      for (int at = 0; at < content.length; ) {
        if (content.length - at < HEADER || all.getInt(at) != MAGIC) {
          damage = "not a tiercache undo file at byte " + at;
          return;
        }
        int capacity = all.getInt(at + OFF_CAPACITY);
        if (capacity < PAGE || capacity % PAGE != 0 || capacity > content.length - at) {
          damage = "a region of " + capacity + " bytes at byte " + at + " does not fit the file";
          return;
        }
        int keyLength = all.getInt(at + OFF_KEY_LENGTH);
        int valueLength = all.getInt(at + OFF_VALUE_LENGTH);
        if (all.getInt(at + OFF_FULL) == 1 && keyLength >= 0 && valueLength >= 0
            && (long) HEADER + keyLength + valueLength <= capacity) {
          crc.reset();
          crc.update(content, at + OFF_KEY_LENGTH, HEADER - OFF_KEY_LENGTH + keyLength + valueLength);
          if ((int) crc.getValue() == all.getInt(at + OFF_CRC)) {
            one(BytesStore.wrap(content), at + HEADER, keyLength, valueLength);
          }
        }
        at += capacity;
      }
    }

    /** Inserts the copy unless its key is in the map (the replace finished, or was never begun). */
    private void one(BytesStore<?, byte[]> content, int keyAt, int keyLength, int valueLength) {
      String key = new String(content.underlyingObject(), keyAt, keyLength, StandardCharsets.UTF_8);
      try (ExternalMapQueryContext<String, byte[], ?> c = map.queryContext(content, keyAt, keyLength)) {
        c.writeLock().lock();
        if (c.entry() == null) {
          c.insert(c.absentEntry(), c.wrapValueBytesAsData(content, keyAt + keyLength, valueLength));
          restored = true;
          LOG.log(Level.WARNING, "tiercache: restored the value of " + key + " that a process killed while"
              + " replacing it had kept in " + file);
        }
      } catch (IllegalStateException | IllegalArgumentException full) {
        kept = true;
        LOG.log(Level.WARNING, "tiercache: cannot restore the value of " + key + " kept in " + file
            + " (the Chronicle Map is full?): " + full.getMessage());
      }
    }
  }

  /** Closes and deletes the file: no replace is in flight once the map is closed. */
  @Override
  public void close() {
    try {
      abandon();
    } finally {
      try {
        Files.deleteIfExists(file);
      } catch (IOException e) {
        throw new CacheException("cannot delete the Chronicle Map undo file", file, e);
      }
    }
  }

  /** Closes the file and leaves it, as a killed process would. */
  synchronized void abandon() {
    try {
      if (owned != null && owned.isValid()) {
        owned.release();
      }
      if (fd >= 0 && !closed) {
        Posix.close(fd); // its flock goes with it; once: the number may be another file's afterwards
      }
      closed = true;
      channel.close();
    } catch (IOException e) {
      throw new CacheException("cannot close the Chronicle Map undo file", file, e);
    }
  }
}
