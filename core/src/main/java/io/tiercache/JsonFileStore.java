package io.tiercache;

import io.tiercache.JsonText.MalformedJsonException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;

/**
 * The persistent store on files: {@code <name>.json} (a snapshot in the Python SDK's format),
 * {@code <name>.journal} (changes since the snapshot, one checksummed line each) and
 * {@code <name>.lock} (the {@code flock} that every writer, Java or Python, holds).
 *
 * <h2>Writes</h2>
 * A write changes the in-memory index and queues its journal line under {@code stateLock}, so
 * the index and the journal see writes in the same order. {@link #await} appends the queued lines:
 * whoever takes {@code ioLock} first writes every queued line in one {@code write} under the file
 * lock (so concurrent writers share one system call, and under {@link Durability#FSYNC} one
 * {@code fsync}). Before appending, it reads what other processes appended since its last look,
 * so nothing is written from a stale view and no process overwrites another's change.
 *
 * <h2>Compaction</h2>
 * When the journal outgrows the snapshot, the index is rendered as a new snapshot into a forced
 * temporary file on the compaction thread, holding no lock: writers here and in other processes
 * go on appending. Then, under the lock, the temporary file is renamed over the snapshot (and the
 * directory forced) and the journal is replaced by one whose header names the new snapshot's
 * generation and that carries the lines appended meanwhile. A rendering overtaken by another
 * process's compaction or a Python rewrite is dropped. {@link #flush}, and an expired or damaged
 * content, compact entirely under the lock. Amortized, each write costs O(1) bytes of compaction;
 * entry bytes are copied, not re-encoded.
 *
 * <h2>Other processes</h2>
 * Every {@code refreshInterval} (and on every write) the store checks the two files: new journal
 * lines are applied; a journal replaced by another process's compaction is followed without a
 * reload; a snapshot rewritten by someone else (the Python SDK) is reloaded and the journal
 * re-applied on top, so acknowledged changes survive. Changed keys are reported to listeners.
 */
final class JsonFileStore implements PersistentStore {
  private static final System.Logger LOG = System.getLogger(JsonFileStore.class.getName());

  private final Durability durability;
  private final java.time.Clock clock;
  private final java.time.Duration refreshInterval;
  private final java.time.Duration asyncFlushDelay;
  private final long compactionMinBytes;
  private final FileOps fileOps;
  private final FileNames files;
  private final Path snapshotFile;
  private final Path journalFile;
  private final LockFile osLock;
  private final long ttlMillis;
  private final Listeners listeners = new Listeners();

  /** Orders index changes with the queue of journal lines. Never held during I/O. */
  private final ReentrantLock stateLock = new ReentrantLock();
  /** Serializes file work in this JVM: appends, tailing, reloads, compaction. */
  private final ReentrantLock ioLock = new ReentrantLock();

  private volatile ConcurrentHashMap<String, Encoded> index = new ConcurrentHashMap<>();
  private volatile long expiresAt;
  private volatile long epoch;
  /** Highest local sequence written to the journal, and forced to disk. */
  private volatile long writtenSeq;
  private volatile long syncedSeq;
  private volatile long enqueuedSeq;
  private volatile boolean closed;

  // Guarded by stateLock.
  private final ArrayDeque<byte[]> pending = new ArrayDeque<>();
  private long nextSeq;
  private long lastClearSeq;
  private int pendingCount;

  // Guarded by ioLock.
  private FileChannel journal;
  private long journalPos;
  private long journalBase;
  /** Where the journal's records start (after its header): nothing to fold while journalPos is here. */
  private long journalStart;
  private long generation;
  private Object journalKey;
  private FileState snapshotState;
  private long snapshotBytes;
  private int corruptLines;
  private boolean compactionScheduled;

  private final List<ScheduledFuture<?>> tasks = new ArrayList<>();

  /*
   * The lock lease. Taking and checking the file lock costs about as much as the append itself,
   * so a writer keeps it across consecutive appends for up to LEASE, then gives it up and locks
   * per append for COOLDOWN, during which other processes (and the Python SDK, which blocks in
   * flock) get their turn. Guarded by ioLock.
   */
  static final long LEASE_NANOS = TimeUnit.MILLISECONDS.toNanos(5);
  static final long COOLDOWN_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
  private boolean leased;
  private long leaseCooldownUntil = System.nanoTime();

  /** What we last saw of a file, to notice another process replacing or rewriting it. */
  private static final class FileState {
    final Object key;
    final long size;
    final long modified;

