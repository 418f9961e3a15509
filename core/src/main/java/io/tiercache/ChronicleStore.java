package io.tiercache;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import java.util.function.Supplier;
import net.openhft.chronicle.bytes.BytesStore;
import net.openhft.chronicle.hash.Data;
import net.openhft.chronicle.hash.locks.InterProcessDeadLockException;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ChronicleMapBuilder;
import net.openhft.chronicle.map.ExternalMapQueryContext;
import net.openhft.chronicle.map.MapEntry;

/**
 * The persistent tier on one memory-mapped Chronicle Map file, {@code <name>.cmap}, shared by
 * every process on the host: a put is in every process's view when it returns, with no refresh.
 *
 * <p>Keys are {@code <generation>:<key>} and values are the write time (8 bytes) followed by the
 * encoded JSON. The generation lives in {@link ChronicleState}: {@link #replaceAll} (and a clear,
 * an empty replace) writes the new content under a generation never used before and then commits
 * it with one store, so other processes see the old content or the new, never a mix. Entries of
 * older generations and expired entries are removed by {@link #purge}, on open, after a clear or
 * replace, and in the background when the oldest entry may have expired.
 *
 * <p>Front tiers stay coherent through the state's changes ring: each write announces its key,
 * and {@link #poll} (before each front-tier read) drops the keys other processes announced.
 *
 * <p>Clears and replaces take {@code <name>.lock} (the {@code flock} the JSON store uses), as do
 * opening and closing, which keep the count of processes that have the map open: an opener that
 * finds the count above zero while no process holds the map open recovers the file (its last
 * writer was killed, perhaps in the middle of a write) with Chronicle's recovery, then restores
 * from the killed processes' {@link ChronicleUndo} files the values whose overwrite a kill cut.
 */
final class ChronicleStore implements PersistentStore {
  private static final System.Logger LOG = System.getLogger(ChronicleStore.class.getName());
  private static final VarHandle WRITE_TIME = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
  private static final int HEADER = Long.BYTES;
  /** Asset ids are short (UUIDs, slugs); Chronicle sizes segments from this and the value size. */
  private static final int AVERAGE_KEY_BYTES = 40;

  private final StoreSpec.ChronicleMap sizes;
  private final java.time.Clock clock;
  private final Durability durability;
  private final Path file;
  private final ChronicleMap<String, byte[]> map;
  private final ChronicleState state;
  final ChronicleUndo undo; // package-private for tests
  private final LockFile lock;
  /** The map file as checked at open; its descriptor forces it (see {@link FileOps#forceData}). */
  private final FileOps.Held checkedFile;
  private final long ttlMillis;
  private final long graceMillis;
  private final Listeners listeners = new Listeners();
  private final AtomicLong writes = new AtomicLong();
  private final Object syncLock = new Object();
  private final Object pollLock = new Object();
  /** Scheduled by {@link #start}, once the open can no longer fail. */
  private ScheduledFuture<?> purger;
  /** Incremented by a replace and by a poll that drops every front-tier value, which no lock orders. */
  private final AtomicLong epoch = new AtomicLong();
  private long synced;
  private boolean closed;

  private ChronicleStore(StoreConfig config, StoreSpec.ChronicleMap sizes, ChronicleMap<String, byte[]> map,
      FileOps.Held checked, ChronicleState state, ChronicleUndo undo, LockFile lock) {
    this.sizes = sizes;
    this.clock = config.clock();
    this.durability = config.durability();
    this.file = config.files().chronicleMap();
    this.map = map;
    this.state = state;
    this.undo = undo;
    this.lock = lock;
    this.ttlMillis = config.expireAfter().toMillis();
    this.graceMillis = config.staleGrace().toMillis();
    this.checkedFile = checked;
  }

  /** Schedules the purger: last in {@link #open}, so that a failed open leaves no task behind. */
  private synchronized void start() {
    long period = Math.max(1_000, Math.min(60_000, ttlMillis / 10));
    purger = Maintenance.COMPACTOR.scheduleWithFixedDelay(this::purgeIfDue, period, period, TimeUnit.MILLISECONDS);
  }

