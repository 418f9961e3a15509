package io.tiercache;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
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
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ChronicleMapBuilder;

/**
 * The persistent tier on one memory-mapped Chronicle Map file, {@code <name>.cmap}, shared by
 * every process on the host: a put is in every process's view when it returns, with no refresh.
 *
 * <p>Keys are {@code <generation>:<key>} and values are the write time (8 bytes) followed by the
 * encoded JSON. The generation lives in {@link ChronicleState}: a clear is one increment, and
 * {@link #replaceAll} writes the new content under the next generation and then commits it with
 * one increment, so other processes see the old content or the new, never a mix. Entries of
 * older generations and expired entries are removed by {@link #purge}, on open, after a clear or
 * replace, and in the background when the oldest entry may have expired.
 *
 * <p>Front tiers stay coherent through the state's changes ring: each write announces its key,
 * and {@link #poll} (before each front-tier read) drops the keys other processes announced.
 *
 * <p>Clears and replaces take {@code <name>.lock} (the {@code flock} the JSON store uses), as do
 * opening and closing, which keep the count of processes that have the map open: an opener that
 * finds the count above zero while no process holds the map open recovers the file (its last
 * writer was killed, perhaps in the middle of a write) with Chronicle's recovery.
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
  private final LockFile lock;
  private final FileChannel syncChannel;
  private final long ttlMillis;
  private final Listeners listeners = new Listeners();
  private final AtomicLong writes = new AtomicLong();
  private final Object syncLock = new Object();
  private final Object pollLock = new Object();
  private final ScheduledFuture<?> purger;
  private volatile long epoch;
  private long synced;
  private boolean closed;

  private ChronicleStore(StoreConfig config, StoreSpec.ChronicleMap sizes, ChronicleMap<String, byte[]> map,
      ChronicleState state, LockFile lock) {
    this.sizes = sizes;
    this.clock = config.clock();
    this.durability = config.durability();
    this.file = config.files().chronicleMap();
    this.map = map;
    this.state = state;
    this.lock = lock;
    this.ttlMillis = config.expireAfter().toMillis();
    try {
      this.syncChannel = FileChannel.open(file, StandardOpenOption.READ);
    } catch (IOException e) {
      throw new CacheException("cannot open the Chronicle Map file", file, e);
    }
    long period = Math.max(1_000, Math.min(60_000, ttlMillis / 10));
    this.purger = Maintenance.COMPACTOR.scheduleWithFixedDelay(this::purgeIfDue, period, period, TimeUnit.MILLISECONDS);
  }

  static ChronicleStore open(StoreConfig config, StoreSpec.ChronicleMap sizes) {
    Path file = config.files().chronicleMap();
    LockFile lock = new LockFile(config.files().lock(), config.lockTimeout(), config.fileOps());
    ChronicleState state = null;
    ChronicleMap<String, byte[]> map = null;
    initializeChronicle();
    lock.lock();
    try {
      state = new ChronicleState(config.files().chronicleState(), config.fileOps());
      boolean alone = state.nobodyElseLive();
      if (alone) {
        setAsideIfNoChronicleMap(file);
      }
      ChronicleMapBuilder<String, byte[]> builder = builder(config.name(), sizes);
      if (alone && state.openers() != 0 && Files.exists(file)) {
        map = recover(builder, file, state.openers());
      } else {
        map = create(builder, file, alone);
      }
      config.fileOps().restrict(file); // Chronicle creates it with the umask's permissions
      if (alone) {
        state.resetOpeners();
      }
      state.markLive();
      state.addOpeners(1);
      ChronicleStore store = new ChronicleStore(config, sizes, map, state, lock);
      store.purge(alone);
      return store;
    } catch (RuntimeException | Error e) {
      if (map != null) {
        map.close();
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

  /**
   * A Chronicle Map file starts with its self-bootstrapping header: 8 bytes of checksum, a 4-byte
   * length word (its top bit set until the header is complete) and the header text, a type tag.
   */
  private static final byte[] HEADER_TYPE = "!net.openhft.chronicle".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private static final int NOT_COMPLETE = 0x8000_0000;

  /**
   * Moves aside a file that is not a finished Chronicle Map header: Chronicle would wait a minute
   * for another process to finish writing the header before failing. Called only when no process
   * has the map open, so nobody is writing one.
   */
  private static void setAsideIfNoChronicleMap(Path file) {
    if (!Files.exists(file)) {
      return;
    }
    byte[] head = new byte[12 + HEADER_TYPE.length];
    int read;
    try (var in = Files.newInputStream(file)) {
      read = in.readNBytes(head, 0, head.length);
    } catch (IOException e) {
      throw new CacheException("cannot read the Chronicle Map file", file, e);
    }
    if (read < head.length || !java.util.Arrays.equals(head, 12, head.length, HEADER_TYPE, 0, HEADER_TYPE.length)) {
      FileOps.moveAside(file, "not a Chronicle Map file");
      return;
    }
    int headerWord = (head[8] & 0xff) | (head[9] & 0xff) << 8 | (head[10] & 0xff) << 16 | (head[11] & 0xff) << 24;
    if (headerWord == 0 || (headerWord & NOT_COMPLETE) != 0) {
      FileOps.moveAside(file, "its creator ended before writing the Chronicle Map header");
    }
  }

  private static ChronicleMapBuilder<String, byte[]> builder(String name, StoreSpec.ChronicleMap sizes) {
    return ChronicleMap.of(String.class, byte[].class)
        .name(name)
        .entries(sizes.entries())
        .averageKeySize(AVERAGE_KEY_BYTES)
        .averageValueSize(HEADER + sizes.averageValueBytes());
  }

  private static ChronicleMap<String, byte[]> create(ChronicleMapBuilder<String, byte[]> builder, Path file,
      boolean alone) {
    boolean existed = Files.exists(file);
    try {
      return builder.createPersistedTo(file.toFile());
    } catch (IOException | RuntimeException e) {
      if (!existed || !alone) {
        throw new CacheException("cannot open the Chronicle Map file: " + e, file, e);
      }
      FileOps.moveAside(file, "Chronicle Map cannot open it: " + e);
      try {
        return builder.createPersistedTo(file.toFile());
      } catch (IOException again) {
        throw new CacheException("cannot create the Chronicle Map file", file, again);
      }
    }
  }

  private static ChronicleMap<String, byte[]> recover(ChronicleMapBuilder<String, byte[]> builder, Path file,
      long unclosed) {
    List<String> problems = new ArrayList<>();
    ChronicleMap<String, byte[]> map;
    try {
      map = builder.recoverPersistedTo(file.toFile(), true, c -> problems.add(c.message()));
    } catch (IOException | RuntimeException e) {
      FileOps.moveAside(file, "Chronicle Map cannot recover it: " + e);
      return create(builder, file, true);
    }
    LOG.log(Level.WARNING, "tiercache: " + file + " was left open by " + unclosed + " process(es) that ended"
        + " without closing it (killed?); recovered it with Chronicle Map's recovery"
        + (problems.isEmpty() ? ", which found nothing damaged" : "; it repaired: " + String.join("; ", problems)));
    return map;
  }

  // ---------------------------------------------------------------- reads

  private static String key(long generation, String name) {
    return generation + ":" + name;
  }

  /** The stored form of a value: its write time, then its JSON. */
  private static byte[] framed(long writtenMillis, byte[] encoded) {
    byte[] stored = new byte[HEADER + encoded.length];
    WRITE_TIME.set(stored, 0, writtenMillis);
    System.arraycopy(encoded, 0, stored, HEADER, encoded.length);
    return stored;
  }

  private long deadline(byte[] stored) {
    return (long) WRITE_TIME.get(stored, 0) + ttlMillis;
  }

  @Override
  public Value get(String key) {
    byte[] stored = map.get(key(state.generation(), key));
    if (stored == null) {
      return null;
    }
    long deadline = deadline(stored);
    if (clock.millis() >= deadline) {
      return null;
    }
    return new Value(new Encoded(stored, HEADER, stored.length - HEADER, 0), deadline);
  }

  @Override
  public void forEach(BiConsumer<String, Value> action) {
    String prefix = state.generation() + ":";
    long now = clock.millis();
    map.forEachEntry(e -> {
      String key = e.key().get();
      if (key.startsWith(prefix)) {
        byte[] stored = e.value().getUsing(null); // get() may hand out one reused array
        long deadline = deadline(stored);
        if (now < deadline) {
          action.accept(key.substring(prefix.length()),
              new Value(new Encoded(stored, HEADER, stored.length - HEADER, 0), deadline));
        }
      }
    });
  }

  @Override
  public long size() {
    purgeIfDue();
    return map.longSize();
  }

  @Override
  public long expiresAtMillis() {
    long now = clock.millis();
    long latest = state.lastWriteMillis() + ttlMillis;
    return latest > now && size() > 0 ? latest : now + ttlMillis;
  }

  @Override
  public long epoch() {
    return epoch;
  }

  @Override
  public void poll() {
    if (state.behind()) {
      synchronized (pollLock) {
        state.deliver(key -> {
          if (key == null) {
            epoch++;
          }
          listeners.publish(null, key);
        });
      }
    }
  }

  @Override
  public void refresh() {
    poll();
  }

  // ---------------------------------------------------------------- writes

  @Override
  public Write put(String key, byte[] encoded) {
    long epochBefore = epoch; // read first: a clear in between leaves the front-tier value stale
    long now = clock.millis();
    byte[] stored = framed(now, encoded);
    String stateKey = key(state.generation(), key);
    guard(() -> map.put(stateKey, stored));
    state.wrote(now);
    state.announce(key);
    return new Write(writes.incrementAndGet(), epochBefore, now + ttlMillis);
  }

  @Override
  public Write remove(String key) {
    long epochBefore = epoch;
    map.remove(key(state.generation(), key));
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
      long next = state.generation() + 1;
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
      state.nextGeneration(); // the commit: every process now reads the new generation
      epoch++;
      state.wrote(now);
      state.announce(null);
      purge(false);
    } finally {
      lock.unlock();
    }
    return new Write(writes.incrementAndGet(), epoch, now + ttlMillis);
  }

  /** Turns Chronicle's "full" and "entry too large" failures into a {@link CacheException}. */
  private <T> T guard(Supplier<T> write) {
    try {
      return write.get();
    } catch (IllegalStateException | IllegalArgumentException e) {
      throw new CacheException("cannot store the value: the Chronicle Map is full or the value is too large"
          + " for it (it holds " + map.longSize() + " entries; this cache asks for entries="
          + sizes.entries() + ", averageValueBytes=" + sizes.averageValueBytes()
          + ", but a file keeps the sizes it was created with: export it, delete it and let it be created"
          + " larger). Chronicle Map says: " + e.getMessage(), file, e);
    }
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
      synced = upTo;
    }
  }

  /** fsync of the map file: Linux writes back every dirty page of the file, whichever mapping dirtied it. */
  private void force() {
    try {
      syncChannel.force(false);
    } catch (IOException e) {
      throw new CacheException("cannot force the Chronicle Map file to disk", file, e);
    }
  }

  @Override
  public void flush() {
    force();
    state.force();
  }

  // ---------------------------------------------------------------- expiry

  private void purgeIfDue() {
    if (!closed && clock.millis() >= state.minWriteMillis() + ttlMillis) {
      purge(false);
    }
  }

  /**
   * Removes expired entries and those of older generations; with {@code all}, also those of newer
   * generations (a replace that never committed: only safe under the lock, when opening).
   */
  private synchronized void purge(boolean all) {
    long started = clock.millis();
    long generation = state.generation();
    long[] oldest = {Long.MAX_VALUE};
    map.forEachEntry(e -> {
      String key = e.key().get();
      long entryGeneration = Long.parseLong(key, 0, key.indexOf(':'), 10);
      if (entryGeneration < generation || (all && entryGeneration > generation)) {
        e.doRemove();
      } else if (entryGeneration == generation) {
        long written = (long) WRITE_TIME.get(e.value().get(), 0);
        if (written + ttlMillis <= started) {
          e.doRemove();
        } else {
          oldest[0] = Math.min(oldest[0], written);
        }
      }
    });
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
    purger.cancel(false);
    try {
      if (durability == Durability.FSYNC) {
        flush();
      }
    } finally {
      lock.lock();
      try {
        state.addOpeners(-1);
        map.close();
        syncChannel.close();
      } catch (IOException e) {
        throw new CacheException("cannot close the Chronicle Map file", file, e);
      } finally {
        state.close();
        lock.unlock();
        lock.close();
      }
    }
  }

  /** For tests: ends as a killed process does, leaving the open count up and the liveness lock gone. */
  synchronized void abandon() {
    closed = true;
    purger.cancel(false);
    map.close();
    state.close();
    lock.close();
  }

  @Override
  public String toString() {
    return "ChronicleStore[" + file + "]";
  }
}