    FileState(Object key, long size, long modified) {
      this.key = key;
      this.size = size;
      this.modified = modified;
    }

    static FileState of(Path file) {
      try {
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
        return new FileState(a.fileKey(), a.size(), a.lastModifiedTime().to(TimeUnit.NANOSECONDS));
      } catch (NoSuchFileException e) {
        return null;
      } catch (IOException e) {
        throw new CacheException("cannot stat", file, e);
      }
    }

    static boolean same(FileState a, FileState b) {
      return a == null ? b == null
          : b != null && Objects.equals(a.key, b.key) && a.size == b.size && a.modified == b.modified;
    }
  }

  private JsonFileStore(StoreConfig config) {
    this.files = config.files();
    this.durability = config.durability();
    this.clock = config.clock();
    this.refreshInterval = config.refreshInterval();
    this.asyncFlushDelay = config.asyncFlushDelay();
    this.compactionMinBytes = config.compactionMinBytes();
    this.fileOps = config.fileOps();
    this.snapshotFile = files.snapshot();
    this.journalFile = files.journal();
    this.ttlMillis = config.expireAfter().toMillis();
    this.osLock = new LockFile(files.lock(), config.lockTimeout(), fileOps);
  }

  /** The default store: {@code <name>.json}, {@code .journal} and {@code .lock} in the directory. */
  static final StoreProvider PROVIDER = new StoreProvider() {
    @Override
    public Object location(StoreConfig config) {
      return config.canonicalFile(config.files().snapshot());
    }

    @Override
    public PersistentStore open(StoreConfig config) {
      return JsonFileStore.open(config);
    }

    @Override
    public Path file(StoreConfig config) {
      return config.files().snapshot();
    }
  };

  static JsonFileStore open(StoreConfig config) {
    config.fileOps().createDirectories(config.directory());
    JsonFileStore store = new JsonFileStore(config);
    store.ioLock.lock();
    try {
      store.osLock.lock();
      try {
        store.fileOps.removeStaleTemporaries(config.directory(), config.name() + ".json");
        store.fileOps.removeStaleTemporaries(config.directory(), config.name() + ".journal");
        store.loadLocked();
        if (store.now() >= store.expiresAt) {
          store.compactLocked(); // an expired file is replaced, not served
        }
      } finally {
        store.osLock.unlock();
      }
    } catch (IOException e) {
      store.closeQuietly();
      throw new CacheException("cannot open the cache files", store.snapshotFile, e);
    } catch (RuntimeException | Error e) {
      store.closeQuietly();
      throw e;
    } finally {
      store.ioLock.unlock();
    }
    store.schedule();
    return store;
  }

  private void schedule() {
    long refresh = refreshInterval.toNanos();
    if (refresh > 0) {
      tasks.add(Maintenance.SCHEDULER.scheduleWithFixedDelay(
          () -> background("refresh", this::refresh), refresh, refresh, TimeUnit.NANOSECONDS));
    }
    if (durability == Durability.ASYNC) {
      long delay = asyncFlushDelay.toNanos();
      tasks.add(Maintenance.SCHEDULER.scheduleWithFixedDelay(
          () -> background("flush", () -> writePending(enqueuedSeq, false)), delay, delay, TimeUnit.NANOSECONDS));
    }
  }