  static ChronicleStore open(StoreConfig config, StoreSpec.ChronicleMap sizes) {
    LockFile lock = new LockFile(config.files().lock(), config.lockTimeout(), config.fileOps());
    ChronicleState state = null;
    MapFile mapFile = null;
    ChronicleUndo undo = null;
    boolean counted = false;
    initializeChronicle();
    lock.lock();
    try {
      state = new ChronicleState(config.files().chronicleState(), config.fileOps());
      boolean alone = state.nobodyElseLive();
      mapFile = new MapFile(config.files().chronicleMap(), config.fileOps(), builder(config.name(), sizes));
      ChronicleMap<String, byte[]> map = mapFile.open(alone, alone ? state.openers() : 0);
      mapFile.map = map;
      if (alone) {
        String foreign = foreignEntries(map);
        if (foreign != null) {
          map = mapFile.setAside(foreign); // damaged as a file Chronicle cannot open is: kept, never deleted
        }
        ChronicleUndo.restore(config.files(), config.fileOps(), map, mapFile.checked.channel()); // after recovery removed what kills cut
        state.resetOpeners();
      }
      boolean durable = config.durability() == Durability.FSYNC;
      undo = ChronicleUndo.create(config.files(), config.fileOps(), durable);
      state.markLive();
      state.addOpeners(1); // before the purge: a kill in the middle of its removals makes the next opener recover
      counted = true;
      ChronicleStore store = new ChronicleStore(config, sizes, map, mapFile.checked, state, undo, lock);
      store.purge(alone);
      if (durable) {
        store.flush(); // after a power loss, the next opener sees this one's count, so it recovers and restores
      }
      store.start(); // nothing fails after this
      return store;
    } catch (RuntimeException | Error e) {
      if (counted) {
        state.addOpeners(-1); // under the open lock still: else the next opener alone would recover for nothing
      }
      if (undo != null) {
        undo.close();
      }
      if (mapFile != null) {
        mapFile.close();
      }
      if (state != null) {
        state.close();
      }
      lock.close();
      throw e;
    } finally {
      lock.unlock();
    }
  }

  private static boolean chronicleInitialized;

  /**
   * Chronicle Map generates and compiles code the first time a JVM builds a map: 3 s of a 3.4 s
   * open in a fresh JVM here. Done once, on an in-memory map, before taking the lock, so that many
   * processes starting together do not queue behind each other's compilations (16 did not all get
   * the lock within 2 minutes).
   */
  private static synchronized void initializeChronicle() {
    if (!chronicleInitialized) {
      ChronicleMap.of(String.class, byte[].class).entries(1).averageKeySize(8).averageValueSize(8).create().close();
      chronicleInitialized = true;
    }
  }

  static ChronicleMapBuilder<String, byte[]> builder(String name, StoreSpec.ChronicleMap sizes) {
    return ChronicleMap.of(String.class, byte[].class)
        .name(name)
        .entries(sizes.entries())
        .averageKeySize(AVERAGE_KEY_BYTES)
        .averageValueSize(HEADER + sizes.averageValueBytes());
  }

  /**
   * Opening {@code <name>.cmap} so that nothing planted in a shared directory is followed, trusted
   * or touched. Chronicle Map opens its file itself, by a path it first resolves through links
   * ({@code getCanonicalFile}), and creates it when that path does not exist. So tiercache opens or
   * creates the file first, without following a link and exclusively ({@link FileOps}), refusing a
   * link, a hard-linked file, another user's file or one others may read; then checks the name
   * again just before Chronicle resolves it, and afterwards that Chronicle mapped this very file
   * (the path it resolved is the file's own, and its lock on the file is on this inode).
   *
   * <p>What remains: in a directory where other users may rename or delete this user's files
   * (writable by them without the sticky bit), a name swapped between the last check and
   * Chronicle's own open is detected after it and refused, but Chronicle may have created or
   * written to the swapped-in target by then. A sticky shared directory such as {@code /tmp}
   * leaves no such window: nobody else can rename or delete the checked file.
   */
  static final class MapFile {
    final Path file;
    final FileOps fileOps;
    final ChronicleMapBuilder<String, byte[]> builder;
    FileOps.Held checked;
    /** The map once opened: closed with the file if the store's open fails after it. */
    ChronicleMap<String, byte[]> map;

    MapFile(Path file, FileOps fileOps, ChronicleMapBuilder<String, byte[]> builder) {
      this.file = file;
      this.fileOps = fileOps;
      this.builder = builder;
      try {
        checked = fileOps.openOrCreateHeld(file, FileOps.Use.IN_PLACE, StandardOpenOption.READ,
            StandardOpenOption.WRITE);
      } catch (IOException e) {
        throw new CacheException("cannot open the Chronicle Map file", file, e);
      }
    }

    /**
     * The map; {@code alone}: no other process has it open, so a damaged file may be set aside and
     * an unclosed one ({@code unclosed} openers that ended without closing) recovered.
     */
    ChronicleMap<String, byte[]> open(boolean alone, long unclosed) {
      try {
        return openOrRepair(alone, unclosed);
      } catch (IOException e) {
        throw new CacheException("cannot open the Chronicle Map file: " + e, file, e);
      }
    }

    private ChronicleMap<String, byte[]> openOrRepair(boolean alone, long unclosed) throws IOException {
      if (alone && size() > 0) {
        String damage = headerDamage();
        if (damage != null) {
          return startOver(damage, null);
        }
        if (unclosed != 0) {
          return recover(unclosed);
        }
      }
      try {
        return chronicle(false, null);
      } catch (CacheException refused) {
        throw refused;
      } catch (IOException | RuntimeException e) {
        if (!alone) {
          throw new CacheException("cannot open the Chronicle Map file: " + e, file, e);
        }
        return startOver("Chronicle Map cannot open it: " + e, e);
      }
    }

    private ChronicleMap<String, byte[]> recover(long unclosed) throws IOException {
      List<String> problems = new ArrayList<>();
      ChronicleMap<String, byte[]> map;
      try {
        map = chronicle(true, problems);
      } catch (CacheException e) {
        throw e;
      } catch (IOException | RuntimeException e) {
        return startOver("Chronicle Map cannot recover it: " + e, e);
      }
      LOG.log(Level.WARNING, "tiercache: " + file + " was left open by " + unclosed + " process(es) that ended"
          + " without closing it (killed?); recovered it with Chronicle Map's recovery"
          + (problems.isEmpty() ? ", which found nothing damaged" : "; it repaired: " + String.join("; ", problems)));
      return map;
    }

    /**
     * Closes the open map, moves its file aside (never deleted) and creates an empty map in a new one.
     * Call alone with the map, under the open lock.
     */
    ChronicleMap<String, byte[]> setAside(String reason) {
      map.close();
      map = null;
      try {
        map = startOver(reason, null);
        return map;
      } catch (IOException e) {
        throw new CacheException("cannot create the Chronicle Map file: " + e, file, e);
      }
    }