  private void background(String what, Runnable task) {
    if (closed) {
      return;
    }
    try {
      task.run();
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "tiercache: background " + what + " of " + snapshotFile + " failed", e);
    }
  }

  private long now() {
    return clock.millis();
  }

  // ---------------------------------------------------------------- reads

  @Override
  public Value get(String key) {
    Encoded e = index.get(key);
    if (e == null) {
      return null;
    }
    long deadline = expiresAt;
    return now() < deadline ? new Value(e, deadline) : null;
  }

  @Override
  public void forEach(BiConsumer<String, Value> action) {
    long deadline = expiresAt;
    if (now() >= deadline) {
      return;
    }
    index.forEach((k, e) -> action.accept(k, new Value(e, deadline)));
  }

  @Override
  public long size() {
    return now() >= expiresAt ? 0 : index.size();
  }

  @Override
  public long expiresAtMillis() {
    return expiresAt;
  }

  @Override
  public long epoch() {
    return epoch;
  }

  // ---------------------------------------------------------------- writes

  @Override
  public Write put(String key, byte[] encoded) {
    byte[] line = Journal.put(key, encoded, 0, encoded.length);
    return enqueue(() -> {
      long seq = ++nextSeq;
      index.put(key, Encoded.of(encoded, seq));
      return seq;
    }, line);
  }

  @Override
  public Write remove(String key) {
    byte[] line = Journal.remove(key);
    return enqueue(() -> {
      index.remove(key);
      return ++nextSeq;
    }, line);
  }

  @Override
  public Write clear() {
    stateLock.lock();
    try {
      clearLocked();
      return receipt(nextSeq);
    } finally {
      stateLock.unlock();
    }
    // listeners are told by the caller's front tier; other handles learn through publish
  }

  @Override
  public Write replaceAll(Map<String, byte[]> entries) {
    List<byte[]> lines = new ArrayList<>(entries.size());
    entries.forEach((k, v) -> lines.add(Journal.put(k, v, 0, v.length)));
    stateLock.lock();
    try {
      clearLocked();
      int i = 0;
      for (Map.Entry<String, byte[]> e : entries.entrySet()) {
        long seq = ++nextSeq;
        index.put(e.getKey(), Encoded.of(e.getValue(), seq));
        pending.add(lines.get(i++));
      }
      pendingCount += entries.size();
      enqueuedSeq = nextSeq;
      return receipt(nextSeq);
    } finally {
      stateLock.unlock();
    }
  }

  private interface Mutation {
    long apply();
  }

  private Write enqueue(Mutation mutation, byte[] line) {
    ensureOpen();
    stateLock.lock();
    try {
      if (now() >= expiresAt) {
        clearLocked(); // the old content expired: this write starts a new one
      }
      long seq = mutation.apply();
      pending.add(line);
      pendingCount++;
      enqueuedSeq = seq;
      return receipt(seq);
    } finally {
      stateLock.unlock();
    }
  }

  private Write receipt(long seq) {
    return new Write(seq, epoch, expiresAt);
  }

  /** Empties the index and starts a new expiry period. Caller holds stateLock. */
  private void clearLocked() {
    ensureOpen();
    long seq = ++nextSeq;
    long expiry = now() + ttlMillis;
    index = new ConcurrentHashMap<>();
    expiresAt = expiry;
    epoch++;
    lastClearSeq = seq;
    pending.add(Journal.clear(expiry));
    pendingCount++;
    enqueuedSeq = seq;
  }

  @Override
  public void await(Write write) {
    switch (durability) {
      case ASYNC:
        if (pendingCountApprox() > 100_000) {
          writePending(write.seq, false); // back-pressure: the queue is bounded
        }
        return;
      case WRITE:
        writePending(write.seq, false);
        return;
      case FSYNC:
        writePending(write.seq, true);
        return;
      default:
        throw new AssertionError(durability);
    }
  }

  private int pendingCountApprox() {
    return pendingCount; // a racy read is fine for back-pressure
  }

  /** Appends queued lines up to {@code seq} (and whatever else is queued), forcing if asked. */
  private void writePending(long seq, boolean force) {
    if (writtenSeq >= seq && (!force || syncedSeq >= seq)) {
      return;
    }
    ioLock.lock();
    try {
      ensureOpen();
      if (writtenSeq < seq) {
        if (leased) {
          appendPendingLocked(); // no one else can have appended while we hold the lease
        } else if (System.nanoTime() - leaseCooldownUntil < 0) {
          lockFiles();
          try {
            syncWithFilesLocked(false);
            appendPendingLocked();
          } finally {
            unlockFiles();
          }
        } else {
          takeLease();
          syncWithFilesLocked(false);
          appendPendingLocked();
        }
      }
      if (force && syncedSeq < seq) {
        long written = writtenSeq;
        journal.force(false);
        syncedSeq = written;
      }
    } catch (IOException e) {
      throw new CacheException("cannot write the journal", journalFile, e);
    } finally {
      ioLock.unlock();
    }
    maybeScheduleCompaction();
  }

  /** Takes the file lock unless the lease holds it. Caller holds ioLock. */
  private void lockFiles() {
    if (!leased) {
      osLock.lock();
    }
  }

  private void unlockFiles() {
    if (!leased) {
      osLock.unlock();
    }
  }

  /** Takes the file lock as a lease that the maintenance thread ends. Caller holds ioLock. */
  private void takeLease() {
    osLock.lock();
    leased = true;
    Maintenance.SCHEDULER.schedule(this::endLease, LEASE_NANOS, TimeUnit.NANOSECONDS);
  }

  private void endLease() {
    ioLock.lock();
    try {
      releaseLeaseLocked();
    } finally {
      ioLock.unlock();
    }
  }

  private void releaseLeaseLocked() {
    if (leased) {
      leased = false;
      leaseCooldownUntil = System.nanoTime() + COOLDOWN_NANOS;
      osLock.unlock();
    }
  }

  /** Writes every queued line in one system call. Caller holds ioLock and the file lock. */
  private void appendPendingLocked() throws IOException {
    ByteSink batch;
    long upTo;
    stateLock.lock();
    try {
      if (pending.isEmpty()) {
        return;
      }
      int bytes = 0;
      for (byte[] line : pending) {
        bytes += line.length;
      }
      batch = new ByteSink(bytes);
      for (byte[] line : pending) {
        batch.write(line);
      }
      pending.clear();
      pendingCount = 0;
      upTo = nextSeq;
    } finally {
      stateLock.unlock();
    }
    try {
      writeFully(journal, ByteBuffer.wrap(batch.array(), 0, batch.size()), journalPos);
    } catch (IOException e) {
      journal.truncate(journalPos); // leave no partial line; the lines go back in the queue
      stateLock.lock();
      try {
        pending.addFirst(batch.toByteArray());
        pendingCount++;
      } finally {
        stateLock.unlock();
      }
      throw e;
    }
    journalPos += batch.size();
    writtenSeq = upTo;
  }

  private static void writeFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
    while (buf.hasRemaining()) {
      position += ch.write(buf, position);
    }
  }

  // ---------------------------------------------------------------- other processes

  @Override
  public void refresh() {
    ioLock.lock();
    try {
      if (closed) {
        return;
      }
      if (filesReplaced()) {
        lockFiles();
        try {
          syncWithFilesLocked();
        } finally {
          unlockFiles();
        }
      } else {
        tailLocked();
      }
    } catch (IOException e) {
      throw new CacheException("cannot read the journal", journalFile, e);
    } finally {
      ioLock.unlock();
    }
  }

  private boolean filesReplaced() {
    FileState journalNow = FileState.of(journalFile);
    return journalNow == null || !journalNow.key.equals(journalKey)
        || !FileState.same(snapshotState, FileState.of(snapshotFile));
  }

  /**
   * Brings the index up to date with the files. Caller holds ioLock and the file lock, so the
   * files are quiescent: no other writer is between its snapshot rename and its journal reset.
   */
  private void syncWithFilesLocked() throws IOException {
    syncWithFilesLocked(true);
  }

  /**
   * As above; {@code checkSnapshot} false skips looking for a snapshot rewritten in place (by the
   * Python SDK), which appending does not need: our lines apply on top of any snapshot, and the
   * periodic refresh and every compaction look.
   */
  private void syncWithFilesLocked(boolean checkSnapshot) throws IOException {
    if (!checkSnapshot && !tailLocked()) {
      // No seal line: no compactor replaced the journal since we last looked.
      truncateTornTailLocked();
      return;
    }
    FileState journalNow = FileState.of(journalFile);
    boolean journalReplaced = journalNow == null || !journalNow.key.equals(journalKey);
    boolean snapshotChanged = checkSnapshot && !FileState.same(snapshotState, FileState.of(snapshotFile));
    if (!journalReplaced && !snapshotChanged) {
      tailLocked();
      truncateTornTailLocked();
      return;
    }
    if (journalReplaced && journalNow != null) {
      // Most often another process compacted: finish the old journal, then follow the new one.
      tailLocked();
      long oldBase = journalBase;
      FileChannel next = FileChannel.open(journalFile, StandardOpenOption.READ, StandardOpenOption.WRITE);
      long[] header = {Long.MIN_VALUE, 0}; // base, carried bytes
      int headerLength = readHeader(next, header);
      if (headerLength > 0 && header[0] == oldBase + 1 && headerLength + header[1] <= next.size()) {
        journal.close();
        journal = next;
        journalKey = journalNow.key;
        // The carried lines are the old journal's last ones, which we have just applied.
        journalPos = headerLength + header[1];
        journalStart = headerLength;
        journalBase = header[0];
        generation = header[0];
        snapshotState = FileState.of(snapshotFile);
        snapshotBytes = snapshotState == null ? 0 : snapshotState.size;
        tailLocked();
        truncateTornTailLocked();
        return;
      }
      next.close();
    }
    reloadLocked();
  }

  /** Reads the journal's first line into {@code header} (base, carried bytes); returns its length, or 0. */
  private static int readHeader(FileChannel ch, long[] header) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(64);
    ch.read(buf, 0);
    int consumed = Journal.scan(buf.array(), Journal.indexOf(buf.array(), 0, buf.position(), (byte) '\n') + 1, 0,
        new Journal.Visitor() {
          @Override public void header(long generation, long carriedBytes) {
            header[0] = generation;
            header[1] = carriedBytes;
          }
          @Override public void put(String key, Encoded value) {}
          @Override public void remove(String key) {}
          @Override public void clear(long expiryMillis) {}
          @Override public void corrupt(long fileOffset, String reason) {}
        });
    return header[0] == Long.MIN_VALUE ? 0 : consumed;
  }

  /**
   * Applies lines other processes appended since our last look. Returns whether one of them was a
   * seal: another process compacted and is replacing (or has replaced) the journal. Caller holds ioLock.
   */
  private boolean tailLocked() throws IOException {
    long size = journal.size();
    if (size <= journalPos) {
      return false;
    }
    boolean[] sealed = {false};
    byte[] buf = read(journal, journalPos, size);
    Set<String> changed = new HashSet<>();
    boolean[] cleared = {false};
    int consumed;
    stateLock.lock();
    try {
      boolean localClearPending = lastClearSeq > writtenSeq;
      consumed = Journal.scan(buf, buf.length, journalPos, new Applier() {
        @Override void apply(String key, Encoded value) {
          if (localClearPending || isPendingLocally(key)) {
            return; // our queued write lands after this line: it wins, as it will on disk
          }
          Encoded old = value == null ? index.remove(key) : index.put(key, value);
          if (old != value) {
            changed.add(key);
          }
        }

        @Override public void clear(long expiryMillis) {
          if (localClearPending) {
            return;
          }
          ConcurrentHashMap<String, Encoded> kept = new ConcurrentHashMap<>();
          index.forEach((k, e) -> {
            if (e.seq > writtenSeq) {
              kept.put(k, e);
            }
          });
          index = kept;
          expiresAt = expiryMillis;
          epoch++;
          cleared[0] = true;
        }

        @Override public void seal(long generation) {
          sealed[0] = true;
        }
      });
    } finally {
      stateLock.unlock();
    }
    journalPos += consumed;
    notifyListeners(cleared[0], changed);
    return sealed[0];
  }

  private boolean isPendingLocally(String key) {
    Encoded current = index.get(key);
    return current != null && current.seq > writtenSeq;
  }

  /** Drops a partial last line left by a process killed mid-append. Caller holds the file lock. */
  private void truncateTornTailLocked() throws IOException {
    long size = journal.size();
    if (size > journalPos) {
      journal.truncate(journalPos);
      LOG.log(Level.INFO, "tiercache: dropped an incomplete last line (" + (size - journalPos)
          + " bytes) of " + journalFile + ", left by an interrupted write");
    }
  }

  /** Reads both files from scratch; local queued writes are kept on top. */
  private void reloadLocked() throws IOException {
    Loaded loaded = readFiles();
    Set<String> changed = new HashSet<>();
    boolean cleared;
    stateLock.lock();
    try {
      ConcurrentHashMap<String, Encoded> old = index;
      ConcurrentHashMap<String, Encoded> next = loaded.entries;
      boolean localClearPending = lastClearSeq > writtenSeq;
      if (localClearPending) {
        next = new ConcurrentHashMap<>();
      }
      for (Map.Entry<String, Encoded> e : old.entrySet()) {
        if (e.getValue().seq > writtenSeq) {
          next.put(e.getKey(), e.getValue());
        }
      }
      cleared = !localClearPending && loaded.expiresAt != expiresAt;
      if (cleared) {
        expiresAt = loaded.expiresAt;
        epoch++;
      } else {
        old.forEach((k, e) -> {
          Encoded now = loaded.entries.get(k);
          if (now == null || !now.sameBytes(e)) {
            changed.add(k);
          }
        });
      }
      index = next;
    } finally {
      stateLock.unlock();
    }
    notifyListeners(cleared, changed);
  }

  private void loadLocked() throws IOException {
    Loaded loaded = readFiles();
    index = loaded.entries;
    expiresAt = loaded.expiresAt;
    truncateTornTailLocked();
  }

  private static final class Loaded {
    final ConcurrentHashMap<String, Encoded> entries;
    final long expiresAt;

    Loaded(ConcurrentHashMap<String, Encoded> entries, long expiresAt) {
      this.entries = entries;
      this.expiresAt = expiresAt;
    }
  }

  /** Reads snapshot then journal into a fresh index. Caller holds ioLock and the file lock. */
  private Loaded readFiles() throws IOException {
    Snapshot snapshot = readSnapshot();
    ConcurrentHashMap<String, Encoded> entries = snapshot == null ? new ConcurrentHashMap<>() : snapshot.entries;
    long[] expiry = {snapshot == null ? now() + ttlMillis : snapshot.expiryMillis};
    long snapshotGeneration = snapshot == null ? Snapshot.FOREIGN : snapshot.generation;
    snapshotState = FileState.of(snapshotFile);
    snapshotBytes = snapshotState == null ? 0 : snapshotState.size;
    generation = Math.max(generation, snapshotGeneration);

    if (journal != null) {
      journal.close();
      journal = null;
      journalKey = null;
    }
    journalPos = 0;
    corruptLines = 0;
    if (!Files.exists(journalFile)) {
      createJournalLocked(Math.max(generation, snapshotGeneration), new byte[0]);
      return new Loaded(entries, expiry[0]);
    }
    journal = FileChannel.open(journalFile, StandardOpenOption.READ, StandardOpenOption.WRITE);
    journalKey = Files.readAttributes(journalFile, BasicFileAttributes.class).fileKey();
    byte[] buf = read(journal, 0, journal.size());
    journalBase = Snapshot.FOREIGN;
    // Replayed whole even when the snapshot already holds some of it (a compactor that died
    // between its two renames): replay is idempotent, and lines appended after it are not in any snapshot.
    int consumed = Journal.scan(buf, buf.length, 0, new Applier() {
      @Override public void header(long base, long carriedBytes) {
        journalBase = base;
      }

      @Override void apply(String key, Encoded value) {
        if (value == null) {
          entries.remove(key);
        } else {
          entries.put(key, value);
        }
      }

      @Override public void clear(long expiryMillis) {
        entries.clear();
        expiry[0] = expiryMillis;
      }
    });
    journalPos = consumed;
    journalStart = journalBase == Snapshot.FOREIGN ? 0 : Journal.indexOf(buf, 0, buf.length, (byte) '\n') + 1;
    generation = Math.max(generation, journalBase);
    return new Loaded(entries, expiry[0]);
  }

  private Snapshot readSnapshot() throws IOException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(snapshotFile);
    } catch (NoSuchFileException e) {
      return null;
    }
    try {
      return Snapshot.parse(bytes, bytes.length);
    } catch (MalformedJsonException e) {
      FileOps.moveAside(snapshotFile, e.getMessage());
      return null;
    }
  }

  private static byte[] read(FileChannel ch, long from, long to) throws IOException {
    long length = to - from;
    if (length > Integer.MAX_VALUE - 8) {
      throw new IOException("journal segment over 2 GB");
    }
    ByteBuffer buf = ByteBuffer.allocate((int) length);
    while (buf.hasRemaining()) {
      if (ch.read(buf, from + buf.position()) < 0) {
        break;
      }
    }
    return buf.position() == buf.capacity() ? buf.array() : Arrays.copyOf(buf.array(), buf.position());
  }

  /** A journal visitor that reports damaged lines the same way everywhere. */
  private abstract class Applier implements Journal.Visitor {
    abstract void apply(String key, Encoded valueOrNullForRemove);

    @Override public void header(long base, long carriedBytes) {}

    @Override public final void put(String key, Encoded value) {
      apply(key, value);
    }

    @Override public final void remove(String key) {
      apply(key, null);
    }

    @Override public final void corrupt(long fileOffset, String reason) {
      corruptLines++;
      LOG.log(Level.WARNING, "tiercache: " + journalFile + ": the line at byte " + fileOffset
          + " is damaged (" + reason + "); skipped it, the lines after it still apply."
          + " The journal will be kept as a .corrupt file at the next compaction.");
    }
  }

  private void notifyListeners(boolean all, Set<String> keys) {
    if (all) {
      listeners.publish(null, null);
    } else {
      keys.forEach(key -> listeners.publish(null, key));
    }
  }

  @Override
  public Listeners listeners() {
    return listeners;
  }

  // ---------------------------------------------------------------- compaction

  private void maybeScheduleCompaction() {
    if (journalPos <= Math.max(compactionMinBytes, snapshotBytes) || closed) {
      return;
    }
    synchronized (tasks) {
      if (compactionScheduled) {
        return;
      }
      compactionScheduled = true;
    }
    // The flag stays set until the compaction ends: writes made while it renders must not queue
    // a second one, which would render everything again to fold the few lines carried over.
    Maintenance.COMPACTOR.execute(() -> background("compaction", () -> {
      try {
        Compaction prepared = prepareCompaction();
        if (prepared != null) {
          commitCompaction(prepared);
        }
      } finally {
        synchronized (tasks) {
          compactionScheduled = false;
        }
      }
    }));
  }

  /** A snapshot rendered outside the file lock, and what it was rendered from. */
  static final class Compaction {
    final FileOps.Temporary temporary;
    /** The generation of the journal it folds; the snapshot's is the next one. */
    final long journalBase;
    final Object journalKey;
    final FileState snapshotState;
    /** Where the journal ended when the index was rendered: the lines after it are carried over. */
    final long journalPos;
    final int snapshotBytes;

    Compaction(FileOps.Temporary temporary, long journalBase, Object journalKey, FileState snapshotState, long journalPos,
        int snapshotBytes) {
      this.temporary = temporary;
      this.journalBase = journalBase;
      this.journalKey = journalKey;
      this.snapshotState = snapshotState;
      this.journalPos = journalPos;
      this.snapshotBytes = snapshotBytes;
    }
  }

  /**
   * The first half of a background compaction: renders the index into a temporary snapshot
   * without holding any lock, so writers here and in other processes keep appending meanwhile
   * (rendering 100,000 entries takes a third of a second). Returns null when there is nothing
   * to fold, or when the content expired or the journal has damaged lines: those compact at once
   * under the lock, as {@link #flush} does.
   */
  Compaction prepareCompaction() {
    ConcurrentHashMap<String, Encoded> entries;
    long expiry;
    long base;
    Object key;
    FileState state;
    long pos;
    long sizeHint;
    ioLock.lock();
    try {
      ensureOpen();
      lockFiles();
      try {
        syncWithFilesLocked();
        appendPendingLocked();
        if (now() >= expiresAt || corruptLines > 0 || journalBase == Snapshot.FOREIGN || generation != journalBase) {
          compactLocked();
          return null;
        }
        if (journalPos == journalStart) {
          return null;
        }
        entries = index;
        expiry = expiresAt;
        base = journalBase;
        key = journalKey;
        state = snapshotState;
        pos = journalPos;
        sizeHint = snapshotBytes + journalPos;
      } finally {
        unlockFiles();
      }
    } catch (IOException e) {
      throw new CacheException("cannot compact the cache", snapshotFile, e);
    } finally {
      ioLock.unlock();
    }
    // Weakly consistent: writes made while rendering may or may not be in it; they are in the
    // journal after pos (or still queued), which is replayed over it, and replay is idempotent.
    ByteSink snapshot = render(expiry, base + 1, entries, (int) Math.min(Integer.MAX_VALUE / 2, sizeHint));
    FileOps.Temporary temporary = fileOps.writeTemporary(snapshotFile, snapshot.array(), snapshot.size());
    return new Compaction(temporary, base, key, state, pos, snapshot.size());
  }

  /**
   * The second half: under the lock, makes the rendered snapshot current unless the files moved
   * on meanwhile (another process compacted, the Python SDK rewrote the snapshot), in which case
   * the rendering is stale and dropped. The journal lines appended while rendering are carried
   * into the new journal.
   */
  void commitCompaction(Compaction prepared) {
    ioLock.lock();
    try {
      if (closed) {
        prepared.temporary.close();
        return;
      }
      lockFiles();
      try {
        syncWithFilesLocked();
        appendPendingLocked();
        // Stale when another process compacted, the Python SDK rewrote the snapshot, the content
        // expired or a damaged line arrived.
        if (journalBase != prepared.journalBase || !journalKey.equals(prepared.journalKey)
            || !FileState.same(snapshotState, prepared.snapshotState) || corruptLines > 0 || now() >= expiresAt) {
          prepared.temporary.close();
          return;
        }
        byte[] carried = read(journal, prepared.journalPos, journalPos);
        long upTo = writtenSeq;
        prepared.temporary.replace(snapshotFile);
        // Tell other processes' appenders, through the fstat they do anyway, that this journal is done.
        long next = prepared.journalBase + 1;
        writeFully(journal, ByteBuffer.wrap(Journal.seal(next)), journalPos);
        createJournalLocked(next, carried);
        generation = next;
        snapshotState = FileState.of(snapshotFile);
        snapshotBytes = prepared.snapshotBytes;
        syncedSeq = Math.max(syncedSeq, upTo); // the new journal was forced with every line up to upTo
      } finally {
        unlockFiles();
      }
    } catch (IOException e) {
      throw new CacheException("cannot compact the cache", snapshotFile, e);
    } finally {
      ioLock.unlock();
    }
  }

  private ByteSink render(long expiry, long nextGeneration, ConcurrentHashMap<String, Encoded> entries, int sizeHint) {
    try {
      return Snapshot.render(expiry, nextGeneration, entries.entrySet(), sizeHint);
    } catch (IllegalStateException tooLarge) {
      throw new CacheException("the snapshot would exceed 2 GB, the most one file can hold here;"
          + " use the Chronicle Map store for a cache this large", snapshotFile, tooLarge);
    }
  }

  private void compact() {
    ioLock.lock();
    try {
      ensureOpen();
      lockFiles();
      try {
        compactLocked();
      } finally {
        unlockFiles();
      }
    } finally {
      ioLock.unlock();
    }
  }

  /** Folds the journal into a new snapshot. Caller holds ioLock and the file lock. */
  private void compactLocked() {
    try {
      syncWithFilesLocked();
      appendPendingLocked();
      boolean expired = now() >= expiresAt;
      if (!expired && journalPos == journalStart && corruptLines == 0 && snapshotState != null
          && generation == journalBase) {
        return; // the snapshot already holds everything: nothing to fold
      }
      if (expired) {
        stateLock.lock();
        try {
          clearLocked(); // an expired content is replaced, not kept
        } finally {
          stateLock.unlock();
        }
        notifyListeners(true, Set.of());
      }
      long upTo = writtenSeq;
      long nextGeneration = Math.max(generation, journalBase) + 1;
      ConcurrentHashMap<String, Encoded> entries = index;
      ByteSink snapshot = render(expiresAt, nextGeneration, entries,
          (int) Math.min(Integer.MAX_VALUE / 2, snapshotBytes + journalPos));
      // Tell other processes' appenders, through the fstat they do anyway, that this journal is done.
      writeFully(journal, ByteBuffer.wrap(Journal.seal(nextGeneration)), journalPos);
      fileOps.atomicWrite(snapshotFile, snapshot.array(), snapshot.size());
      if (corruptLines > 0 && Files.exists(journalFile)) {
        FileOps.moveAside(journalFile, corruptLines + " damaged line(s), already reported");
      }
      createJournalLocked(nextGeneration, new byte[0]);
      generation = nextGeneration;
      snapshotState = FileState.of(snapshotFile);
      snapshotBytes = snapshot.size();
      // Lines queued after upTo are still pending and will go to the new journal; re-applying
      // them over a snapshot that may already contain them is idempotent.
      syncedSeq = Math.max(syncedSeq, upTo);
      writtenSeq = Math.max(writtenSeq, upTo);
      appendPendingLocked();
    } catch (IOException e) {
      throw new CacheException("cannot compact the cache", snapshotFile, e);
    }
  }

  /**
   * Replaces the journal with one extending snapshot {@code base} and holding {@code lines}.
   * Caller holds the file lock.
   */
  private void createJournalLocked(long base, byte[] lines) throws IOException {
    byte[] header = Journal.header(base, lines.length);
    byte[] content = Arrays.copyOf(header, header.length + lines.length);
    System.arraycopy(lines, 0, content, header.length, lines.length);
    fileOps.atomicWrite(journalFile, content, content.length);
    if (journal != null) {
      journal.close();
    }
    journal = FileChannel.open(journalFile, StandardOpenOption.READ, StandardOpenOption.WRITE);
    journalKey = Files.readAttributes(journalFile, BasicFileAttributes.class).fileKey();
    journalPos = content.length;
    journalStart = header.length;
    journalBase = base;
    corruptLines = 0;
  }

  @Override
  public void flush() {
    writePending(enqueuedSeq, false);
    compact();
  }

  // ---------------------------------------------------------------- lifecycle

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("the cache is closed: " + snapshotFile);
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    try {
      flush();
    } finally {
      closed = true;
      tasks.forEach(t -> t.cancel(false));
      closeQuietly();
    }
  }

  /** Releases the files without flushing or compacting: what a killed process leaves. For tests. */
  void abandon() {
    closed = true;
    tasks.forEach(t -> t.cancel(false));
    closeQuietly();
  }

  private void closeQuietly() {
    ioLock.lock();
    try {
      releaseLeaseLocked();
      if (journal != null) {
        try {
          journal.close();
        } catch (IOException e) {
          LOG.log(Level.WARNING, "tiercache: cannot close " + journalFile, e);
        }
        journal = null;
      }
      osLock.close();
    } finally {
      ioLock.unlock();
    }
  }

  Path snapshotFile() {
    return snapshotFile;
  }

  Path journalFile() {
    return journalFile;
  }

  Path lockFile() {
    return osLock.path();
  }

  FileNames files() {
    return files;
  }
}