    /** Moves the file aside (never deleted) and creates an empty map in a new one. */
    private ChronicleMap<String, byte[]> startOver(String reason, Throwable cause) throws IOException {
      checked.close();
      FileOps.moveAside(file, reason);
      try {
        checked = fileOps.createHeld(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        return chronicle(false, null);
      } catch (IOException | RuntimeException e) {
        if (cause != null) {
          e.addSuppressed(cause);
        }
        throw e instanceof CacheException ? (CacheException) e
            : new CacheException("cannot create the Chronicle Map file: " + e, file, e);
      }
    }

    /** Chronicle's open of the checked file, between the two checks the class comment describes. */
    private ChronicleMap<String, byte[]> chronicle(boolean recover, List<String> problems) throws IOException {
      fileOps.requireTrusted(file, FileOps.Use.IN_PLACE);
      ChronicleMap<String, byte[]> map = recover
          ? builder.recoverPersistedTo(file.toFile(), true, c -> problems.add(c.message()))
          : builder.createPersistedTo(file.toFile());
      try {
        requireMapped(map);
        return map;
      } catch (RuntimeException e) {
        map.close();
        throw e;
      }
    }

    /**
     * Checks that Chronicle mapped the checked file: by the path it resolved, and by its shared
     * lock on the whole file, which this JVM refuses to overlap on the same inode only.
     */
    private void requireMapped(ChronicleMap<String, byte[]> map) throws IOException {
      Path resolved = map.file().toPath();
      Path expected = file.toAbsolutePath().getParent().toRealPath().resolve(file.getFileName());
      if (!resolved.equals(expected)) {
        throw new CacheException("Chronicle Map resolved the file to " + resolved + ", outside what was checked"
            + " (was it replaced by a link while opening?); refused it", file);
      }
      FileLock probe;
      try {
        probe = checked.channel().tryLock(0, 1, true);
      } catch (OverlappingFileLockException sameFile) {
        return;
      }
      if (probe != null) {
        probe.release();
      }
      throw new CacheException("Chronicle Map mapped another file than the one checked (was it replaced while"
          + " opening?), or its file locking is switched off (chronicle.map.disable.locking); refused it", file);
    }

    private long size() throws IOException {
      return checked.channel().size();
    }

    /**
     * Why the file is not a finished Chronicle Map, or null. Its self-bootstrapping header: 8 bytes
     * of checksum, a 4-byte length word (its top bit set until the header is complete) and the
     * header text, a type tag. Chronicle would wait a minute for another process to finish writing
     * a header before failing; called only when no process has the map open, so nobody is.
     */
    private String headerDamage() throws IOException {
      ByteBuffer head = ByteBuffer.allocate(12 + HEADER_TYPE.length).order(ByteOrder.LITTLE_ENDIAN);
      while (head.hasRemaining() && checked.channel().read(head, head.position()) > 0) {
        // read until full or end of file
      }
      if (head.hasRemaining()
          || !java.util.Arrays.equals(head.array(), 12, head.capacity(), HEADER_TYPE, 0, HEADER_TYPE.length)) {
        return "not a Chronicle Map file";
      }
      int headerWord = head.getInt(8);
      if (headerWord == 0 || (headerWord & NOT_COMPLETE) != 0) {
        return "its creator ended before writing the Chronicle Map header";
      }
      return null;
    }

    void close() {
      if (map != null) {
        map.close();
      }
      try {
        checked.close();
      } catch (IOException e) {
        LOG.log(Level.WARNING, "tiercache: cannot close " + file, e);
      }
    }
  }

  private static final byte[] HEADER_TYPE = "!net.openhft.chronicle".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private static final int NOT_COMPLETE = 0x8000_0000;

  // ---------------------------------------------------------------- reads

  private static String key(long generation, String name) {
    return generation + ":" + name;
  }

  /**
   * The generation of a stored key, {@code <generation>:<key>}; -1 for a key not in that form, which
   * tiercache did not write: never served, purged or parsed into an exception.
   */
  static long generationOf(String stored) {
    int colon = stored.indexOf(':');
    if (colon <= 0 || colon > 18) {
      return -1; // 18 digits: no overflow
    }
    long generation = 0;
    for (int i = 0; i < colon; i++) {
      char c = stored.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      generation = generation * 10 + (c - '0');
    }
    return generation;
  }

  /**
   * Why {@code map} is not a tiercache map, or null: entries tiercache did not write (a key not in
   * {@code <generation>:<key>} form, a value shorter than its write time). Such a map is damaged, as a
   * file Chronicle cannot open is, and is set aside: a store serving it would skip what it cannot read.
   */
  static String foreignEntries(ChronicleMap<String, byte[]> map) {
    long[] foreign = {0};
    map.forEachEntry(e -> {
      if (generationOf(e.key().get()) < 0 || e.value().size() < HEADER) {
        foreign[0]++;
      }
    });
    return foreign[0] == 0 ? null : "it holds " + foreign[0] + " entries tiercache did not write (a key not in"
        + " <generation>:<key> form, or a value shorter than its 8-byte write time)";
  }

  /** The stored form of a value: its write time, then its JSON. */
  static byte[] framed(long writtenMillis, byte[] encoded) {
    byte[] stored = new byte[HEADER + encoded.length];
    WRITE_TIME.set(stored, 0, writtenMillis);
    System.arraycopy(encoded, 0, stored, HEADER, encoded.length);
    return stored;
  }

  private long deadline(byte[] stored) {
    return (long) WRITE_TIME.get(stored, 0) + ttlMillis;
  }

  /** The write time at the head of a stored value, read in place (big-endian, as {@link #framed} writes it). */
  private static long writeTime(Data<byte[]> stored) {
    long raw = stored.bytes().readLong(stored.offset()); // in the platform's order
    return ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN ? raw : Long.reverseBytes(raw);
  }

  /**
   * Per thread: a stored key ({@code <generation>:<key>}, UTF-8, which is how Chronicle serializes
   * a String key) and a stored value (write time, then JSON), built in arrays reused from call to
   * call and wrapped for Chronicle once, for a query context. A put or a remove then allocates no
   * key string, no framed copy and no copy of the value it replaces (issue 15: each showed in the
   * allocation profile; 856 bytes a put at the store before, 40 after).
   */
  private static final class Scratch {
    private static final ThreadLocal<Scratch> CURRENT = ThreadLocal.withInitial(Scratch::new);

    byte[] key = new byte[64];
    BytesStore<?, byte[]> keyBytes = BytesStore.wrap(key);
    int keyLength;
    /** Where the cache key's own bytes start in {@link #key}, after the generation and ':'. */
    int nameOffset;
    byte[] value = new byte[256];
    BytesStore<?, byte[]> valueBytes = BytesStore.wrap(value);
    int valueLength;

    /**
     * Builds the stored key; false when {@code name} holds a surrogate, whose encoding by Chronicle is
     * not known to be UTF-8's (callers then use the String key).
     */
    boolean key(long generation, String name) {
      int most = 20 + 1 + 3 * name.length();
      if (key.length < most) {
        key = new byte[Math.max(most, key.length * 2)];
        keyBytes = BytesStore.wrap(key);
      }
      int at = 1;
      for (long g = generation; g >= 10; g /= 10) {
        at++;
      }
      long g = generation;
      for (int i = at - 1; i >= 0; i--, g /= 10) {
        key[i] = (byte) ('0' + g % 10);
      }
      key[at++] = ':';
      nameOffset = at;
      for (int i = 0; i < name.length(); i++) {
        char c = name.charAt(i);
        if (c < 0x80) {
          key[at++] = (byte) c;
        } else if (c < 0x800) {
          key[at++] = (byte) (0xC0 | c >> 6);
          key[at++] = (byte) (0x80 | c & 0x3F);
        } else if (Character.isSurrogate(c)) {
          return false;
        } else {
          key[at++] = (byte) (0xE0 | c >> 12);
          key[at++] = (byte) (0x80 | c >> 6 & 0x3F);
          key[at++] = (byte) (0x80 | c & 0x3F);
        }
      }
      keyLength = at;
      return true;
    }

    void value(long writtenMillis, byte[] encoded) {
      int length = HEADER + encoded.length;
      if (value.length < length) {
        value = new byte[Math.max(length, value.length * 2)];
        valueBytes = BytesStore.wrap(value);
      }
      WRITE_TIME.set(value, 0, writtenMillis);
      System.arraycopy(encoded, 0, value, HEADER, encoded.length);
      valueLength = length;
    }

    ExternalMapQueryContext<String, byte[], ?> query(ChronicleMap<String, byte[]> map) {
      return map.queryContext(keyBytes, 0, keyLength);
    }
  }

  @Override
  public Value get(String key) {
    return read(key, 0);
  }

  @Override
  public Value getStale(String key) {
    return graceMillis <= 0 ? null : read(key, graceMillis);
  }

  /**
   * The value unless it expired more than {@code grace} ago. Through Chronicle's {@code get}, which
   * has a fast path of its own: a query context on {@link Scratch}'s key bytes saves the key string
   * but costs more than it saves (store-level thread CPU time per get, 100k entries: 1.15-1.29x raw
   * Chronicle Map's get that way, 1.04x this way).
   */
  private Value read(String key, long grace) {
    byte[] stored;
    try {
      stored = map.get(key(state.generation(), key));
    } catch (InterProcessDeadLockException e) {
      throw deadLock(e);
    }
    if (stored == null || stored.length < HEADER) {
      return null; // a value shorter than a write time is not tiercache's
    }
    long deadline = deadline(stored);
    if (clock.millis() - grace >= deadline) {
      return null;
    }
    return new Value(new Encoded(stored, HEADER, stored.length - HEADER, 0), deadline);
  }

  @Override
  public void forEach(BiConsumer<String, Value> action) {
    forEach(0, action);
  }

  @Override
  public void forEachStale(BiConsumer<String, Value> action) {
    if (graceMillis > 0) {
      forEach(graceMillis, action);
    }
  }

  /** Visits the entries whose deadline plus {@code grace} has not passed. */
  private void forEach(long grace, BiConsumer<String, Value> action) {
    String prefix = state.generation() + ":";
    long now = clock.millis();
    try {
      map.forEachEntry(e -> {
        String key = e.key().get();
        if (key.startsWith(prefix) && e.value().size() >= HEADER) {
          byte[] stored = e.value().getUsing(null); // get() may hand out one reused array
          long deadline = deadline(stored);
          if (now - grace < deadline) {
            action.accept(key.substring(prefix.length()),
                new Value(new Encoded(stored, HEADER, stored.length - HEADER, 0), deadline));
          }
        }
      });
    } catch (InterProcessDeadLockException e) {
      throw deadLock(e);
    }
  }

  /**
   * Live entries of the current generation, counted: the map's own count also holds the next
   * generation while a replace writes it (in any process) and the old one until the purge after it.
   */
  @Override
  public long size() {
    purgeIfDue();
    String prefix = state.generation() + ":";
    long now = clock.millis();
    long[] live = {0};
    try {
      map.forEachEntry(e -> {
        if (e.key().get().startsWith(prefix) && e.value().size() >= HEADER && writeTime(e.value()) + ttlMillis > now) {
          live[0]++;
        }
      });
    } catch (InterProcessDeadLockException e) {
      throw deadLock(e);
    }
    return live[0];
  }

  @Override
  public long expiresAtMillis() {
    long now = clock.millis();
    long latest = state.lastWriteMillis() + ttlMillis;
    return latest > now && size() > 0 ? latest : now + ttlMillis;
  }

  @Override
  public long epoch() {
    return epoch.get();
  }

  @Override
  public void poll() {
    if (state.behind()) {
      if (FrontMaintenance.computing()) {
        // A read inside a compute function: dropping keys from the front tier there would lock them
        // while a key is locked, and wait for pollLock. The front tiers are unconfirmed instead
        // (frontConfirmed) until a poll outside a compute delivers the changes. Not a new epoch: that
        // would tell removal() that every held value was cleared, and drop their removal events.
        return;
      }
      synchronized (pollLock) {
        state.deliver(key -> {
          if (key == null) {
            epoch.incrementAndGet();
          }
          listeners.publish(null, key);
        });
      }
    }
  }

  /** Unconfirmed while other writers' changes wait undelivered: a front value is then a miss, read from the map. */
  @Override
  public boolean frontConfirmed(long nowMillis) {
    return !state.behind();
  }

  @Override
  public void refresh() {
    poll();
  }

  // ---------------------------------------------------------------- writes

  /**
   * Written in place through a query context (see {@link Scratch}); an existing value is replaced
   * through the undo file, so a kill in the middle of the replace does not lose it.
   */
  @Override
  public Write put(String key, byte[] encoded) {
    long epochBefore = epoch.get(); // read first: a clear in between leaves the front-tier value stale
    long now = clock.millis();
    long generation = state.generation();
    Scratch s = Scratch.CURRENT.get();
    boolean bytesKey = s.key(generation, key);
    s.value(now, encoded);
    try (ExternalMapQueryContext<String, byte[], ?> c = bytesKey ? s.query(map)
        : map.queryContext(key(generation, key))) {
      c.writeLock().lock();
      Data<byte[]> value = c.wrapValueBytesAsData(s.valueBytes, 0, s.valueLength);
      MapEntry<String, byte[]> entry = c.entry();
      if (entry != null) {
        undo.replace(c, entry, value);
      } else {
        c.insert(c.absentEntry(), value);
      }
    } catch (IllegalStateException | IllegalArgumentException e) {
      throw full(e);
    } catch (InterProcessDeadLockException e) {
      throw deadLock(e);
    }
    if (bytesKey) {
      state.announce(s.key, s.nameOffset, s.keyLength - s.nameOffset);
    } else {
      state.announce(key);
    }
    state.wrote(now);
    return new Write(writes.incrementAndGet(), epochBefore, now + ttlMillis);
  }

  @Override
  public Write remove(String key) {
    long epochBefore = epoch.get();
    long generation = state.generation();
    Scratch s = Scratch.CURRENT.get();
    try {
      if (s.key(generation, key)) {
        try (ExternalMapQueryContext<String, byte[], ?> c = s.query(map)) {
          c.writeLock().lock();
          MapEntry<String, byte[]> entry = c.entry();
          if (entry != null) {
            c.remove(entry);
          }
        }
      } else {
        map.remove(key(generation, key));
      }
    } catch (InterProcessDeadLockException e) {
      throw deadLock(e);
    }
    state.announce(key);
    return new Write(writes.incrementAndGet(), epochBefore, clock.millis() + ttlMillis);
  }

  @Override
  public Write clear() {
    return replaceAll(Map.of());
  }

  /** Synchronized: the lock file is not thread-safe, and a replace must not interleave with another. */
  @Override
  public synchronized Write replaceAll(Map<String, byte[]> entries) {
    long now = clock.millis();
    lock.lock();
    try {
      long next = state.beginGeneration();
      List<String> written = new ArrayList<>(entries.size());
      try {
        for (Map.Entry<String, byte[]> e : entries.entrySet()) {
          byte[] stored = framed(now, e.getValue());
          String stateKey = key(next, e.getKey());
          guard(() -> map.put(stateKey, stored));
          written.add(stateKey);
        }
      } catch (RuntimeException e) {
        written.forEach(map::remove); // uncommitted: the old content stays whole
        throw e;
      }
      if (durability == Durability.FSYNC) {
        force(); // the new content before the commit: else a power loss could keep the commit alone
      }
      state.commitGeneration(next); // every process now reads the new generation
      if (durability == Durability.FSYNC) {
        state.force(); // else the opener after a power loss finds the old generation and purges the new
      }
      epoch.incrementAndGet();
      state.wrote(now);
      state.announce(null);
      purge(false);
    } finally {
      lock.unlock();
    }
    return new Write(writes.incrementAndGet(), epoch.get(), now + ttlMillis);
  }

  /** Turns Chronicle's "full" and "entry too large" failures into a {@link CacheException}. */
  private <T> T guard(Supplier<T> write) {
    try {
      return write.get();
    } catch (IllegalStateException | IllegalArgumentException e) {
      throw full(e);
    } catch (InterProcessDeadLockException e) {
      throw deadLock(e);
    }
  }

  /** A segment lock held by a process that died: only an opener alone with the map recovers it. */
  private CacheException deadLock(InterProcessDeadLockException e) {
    return new CacheException("a segment of the Chronicle Map is locked by a process that seems to have died"
        + " while holding it (killed?); the file is recovered when every process has closed it. Chronicle Map"
        + " says: " + e.getMessage(), file, e);
  }

  private CacheException full(RuntimeException e) {
    return new CacheException("cannot store the value: the Chronicle Map is full or the value is too large"
          + " for it (it holds " + map.longSize() + " entries; this cache asks for entries="
          + sizes.entries() + ", averageValueBytes=" + sizes.averageValueBytes()
          + ", but a file keeps the sizes it was created with: export it, delete it and let it be created"
          + " larger). Chronicle Map says: " + e.getMessage(), file, e);
  }

  @Override
  public void await(Write write) {
    if (durability != Durability.FSYNC) {
      return; // the write is in the shared mapping: every process sees it, a killed one loses nothing
    }
    synchronized (syncLock) {
      if (synced >= write.seq) {
        return; // a force by another thread covered it
      }
      long upTo = writes.get();
      force();
      undo.forceReleases();
      synced = upTo;
    }
  }

  /** fsync of the map file: Linux writes back every dirty page of the file, whichever mapping dirtied it. */
  private void force() {
    try {
      FileOps.forceData(checkedFile.channel(), checkedFile.fd());
    } catch (IOException e) {
      throw new CacheException("cannot force the Chronicle Map file to disk", file, e);
    }
  }

  @Override
  public void flush() {
    force();
    undo.force();
    state.force();
  }

  // ---------------------------------------------------------------- expiry

  private void purgeIfDue() {
    if (!closed && clock.millis() >= state.minWriteMillis() + ttlMillis + graceMillis) {
      purge(false);
    }
  }

  /**
   * Removes expired entries (once their stale grace is over too) and those of older generations;
   * with {@code all}, also those of newer generations (a replace that never committed: only safe
   * under the lock, when opening). Processes configured with different graces keep expired entries
   * for the shortest.
   */
  private synchronized void purge(boolean all) {
    long started = clock.millis();
    long generation = state.generation();
    long[] oldest = {Long.MAX_VALUE};
    try {
      map.forEachEntry(e -> {
        String key = e.key().get();
        long entryGeneration = generationOf(key);
        if (entryGeneration < 0 || e.value().size() < HEADER) {
          return; // not tiercache's: left as it is (an opener alone with the map sets such a map aside)
        }
        if (entryGeneration < generation || (all && entryGeneration > generation)) {
          e.doRemove();
        } else if (entryGeneration == generation) {
          long written = writeTime(e.value());
          if (written + ttlMillis + graceMillis <= started) {
            e.doRemove();
          } else {
            oldest[0] = Math.min(oldest[0], written);
          }
        }
      });
    } catch (InterProcessDeadLockException e) {
      throw deadLock(e);
    }
    // Writes racing this scan are no older than its start: the bound stays a lower bound.
    state.setMinWriteMillis(Math.min(oldest[0], started));
  }

  // ---------------------------------------------------------------- the rest

  @Override
  public Listeners listeners() {
    return listeners;
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (purger != null) {
      purger.cancel(false);
    }
    try {
      if (durability == Durability.FSYNC) {
        flush();
      }
    } finally {
      lock.lock();
      try {
        state.addOpeners(-1);
        map.close();
        checkedFile.close();
      } catch (IOException e) {
        throw new CacheException("cannot close the Chronicle Map file", file, e);
      } finally {
        undo.close();
        state.close();
        lock.unlock();
        lock.close();
      }
    }
  }

  /** For tests: ends as a killed process does, leaving the open count up and the liveness lock gone. */
  synchronized void abandon() {
    closed = true;
    if (purger != null) {
      purger.cancel(false);
    }
    map.close();
    try {
      checkedFile.close();
    } catch (IOException e) {
      throw new CacheException("cannot close the Chronicle Map file", file, e);
    }
    undo.abandon();
    state.close();
    lock.close();
  }

  @Override
  public String toString() {
    return "ChronicleStore[" + file + "]";
  }
}
