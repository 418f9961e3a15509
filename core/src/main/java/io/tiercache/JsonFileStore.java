package io.tiercache;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.tiercache.JsonText.MalformedJsonException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;
import org.jspecify.annotations.Nullable;

/**
 * The persistent store on files, shared by the processes of one host and by the Python SDK:
 *
 * <ul>
 *   <li>{@code <name>.snapshot}: the content, in the Python SDK's format plus an index, mapped
 *       ({@link SnapshotFile}); opening reads its header, a lookup probes the index.
 *   <li>{@code <name>.journal}: the changes since, one checksummed record per line, appended by every
 *       process with {@code O_APPEND} writes, in batches that apply whole ({@link Journal}).
 *   <li>{@code <name>.json}: the content exported for the Python SDK at each compaction; a rewrite
 *       by the Python SDK is noticed and merged as writes.
 *   <li>{@code <name>.state} and its {@code flock}: tiercache's own lock and shared page
 *       ({@link StateFile}); {@code <name>.lock}: the Python SDK's lock, taken around its file.
 * </ul>
 *
 * <h2>Writes</h2>
 * A write changes the in-memory {@link Content} and queues its record under the content lock, so the
 * content and the journal see writes in the same order ({@link JournalAppender}). {@link #await}
 * appends what is queued: whoever takes the I/O lock first writes every queued record in one
 * {@code write(2)} (one {@code fsync} under {@link Durability#FSYNC}). Processes append without
 * taking turns: {@code O_APPEND} places each batch whole after the others. A write that fails (a full
 * disk) is undone here and reported to its callers; it is never written later.
 *
 * <h2>Other processes</h2>
 * The {@link JournalFollower} reads what others appended, every {@code refreshInterval} and on
 * {@link #refresh}. A record of another process is applied unless a local change to the same key
 * lands after it in the file; the local batches are recognized by their marker.
 *
 * <h2>Compaction</h2>
 * When the journal outgrows the snapshot, the top layer of changes is frozen and rendered with the
 * snapshot into a new one by the {@link Compactor}, under tiercache's lock but while every process,
 * this one included, goes on appending (only the switch holds this process's I/O lock); the switch
 * seals the old journal and carries the records appended meanwhile into the new one. An appender
 * whose write raced the switch sees it in the state page and makes sure its batch is in the journal
 * that stays before its write returns.
 */
final class JsonFileStore implements PersistentStore {
  private static final System.Logger LOG = System.getLogger(JsonFileStore.class.getName());
  /** A batch is cut at about this size, so a backlog is written (and a full disk retried) in bounded steps. */
  static final int MAX_BATCH_BYTES = 1 << 20;
  /** Past this backlog, an ASYNC write waits for the backlog to be written: the queue is bounded. */
  private static final long MAX_QUEUED_BYTES = 64L << 20;
  /** What {@link #catchUp} reads and parses at a time without the I/O lock, then applies under it. */
  private static final long READ_STEP = 256 << 10;

  /** The default store: {@code <name>.json}, {@code .snapshot}, {@code .journal}, {@code .state}, {@code .lock}. */
  static final StoreProvider PROVIDER = new StoreProvider() {
    @Override
    public Object location(StoreConfig config) {
      return config.canonicalFile(config.files().json());
    }

    /** A directory this process cannot write gets a {@link ReadOnlyJsonStore}. */
    @Override
    public PersistentStore open(StoreConfig config) {
      String readOnly = ReadOnlyJsonStore.whyReadOnly(config.directory());
      return readOnly == null ? JsonFileStore.open(config) : ReadOnlyJsonStore.open(config, readOnly);
    }

    @Override
    public Path file(StoreConfig config) {
      return config.files().json();
    }
  };

  private final FileNames files;
  private final Durability durability;
  private final Clock clock;
  private final long ttlMillis;
  private final long staleGraceMillis;
  private final Duration refreshInterval;
  private final Duration asyncFlushDelay;
  private final long compactionMinBytes;
  private final FileOps fileOps;
  private final Listeners listeners = new Listeners();
  private final StoreCounters counters = new StoreCounters();

  private final Content content = new Content(null, 0);
  private final JournalAppender appender = new JournalAppender(content.lock, MAX_BATCH_BYTES);
  private final StateFile state;
  private final LockFile pythonLock;
  private final Compactor compactor;
  /**
   * Serializes file work in this JVM: appends, reads of the journal, reloads, compaction. A compaction
   * releases it while it renders ({@link #renderReleasingIo}); only appends go on meanwhile.
   */
  private final ReentrantLock ioLock = new ReentrantLock();
  /** The thread rendering a compaction with the I/O lock released, or null. */
  @GuardedBy("ioLock")
  private @Nullable Thread renderer;
  /** Signalled when that render ends. */
  private final Condition renderEnded = ioLock.newCondition();
  /**
   * FSYNC's group commit, outside the I/O lock: one writer at a time forces the journal while the
   * others write their batches and wait; the next force carries all of them.
   */
  private final ReentrantLock forceLock = new ReentrantLock();
  /** Signalled when a force ends (its waiters may return) and when a writer starts waiting. */
  private final Condition forceEnded = forceLock.newCondition();
  private final Condition writerArrived = forceLock.newCondition();
  @GuardedBy("forceLock")
  private boolean forcing;
  /** The sequences of the writers waiting for a force (the forcer's included). */
  @GuardedBy("forceLock")
  private final PriorityQueue<Long> awaitingForce = new PriorityQueue<>();
  /** The writers active at the last force's end: those it carried and those that waited for the next. */
  @GuardedBy("forceLock")
  private int lastForceWriters = 1;
  @GuardedBy("forceLock")
  private long lastForceNanos;
  /** Written under forceLock, read by {@link #forces} without it. */
  private volatile long forces;
  /** The last force that failed and the sequences it was to cover. */
  @GuardedBy("forceLock")
  private JournalAppender.@Nullable Failure forceFailure;
  /** The last batch written and the journal that holds it: what the next force covers. */
  private volatile @Nullable Written lastWritten;
  /** The longest a force waits for writers on their way: see {@link #awaitWriters}. */
  private static final long MAX_FORCE_DELAY_NANOS = TimeUnit.MICROSECONDS.toNanos(500);

  private record Written(long seq, JournalFile journal) {}

  @GuardedBy("content.lock")
  private long nextSeq;
  /** Replaced under ioLock; volatile because a write reads its journal's format without it. */
  @GuardedBy("ioLock")
  private volatile JournalFollower follower;
  /** The last local sequence of this writer's batches read back: later local changes land after what is read next. */
  @GuardedBy("ioLock")
  private long readBackSeq;
  @GuardedBy("ioLock")
  private long lastOwnBatchRead;
  /** The batch {@link #confirmLocked} confirms: read back before the seal, it is in the files, written or not. */
  @GuardedBy("ioLock")
  private JournalAppender.@Nullable Batch confirming;
  /** The expired content kept for stale-if-error, or null. */
  private volatile @Nullable Stale stale;
  private volatile boolean closed;
  private final AtomicBoolean compactionScheduled = new AtomicBoolean();
  private final AtomicBoolean repairScheduled = new AtomicBoolean();
  private static final long COMPACTION_SPACING_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
  private volatile long lastCompactionNanos = System.nanoTime() - COMPACTION_SPACING_NANOS;
  /** The journal's length past its header, as this process last knew it: what decides a compaction. */
  private volatile long journalBytesEstimate;
  private volatile boolean asyncFailureLogged;
  private final List<ScheduledFuture<?>> tasks = new ArrayList<>();

  /** Runs between a batch's append and its confirmation: lets tests switch journals there. */
  Runnable afterAppend = () -> {};

  /** How many times this thread holds tiercache's lock: reads and reloads may nest in a compaction. */
  @GuardedBy("ioLock")
  private int stateHolds;

  /**
   * Takes the I/O lock for file work other than appending. Such work may move the files, the
   * follower or the content that a compaction renders, so it waits while one renders.
   */
  private void lockIo() {
    ioLock.lock();
    awaitRenderLocked();
  }

  /** Waits (releasing ioLock meanwhile) while another thread renders a compaction. */
  @GuardedBy("ioLock")
  private void awaitRenderLocked() {
    while (renderer != null && renderer != Thread.currentThread()) {
      renderEnded.awaitUninterruptibly();
    }
  }

  /**
   * Takes tiercache's lock on the files ({@link StateFile}), reentrantly; caller holds ioLock. A
   * rendering compaction holds it for its thread, so another thread waits for the render first.
   */
  @GuardedBy("ioLock")
  private void lockState() {
    awaitRenderLocked();
    if (stateHolds == 0) {
      state.lock();
    }
    stateHolds++;
  }

  @GuardedBy("ioLock")
  private boolean tryLockState() {
    awaitRenderLocked();
    if (stateHolds == 0 && !state.tryLock()) {
      return false;
    }
    stateHolds++;
    return true;
  }

  @GuardedBy("ioLock")
  private void unlockState() {
    if (--stateHolds == 0) {
      state.unlock();
    }
  }

  /** File work that may fail. */
  private interface Work<T> {
    T run() throws IOException;
  }

  /**
   * Runs {@code work} under the I/O lock and tiercache's lock on the files: the frame of every change
   * to which files are in place. An {@link IOException} becomes a {@link CacheException} saying
   * {@code what} failed.
   */
  private <T> T exclusively(String what, Work<T> work) {
    lockIo();
    try {
      ensureOpen();
      lockState();
      try {
        return work.run();
      } finally {
        unlockState();
      }
    } catch (IOException e) {
      throw new CacheException("cannot " + what, files.json(), e);
    } finally {
      ioLock.unlock();
    }
  }

  /** An expired content and where to find its values. */
  private record Stale(long expiresAt, Lookup lookup, Content.@Nullable View view,
      SnapshotFile.@Nullable Table table) {}

  private interface Lookup {
    @Nullable Encoded find(String key);
  }

  private JsonFileStore(StoreConfig config) {
    this.files = config.files();
    this.durability = config.durability();
    this.clock = config.clock();
    this.ttlMillis = config.expireAfter().toMillis();
    this.staleGraceMillis = config.staleGrace().toMillis();
    this.refreshInterval = config.refreshInterval();
    this.asyncFlushDelay = config.asyncFlushDelay();
    this.compactionMinBytes = config.compactionMinBytes();
    this.fileOps = config.fileOps();
    this.state = new StateFile(files.state(), fileOps, config.lockTimeout(), counters);
    this.pythonLock = new LockFile(files.lock(), config.lockTimeout(), fileOps, FileOps.Use.READ, counters);
    this.compactor = new Compactor(files, fileOps, state, pythonLock, appender.writer);
  }

  static JsonFileStore open(StoreConfig config) {
    config.fileOps().createDirectories(config.directory());
    JsonFileStore store = new JsonFileStore(config);
    store.ioLock.lock();
    try {
      store.lockState();
      try {
        store.fileOps.removeStaleTemporaries(store.files.json(), store.files.snapshot(), store.files.journal());
        store.recoverSwitchLocked();
        store.loadLocked();
      } finally {
        store.unlockState();
      }
    } catch (IOException e) {
      store.release();
      throw new CacheException("cannot open the cache files", store.files.json(), e);
    } catch (RuntimeException | Error e) {
      store.release();
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
          () -> background("flush", this::flushAsync), delay, delay, TimeUnit.NANOSECONDS));
    }
  }

  private void background(String what, Runnable task) {
    if (closed) {
      return;
    }
    try {
      task.run();
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "tiercache: background " + what + " of " + files.json() + " failed: " + e.getMessage(),
          e);
    }
  }

  private long now() {
    return clock.millis();
  }

  // ---------------------------------------------------------------- reads

  @Override
  public Value get(String key) {
    Content.View v = content.view();
    if (now() >= v.expiresAt) {
      return null;
    }
    Encoded e;
    try {
      e = v.value(key);
    } catch (SnapshotFile.DamagedEntryException damaged) {
      repairSoon(damaged);
      return null; // a miss, never a wrong value; the repair restores it from the export
    }
    return e == null ? null : new Value(e, v.expiresAt);
  }

  /**
   * A damaged entry was found in the snapshot: it is moved aside and built again from its intact
   * entries, the export (the same content, in {@code <name>.json}) and the journal, in the background.
   */
  private void repairSoon(SnapshotFile.DamagedEntryException damage) {
    if (!repairScheduled.compareAndSet(false, true)) {
      return;
    }
    LOG.log(Level.WARNING, "tiercache: " + damage.getMessage() + "; rebuilding it from " + files.json()
        + " and the journal");
    Maintenance.COMPACTOR.execute(() -> background("repair", () -> {
      try {
        exclusively("repair the snapshot", () -> {
          repairLocked(damage.generation);
          return null;
        });
      } finally {
        repairScheduled.set(false);
      }
    }));
  }

  /**
   * See {@link #repairSoon}: repairs snapshot {@code generation} if it is still the one in place.
   * Caller holds ioLock and the state lock.
   */
  @GuardedBy("ioLock")
  private void repairLocked(long generation) throws IOException {
    if (closed) {
      return;
    }
    syncLocked();
    SnapshotFile damaged = content.view().base;
    SnapshotFile inPlace = openSnapshot();
    if (damaged == null || damaged.generation != generation || inPlace == null || inPlace.generation != generation) {
      return; // repaired already, or compacted since
    }
    Content initial = new Content(null, damaged.live.expiryMillis);
    long lost;
    initial.lock.lock();
    try {
      lost = damaged.live.forEachIntact(initial::change);
    } finally {
      initial.lock.unlock();
    }
    pythonLock.lock();
    try {
      Snapshot export = readPythonFileLocked();
      if (export != null && export.generation == damaged.generation) {
        initial.lock.lock();
        try {
          for (Map.Entry<String, Encoded> e : export.entries.entrySet()) {
            if (initial.view().entry(e.getKey()) == null) {
              initial.change(e.getKey(), e.getValue()); // the same content: what the snapshot lost
            }
          }
        } finally {
          initial.lock.unlock();
        }
      } else if (export != null) {
        initial.lock.lock();
        try {
          foreignChanges(export, initial.view(), now()).forEach(initial::apply);
        } finally {
          initial.lock.unlock();
        }
      }
    } finally {
      pythonLock.unlock();
    }
    FileOps.moveAside(files.snapshot(), lost + " damaged entries");
    rebuildLocked(initial, follower.journal(), follower.journal().headerLength, damaged);
  }

  @Override
  public Value getStale(String key) {
    if (staleGraceMillis <= 0) {
      return null;
    }
    long now = now();
    Content.View v = content.view();
    if (now >= v.expiresAt && now - v.expiresAt < staleGraceMillis) {
      Encoded e = v.value(key);
      return e == null ? null : new Value(e, v.expiresAt);
    }
    Stale s = stale;
    if (s != null && now - s.expiresAt < staleGraceMillis) {
      Encoded e = s.lookup.find(key);
      return e == null ? null : new Value(e, s.expiresAt);
    }
    return null;
  }

  @Override
  public void forEachStale(BiConsumer<String, Value> action) {
    if (staleGraceMillis <= 0) {
      return;
    }
    long now = now();
    Content.View v = content.view();
    try {
      if (now >= v.expiresAt && now - v.expiresAt < staleGraceMillis) {
        v.forEach((k, e) -> action.accept(k, new Value(e, v.expiresAt)));
        return;
      }
      Stale s = stale;
      if (s != null && now - s.expiresAt < staleGraceMillis) {
        SnapshotFile.EntryVisitor visit = (k, e) -> action.accept(k, new Value(e, s.expiresAt));
        if (s.table != null) {
          s.table.forEach(visit);
        } else {
          s.view.forEach(visit);
        }
      }
    } catch (IOException e) {
      throw new CacheException("cannot read the stale content", files.snapshot(), e);
    }
  }

  @Override
  public StoreCounters counters() {
    return counters;
  }

  @Override
  public void forEach(BiConsumer<String, Value> action) {
    Content.View v = content.view();
    if (now() >= v.expiresAt) {
      return;
    }
    try {
      v.forEach((k, e) -> action.accept(k, new Value(e, v.expiresAt)));
    } catch (IOException e) {
      throw new CacheException("cannot read the snapshot", files.snapshot(), e);
    } catch (SnapshotFile.DamagedEntryException damaged) {
      repairSoon(damaged);
      throw damaged;
    }
  }

  @Override
  public long size() {
    return now() >= content.expiresAt() ? 0 : content.size();
  }

  @Override
  public long expiresAtMillis() {
    return content.expiresAt();
  }

  @Override
  public long epoch() {
    return content.epoch();
  }

  // ---------------------------------------------------------------- writes

  @Override
  public Write put(String key, byte[] encoded) {
    byte[] line = Journal.put(key, encoded, 0, encoded.length);
    content.lock.lock();
    try {
      ensureOpen();
      rollOverIfExpiredLocked();
      long seq = ++nextSeq;
      content.change(key, Encoded.of(encoded, seq));
      appender.enqueue(line, seq);
      return receipt(seq);
    } finally {
      content.lock.unlock();
    }
  }

  @Override
  public Write remove(String key) {
    byte[] line = Journal.remove(key);
    content.lock.lock();
    try {
      ensureOpen();
      rollOverIfExpiredLocked();
      long seq = ++nextSeq;
      content.change(key, Encoded.removal(seq));
      appender.enqueue(line, seq);
      return receipt(seq);
    } finally {
      content.lock.unlock();
    }
  }

  @Override
  public Write clear() {
    content.lock.lock();
    try {
      ensureOpen();
      long seq = ++nextSeq;
      long expiry = now() + ttlMillis;
      content.clearLocally(expiry, seq, Long.MAX_VALUE);
      stale = null; // an explicit clear takes the expired content with it
      appender.enqueue(Journal.clear(expiry), seq);
      return receipt(seq);
    } finally {
      content.lock.unlock();
    }
  }

  /**
   * A write after the content expired starts a new period; the expired one is kept within the stale
   * grace. Another process may have started one already, unread here yet: the clear ends the expired
   * period only, and is void in every process that reads it after that other one.
   */
  @GuardedBy("content.lock")
  private void rollOverIfExpiredLocked() {
    long now = now();
    long expiresAt = content.expiresAt();
    if (now < expiresAt) {
      return;
    }
    boolean keep = staleGraceMillis > 0 && now - expiresAt < staleGraceMillis;
    Content.View expired = content.view();
    long seq = ++nextSeq;
    // In a format 1 or 2 journal (an older tiercache made it) the rollover is written in format 2, a clear
    // of any period, and is one here too, wherever it lands (a format 3 journal reads it so). The journal is
    // read without the I/O lock: should an older tiercache's compaction switch to a format 2 journal before
    // a format 3 rollover is written, it is written in format 2 there (JournalAppender.frame).
    JournalFollower current = follower;
    boolean legacy = current != null && current.journal().format < 3;
    content.clearLocally(now + ttlMillis, seq, legacy ? Long.MAX_VALUE : expiresAt);
    stale = keep ? staleOf(expired, expiresAt) : null;
    byte[] format2 = Journal.legacyRollover(now + ttlMillis, keep);
    if (legacy) {
      appender.enqueue(format2, seq);
    } else {
      appender.enqueue(Journal.rollover(now + ttlMillis, keep, expiresAt), format2, seq);
    }
  }

  private Write receipt(long seq) {
    return new Write(seq, content.epoch(), content.expiresAt());
  }

  @Override
  public Write replaceAll(Map<String, byte[]> entries) {
    return FileOps.settingAsideInterrupt(() -> replaceAllNow(entries)); // it writes through channels: see there
  }

  private Write replaceAllNow(Map<String, byte[]> entries) {
    ensureOpen();
    long expiry = now() + ttlMillis;
    SnapshotFile.Source replacement = new SnapshotFile.Source() {
      @Override public long expiryMillis() {
        return expiry;
      }

      @Override public long count() {
        return entries.size();
      }

      @Override public void forEach(SnapshotFile.EntryVisitor visitor) throws IOException {
        for (Map.Entry<String, byte[]> e : entries.entrySet()) {
          visitor.visit(e.getKey(), Encoded.of(e.getValue(), 0));
        }
      }
    };
    return exclusively("replace the content", () -> {
      writePendingLocked(Long.MAX_VALUE); // what this process wrote before the replace lands before it
      throwIfFailed(appender.writtenSeq());
      recoverSwitchLocked();
      syncLocked();
      while (true) {
        try (Compactor.Rendered r = compactor.render(nextGeneration(), true, replacement, null, echoes(),
            follower.journal(), follower.cursor())) {
          JournalFile next;
          try {
            next = compactor.commit(r);
          } catch (Compactor.ExportChangedException e) {
            pythonLock.lock();
            try {
              state.recordExport(files.json()); // whatever the Python SDK wrote is replaced anyway
            } finally {
              pythonLock.unlock();
            }
            continue;
          }
          installLocked(r.mapped, next, next.headerLength, true);
          counters.recordCompaction();
          stale = null;
          return receipt(appender.writtenSeq());
        }
      }
    });
  }

  @Override
  public void await(Write write) {
    switch (durability) {
      case ASYNC:
        if (appender.queuedBytes() > MAX_QUEUED_BYTES) {
          writePending(write.seq, false); // back-pressure: the backlog is bounded
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

  /** Appends queued records up to {@code seq} (and whatever else is queued), forcing if asked. */
  private void writePending(long seq, boolean force) {
    if (appender.writtenSeq() >= seq && (!force || appender.syncedSeq() >= seq)) {
      return;
    }
    if (appender.writtenSeq() < seq) {
      ioLock.lock();
      try {
        ensureOpen();
        writePendingLocked(seq);
        throwIfFailed(seq);
      } finally {
        ioLock.unlock();
      }
    }
    if (force) {
      forceThrough(seq);
    }
    maybeScheduleCompaction();
  }

  /**
   * Returns once a force that began after {@code seq} was written has completed: a force another
   * writer ran, or one this thread runs, outside the I/O lock, for every batch written by then.
   */
  private void forceThrough(long seq) {
    Written written;
    forceLock.lock();
    try {
      if (appender.syncedSeq() >= seq) {
        return;
      }
      awaitingForce.add(seq);
      writerArrived.signal();
      while (forcing && appender.syncedSeq() < seq && !forceFailed(seq)) {
        forceEnded.awaitUninterruptibly();
      }
      if (appender.syncedSeq() >= seq) {
        return; // a force that began after our batch was written carried it
      }
      if (forceFailed(seq)) {
        throw forceFailure.cause(); // the force that was to carry it failed; another may not report that
      }
      forcing = true;
      awaitWriters();
      written = lastWritten; // seq or later: set before writtenSeq reached seq
    } finally {
      forceLock.unlock();
    }
    long upTo = written == null ? seq : Math.max(seq, written.seq());
    long start = System.nanoTime();
    boolean forced = false;
    CacheException failure = null;
    try {
      if (written == null || written.seq() < seq || !written.journal().forceIfOpen()) {
        upTo = forceCurrentJournal(); // a switch closed it: the batch lives on in the journal that stays
      }
      forced = true;
    } catch (IOException e) {
      failure = new CacheException("the journal was written but cannot be forced to disk (other processes may"
          + " see the write; it may not survive a power loss): " + e.getMessage(), files.journal(), e);
    } finally {
      forceEnded(seq, forced, upTo, System.nanoTime() - start, failure);
    }
    if (failure != null) {
      throw failure;
    }
  }

  @GuardedBy("forceLock")
  private boolean forceFailed(long seq) {
    return forceFailure != null && forceFailure.covers(seq);
  }

  /**
   * When the last force ended with more than one writer active and not all of them wait again yet,
   * waits briefly (at most half a force, up to {@link #MAX_FORCE_DELAY_NANOS}) for the others' next
   * batches, so that this force carries them too: with two writers, each would otherwise force
   * alone while the other writes. PostgreSQL's {@code commit_delay} with {@code commit_siblings}
   * makes the same trade.
   */
  @GuardedBy("forceLock")
  private void awaitWriters() {
    long remaining = Math.min(lastForceNanos / 2, MAX_FORCE_DELAY_NANOS);
    try {
      while (awaitingForce.size() < lastForceWriters && remaining > 0) {
        remaining = writerArrived.awaitNanos(remaining);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // forces now; the caller sees the flag
    }
  }

  /**
   * Ends a force: the writers it carried (or whose force failed) return, one waiting writer forces
   * next. A force that neither completed nor failed (the store was closed meanwhile) carries nobody.
   */
  private void forceEnded(long seq, boolean forced, long upTo, long nanos, @Nullable CacheException failure) {
    forceLock.lock();
    try {
      forcing = false;
      if (failure != null) {
        forceFailure = new JournalAppender.Failure(appender.syncedSeq() + 1, upTo, failure);
      } else if (forced) {
        appender.synced(upTo);
        forces++;
        lastForceNanos = nanos;
      } else {
        awaitingForce.remove(seq); // its caller sees the exception; the others wait for another force
        upTo = appender.syncedSeq();
      }
      int carried = 0;
      while (!awaitingForce.isEmpty() && awaitingForce.peek() <= upTo) {
        awaitingForce.poll();
        carried++;
      }
      lastForceWriters = carried + awaitingForce.size();
      forceEnded.signalAll();
    } finally {
      forceLock.unlock();
    }
  }

  /** How many forces FSYNC writes made: fewer than the writes when they share them. */
  long forces() {
    return forces;
  }

  /** Forces the journal this process writes now, under the I/O lock; returns the last sequence it covers. */
  private long forceCurrentJournal() throws IOException {
    ioLock.lock();
    try {
      ensureOpen();
      long upTo = appender.writtenSeq();
      follower.journal().forceIfOpen(); // open: only the I/O lock's holder closes it
      return upTo;
    } finally {
      ioLock.unlock();
    }
  }

  private void throwIfFailed(long seq) {
    if (appender.writtenSeq() < seq) {
      CacheException failure = appender.failureOf(seq);
      throw failure != null ? failure
          : new CacheException("the write was not made: the cache was reloaded meanwhile", files.journal());
    }
  }

  /** Writes queued batches until {@code seq} is written or the queue is empty. */
  @GuardedBy("ioLock")
  private void writePendingLocked(long seq) {
    while (appender.writtenSeq() < seq) {
      JournalAppender.Pending[] records;
      content.lock.lock();
      try {
        records = appender.take();
      } finally {
        content.lock.unlock();
      }
      if (records == null) {
        return;
      }
      // copied without the content lock: writes go on queuing
      appendLocked(appender.frame(records, follower.journal().format));
    }
  }

  @GuardedBy("ioLock")
  private void appendLocked(JournalAppender.Batch batch) {
    JournalFile journal = follower.journal();
    try {
      journal.append(batch.unit());
      afterAppend.run();
      batch = confirmLocked(batch, journal);
    } catch (IOException | CacheException e) {
      failedLocked(batch, e);
      return;
    }
    // Before writtenSeq moves: whoever sees the batch written sees where (confirmLocked may have moved on).
    lastWritten = new Written(batch.lastSeq(), follower.journal());
    appender.written(batch);
    journalBytesEstimate += batch.length();
  }

  /** What the journal holds past its header: what this process read of it, and wrote since. */
  @GuardedBy("ioLock")
  private void estimateJournalLocked() {
    journalBytesEstimate = follower.cursor() - follower.journal().headerLength + appender.unreadBytes();
  }

  /**
   * After a batch was written: if a compactor was switching journals meanwhile, makes sure the batch
   * is in the journal that stays (it was, if it landed before the seal: it is carried over or
   * compacted; if after, it is appended again) before the write is acknowledged.
   */
  @GuardedBy("ioLock")
  private JournalAppender.Batch confirmLocked(JournalAppender.Batch batch, JournalFile journal) throws IOException {
    if (state.switching() == 0 && state.generation() == journal.generation) {
      return batch;
    }
    lockState();
    try {
      recoverSwitchLocked();
      if (state.generation() == journal.generation) {
        return batch; // the switch was abandoned: its seal is void
      }
      confirming = batch;
      readLocked(); // the old journal, to its seal: a batch read there landed before it
      boolean beforeSeal = lastOwnBatchRead >= batch.number();
      syncLocked(); // moves on to the journal that stays
      if (!beforeSeal) { // it landed after the seal: again, in the format of the journal that stays
        batch = appender.reframe(batch, follower.journal().format);
        follower.journal().append(batch.unit());
      }
      return batch;
    } finally {
      confirming = null;
      unlockState();
    }
  }

  /** A batch could not be written: ASYNC writes wait for the next try; others are undone and reported. */
  @GuardedBy("ioLock")
  private void failedLocked(JournalAppender.Batch batch, Exception cause) {
    if (durability == Durability.ASYNC) {
      content.lock.lock();
      try {
        appender.putBack(batch);
      } finally {
        content.lock.unlock();
      }
      throw new CacheException("cannot write the journal; " + appender.queuedBytes() / 1024
          + " KiB of writes wait in memory for the next try: " + cause.getMessage(), files.journal(), cause);
    }
    CacheException failure = cause instanceof CacheException ? (CacheException) cause
        : new CacheException("cannot write the journal (the write is undone and was not made): "
            + cause.getMessage(), files.journal(), cause);
    appender.failed(batch, failure);
    try {
      reloadLocked(batch.lastSeq(), true); // the in-memory content without the failed changes
    } catch (IOException | RuntimeException e) {
      failure.addSuppressed(e);
    }
  }

  /** ASYNC: writes the backlog in bounded batches; a failure (a full disk) leaves it queued for the next try. */
  private void flushAsync() {
    try {
      writePending(appender.lastQueuedSeq(), false);
      asyncFailureLogged = false;
    } catch (CacheException e) {
      if (!asyncFailureLogged) {
        asyncFailureLogged = true;
        LOG.log(Level.WARNING, "tiercache: " + e.getMessage() + " (retried every " + asyncFlushDelay.toMillis()
            + " ms; logged once until it succeeds)");
      }
    }
  }

  // ---------------------------------------------------------------- other processes

  @Override
  public void refresh() {
    FileOps.settingAsideInterrupt(() -> { // it may read the Python SDK's rewrite through a channel: see there
      refreshNow();
      return null;
    });
  }

  private void refreshNow() {
    boolean foreign;
    catchUp();
    lockIo();
    try {
      if (closed) {
        return;
      }
      syncLocked();
      foreign = !state.exportUnchanged(files.json());
      if (foreign) {
        lockState();
        try {
          if (!state.exportUnchanged(files.json())) {
            mergeForeignLocked();
          }
        } finally {
          unlockState();
        }
      }
    } catch (IOException e) {
      throw new CacheException("cannot read the journal", files.journal(), e);
    } finally {
      ioLock.unlock();
    }
    if (foreign) {
      maybeScheduleCompaction();
    }
  }

  /** Reads what others appended; follows a journal switch; reloads when the files moved on further. */
  @GuardedBy("ioLock")
  private void syncLocked() throws IOException {
    awaitRenderLocked();
    while (true) {
      readLocked();
      if (!follower.sealed()) {
        return;
      }
      long sealed = follower.sealGeneration();
      if (state.switching() == sealed) {
        // A switch in progress (or whose compactor died): wait for it, or recover it.
        lockState();
        try {
          recoverSwitchLocked();
        } finally {
          unlockState();
        }
      }
      JournalFile current = follower.journal();
      if (state.generation() == current.generation && state.switching() == 0) {
        follower.unseal(); // a void seal: its switch was abandoned
        continue;
      }
      JournalFile next = openJournal();
      if (next != null && next.generation == sealed && sealed == current.generation + 1) {
        SnapshotFile snapshot = openSnapshot();
        if (snapshot != null && snapshot.generation == sealed) {
          rebaseLocked(snapshot, next);
          return;
        }
      }
      if (next != null) {
        next.close();
      }
      reloadLocked(inFilesSeq(), true);
      return;
    }
  }

  @GuardedBy("ioLock")
  private void readLocked() throws IOException {
    if (skipOwnTailLocked()) {
      return;
    }
    JournalFollower.Pending read = follower.pending();
    read.read(Long.MAX_VALUE);
    deliverLocked(read);
  }

  /** Applies what {@code read} read, unless the follower moved on since; returns whether it did. */
  @GuardedBy("ioLock")
  private boolean deliverLocked(JournalFollower.Pending read) {
    Set<String> changed = new HashSet<>();
    boolean[] cleared = {false};
    boolean delivered = follower.deliver(read, new JournalFollower.Receiver() {
      @Override public void apply(List<Journal.Record> records) {
        content.lock.lock();
        try {
          for (Journal.Record r : records) {
            applyForeignLocked(r, changed, cleared);
          }
        } finally {
          content.lock.unlock();
        }
      }

      @Override public void readBack(long number) {
        readBackLocked(number);
      }

      @Override public void damaged(long fileOffset, String reason) {
        LOG.log(Level.WARNING, "tiercache: " + files.journal() + ": the record at byte " + fileOffset
            + " is damaged (" + reason + "); skipped it, the records after it still apply."
            + " The journal will be kept as a .corrupt file at the next compaction.");
      }

      @Override public void interrupted(long fileOffset, String reason) {
        logInterrupted(files.journal().toString(), fileOffset, reason);
      }
    });
    estimateJournalLocked();
    notifyListeners(cleared[0], changed);
    return delivered;
  }

  @GuardedBy("ioLock")
  private void readBackLocked(long number) {
    lastOwnBatchRead = Math.max(lastOwnBatchRead, number);
    readBackSeq = Math.max(readBackSeq, appender.readBack(number));
    if (confirming != null && number >= confirming.number()) {
      readBackSeq = Math.max(readBackSeq, confirming.lastSeq());
    }
  }

  /** The last local sequence in the files: written, or read back from the batch being confirmed. */
  @GuardedBy("ioLock")
  private long inFilesSeq() {
    return Math.max(appender.writtenSeq(), readBackSeq);
  }

  /**
   * Moves the follower to the journal's end, unread, when all it has not read is this process's own
   * batches (see {@link JournalAppender#ownedTail}): their changes are in memory already. A process
   * that is the only writer then never reads back what it wrote. Returns whether it did.
   */
  @GuardedBy("ioLock")
  private boolean skipOwnTailLocked() throws IOException {
    if (follower.sealed()) {
      return false;
    }
    long size = follower.journal().size();
    long last = appender.ownedTail(follower.journal(), follower.cursor(), size);
    if (last < 0) {
      return false;
    }
    follower.skipOwn(size);
    readBackLocked(last);
    estimateJournalLocked();
    return true;
  }

  /**
   * Reads the journal's backlog a step at a time without the I/O lock, applying each step under it,
   * so that the sync that follows under it for a whole compaction or refresh finds little left: at
   * 100k entries a compaction found ~20 MB appended since the last one, 40-80 ms of reading while
   * this process's writes waited. A read that fails is left to that sync, which reads it again and
   * reports the failure.
   */
  private void catchUp() {
    long step = READ_STEP;
    while (true) {
      JournalFollower.Pending read;
      lockIo();
      try {
        if (closed || follower.sealed() || follower.journal().size() - follower.cursor() <= step
            || skipOwnTailLocked()) {
          return; // what is left, a seal, or nothing (all of it was this process's own): the sync's
        }
        read = follower.pending();
      } catch (IOException e) {
        return; // the sync that follows meets it again, and reports it
      } finally {
        ioLock.unlock();
      }
      try {
        if (!read.read(step)) {
          step *= 2; // a unit longer than the step
          continue;
        }
      } catch (IOException e) {
        return; // the journal may have been switched and closed meanwhile; the sync reads it again
      }
      step = READ_STEP;
      lockIo();
      try {
        if (!deliverLocked(read)) {
          return; // the follower moved meanwhile: the sync goes on from where it stands
        }
      } finally {
        ioLock.unlock();
      }
    }
  }

  /** Applies another process's record, unless a local change to its key, or a local clear, lands after it in the file. */
  @GuardedBy("content.lock")
  private void applyForeignLocked(Journal.Record r, Set<String> changed, boolean[] cleared) {
    boolean ours = content.clearedAbove(readBackSeq); // queued or written after this record
    if (ours && content.hides(r, readBackSeq)) {
      return; // as it will on disk
    } // else our rollover is void: this record started a later period, which stands
    Content.View v = content.view();
    switch (r.op()) {
      case Journal.PUT:
      case Journal.REMOVE: {
        Encoded current = v.entry(r.key());
        if (current != null && current.seq > readBackSeq) {
          return; // our change is queued or written after this record: it wins, as it will on disk
        }
        Encoded next = r.op() == Journal.PUT ? r.value() : Encoded.removal(0);
        if (current == null ? next.removed() : current.sameBytes(next)) {
          return;
        }
        content.change(r.key(), next);
        changed.add(r.key());
        return;
      }
      case Journal.CLEAR:
        if (!ours) {
          if (!v.endedBy(r)) {
            return; // a rollover another process made after a later period started
          }
          stale = r.keepStale() && staleGraceMillis > 0 ? staleOf(v, v.expiresAt) : null;
        } else if (!r.keepStale()) {
          stale = null; // our void rollover kept the expired content; this clear does not
        }
        content.clear(r.millis(), readBackSeq);
        cleared[0] = true;
        return;
      case Journal.EXPIRY:
        content.setExpiry(r.millis());
        cleared[0] = true;
        return;
      default:
        throw new AssertionError((char) r.op());
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

  // ---------------------------------------------------------------- loading

  /** Opens the files, creating, migrating or repairing them as needed. Caller holds ioLock and the state lock. */
  @GuardedBy("ioLock")
  private void loadLocked() throws IOException {
    SnapshotFile snapshot = openSnapshot();
    JournalFile journal = openJournal();
    if (snapshot == null || journal == null || journal.generation != snapshot.generation) {
      rebuildLocked(snapshot, journal);
      return;
    }
    state.endSwitch(snapshot.generation); // a state page made anew learns the generation here
    Content replayed = new Content(snapshot, snapshot.live.expiryMillis);
    JournalFollower reader = new JournalFollower("", journal, journal.headerLength); // every batch applies
    stale = staleOfSnapshot(snapshot); // unless a clear the journal holds replaces it
    readInto(replayed, reader);
    follower = new JournalFollower(appender.writer, journal, reader.cursor());
    follower.noteDamaged(reader.damagedLines());
    long live = replayed.size(); // its lookups in the snapshot, before the lock every put needs
    content.lock.lock();
    try {
      content.replace(replayed.view(), live, true);
    } finally {
      content.lock.unlock();
    }
    if (!state.exportUnchanged(files.json())) {
      mergeForeignLocked();
    }
    startPeriodIfExpiredLocked();
  }

  /**
   * Builds the files anew from what there is: a new cache, one an older tiercache or the Python SDK
   * wrote ({@code <name>.json}, perhaps a format 1 journal), a damaged or missing snapshot, or a journal
   * that does not extend the snapshot (a compactor died between its renames). Caller holds ioLock and
   * the state lock.
   */
  @GuardedBy("ioLock")
  private void rebuildLocked(@Nullable SnapshotFile snapshot, @Nullable JournalFile journal) throws IOException {
    Content initial;
    boolean replay;
    long from = journal == null ? -1 : journal.headerLength;
    if (snapshot == null) {
      initial = fromPythonFile(); // a cache the Python SDK (or an older tiercache) made: its period too
      replay = journal != null;
    } else {
      initial = new Content(snapshot, snapshot.live.expiryMillis);
      long base = journal == null ? -1 : baseOf(journal, snapshot);
      replay = journal != null && (base == snapshot.generation || base == snapshot.generation - 1 && !snapshot.fresh);
      if (journal != null && !replay) {
        LOG.log(Level.WARNING, "tiercache: " + files.journal() + " extends snapshot " + base
            + ", not the snapshot in place (" + snapshot.generation + "); its records do not apply to it");
      }
      if (replay && base == snapshot.generation - 1) {
        from = replayFrom(journal, snapshot);
      }
    }
    rebuildLocked(initial, journal, replay ? from : -1, snapshot);
  }

  /**
   * Where to replay {@code journal}, sealed into {@code snapshot} by a compactor that died before its
   * journal replaced this one: where its seal says the records the snapshot lacks begin. A rollover
   * applied again over a snapshot that holds it is void, and would bring back the period it ended. A
   * seal that does not say (an older tiercache's): from the first record.
   */
  private static long replayFrom(JournalFile journal, SnapshotFile snapshot) throws IOException {
    byte[] all = journal.read(0, journal.size());
    Journal.Seal seal = Journal.sealInto(all, all.length, snapshot.generation);
    return seal != null && seal.renderedFrom() >= 0 ? seal.renderedFrom() : journal.headerLength;
  }

  /** The snapshot generation {@code journal} extends: its header's, or inferred when that is damaged. */
  private static long baseOf(JournalFile journal, SnapshotFile snapshot) throws IOException {
    if (!journal.headerDamaged) {
      return journal.generation;
    }
    byte[] all = journal.read(0, journal.size());
    return Journal.baseOfHeaderless(all, all.length, snapshot.generation);
  }

  /**
   * Writes {@code initial} (with {@code journal}'s records from {@code replayFrom} replayed over it, none
   * when negative, and what another program wrote to {@code <name>.json}) as a new snapshot, and
   * switches to it.
   */
  @GuardedBy("ioLock")
  private void rebuildLocked(Content initial, @Nullable JournalFile journal, long replayFrom,
      @Nullable SnapshotFile previous) throws IOException {
    long replayedTo = 0;
    int damaged = 0;
    if (journal != null) {
      JournalFollower reader = new JournalFollower("", journal, replayFrom); // every batch applies
      if (replayFrom >= 0) {
        readInto(initial, reader);
        replayedTo = reader.cursor();
        damaged = reader.damagedLines();
      } else {
        replayedTo = journal.size();
      }
    }
    if (journal != null && (damaged > 0 || journal.headerDamaged)) {
      keepDamagedCopy(journal); // before the commit seals it: the copy is the file as found
    }
    JournalFile next = null;
    for (int attempt = 0; next == null; attempt++) {
      if (!state.exportUnchanged(files.json())) {
        takeInPythonFile(initial);
      }
      try (Compactor.Rendered r = compactor.render(nextGeneration(previous, journal), false,
          sourceOf(initial.view(), initial.size()), null,
          previous == null ? SnapshotFile.EchoHashes.NONE : previous.echoes(),
          journal, replayedTo)) {
        next = compactor.commit(r);
        Content replayed = new Content(r.mapped, r.mapped.live.expiryMillis);
        JournalFollower reader = new JournalFollower("", next, next.headerLength);
        readInto(replayed, reader);
        long inFiles = inFilesSeq();
        adoptLocked(replayed, inFiles, true); // over what a store in use has not written yet
        if (follower != null) {
          follower.restart(next, reader.cursor());
          readBackSeq = inFiles;
          lastOwnBatchRead = appender.lastWrittenBatch();
          appender.allReadBack();
        } else {
          follower = new JournalFollower(appender.writer, next, reader.cursor());
        }
      } catch (Compactor.ExportChangedException e) {
        if (attempt == 5) {
          throw new CacheException("another program keeps rewriting the file", files.json());
        }
      }
    }
    if (journal != null) {
      journal.close();
    }
    stale = null;
    listeners.publish(null, null);
    startPeriodIfExpiredLocked();
  }

  /** The content of {@code <name>.json}, period included, or an empty one starting now. */
  private Content fromPythonFile() throws IOException {
    Snapshot python;
    pythonLock.lock();
    try {
      python = readPythonFileLocked();
    } finally {
      pythonLock.unlock();
    }
    long now = now();
    if (python == null || python.expiryMillis <= now) {
      return new Content(null, now + ttlMillis);
    }
    return Content.of(python);
  }

  /** Applies what another program wrote to {@code <name>.json} to {@code c}, as replayed records. */
  private void takeInPythonFile(Content c) throws IOException {
    pythonLock.lock();
    try {
      Snapshot python = readPythonFileLocked();
      if (python != null) {
        c.lock.lock();
        try {
          foreignChanges(python, c.view(), now()).forEach(c::apply);
        } finally {
          c.lock.unlock();
        }
      }
    } finally {
      pythonLock.unlock();
    }
  }

  /**
   * {@code <name>.json} parsed, and its state on disk recorded as seen; null when absent; set aside
   * when damaged. Caller holds the Python SDK's lock.
   */
  private @Nullable Snapshot readPythonFileLocked() throws IOException {
    byte[] bytes;
    try (FileChannel ch = fileOps.open(files.json(), FileOps.Use.READ, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size > Integer.MAX_VALUE - 8) {
        throw new CacheException("the file is over 2 GB, more than its reader takes", files.json());
      }
      ByteBuffer buf = ByteBuffer.allocate((int) size);
      while (buf.hasRemaining() && ch.read(buf) >= 0) {
        // read it all
      }
      bytes = buf.array();
    } catch (NoSuchFileException e) {
      state.recordExport(files.json());
      return null;
    }
    state.recordExport(files.json());
    try {
      return Snapshot.parse(bytes, bytes.length);
    } catch (MalformedJsonException e) {
      FileOps.moveAside(files.json(), e.getMessage());
      state.recordExport(files.json());
      return null;
    }
  }

  /**
   * What a rewrite of {@code <name>.json} by another program (the Python SDK writes back the whole
   * view it loaded, perhaps long ago) changes over {@code v}, as records: entries it adds or changes
   * are writes made now, except values tiercache itself exported for that key (a stale view written
   * back); entries it lacks are kept, since nothing tells a deliberate removal from a stale view; a
   * shorter expiry is taken. Nothing when the file is tiercache's own export or has expired.
   */
  static List<Journal.Record> foreignChanges(Snapshot python, Content.View v, long now) {
    SnapshotFile base = v.base;
    if (base != null && python.generation == base.generation || python.expiryMillis <= now) {
      return List.of();
    }
    List<Journal.Record> changes = new ArrayList<>();
    for (Map.Entry<String, Encoded> e : python.entries.entrySet()) {
      String key = e.getKey();
      Encoded theirs = e.getValue();
      Encoded mine;
      try {
        mine = v.value(key);
      } catch (SnapshotFile.DamagedEntryException damaged) {
        mine = null; // ours is damaged: theirs is what there is
      }
      long hash = SnapshotFile.pairHash(key, theirs);
      if (mine != null && SnapshotFile.pairHash(key, mine) == hash || base != null && base.isEcho(key, theirs, hash)) {
        continue;
      }
      try {
        changes.add(Journal.Record.put(key, Encoded.of(JsonText.compact(theirs), 0)));
      } catch (MalformedJsonException unreachable) {
        throw new IllegalStateException("parsed JSON did not parse again", unreachable); // parse validated it
      }
    }
    if (python.expiryMillis < v.expiresAt) {
      changes.add(Journal.Record.expiry(python.expiryMillis));
    }
    return changes;
  }

  /**
   * Takes in a rewrite of {@code <name>.json} by another program ({@link #foreignChanges}), as this
   * process's own writes. Caller holds ioLock and the state lock.
   */
  @GuardedBy("ioLock")
  private void mergeForeignLocked() throws IOException {
    long lastSeq = -1;
    int taken = 0;
    pythonLock.lock(); // held until the merge is written, so the file is not rewritten in between
    try {
      Snapshot python = readPythonFileLocked();
      if (python != null) {
        content.lock.lock();
        try {
          rollOverIfExpiredLocked();
          for (Journal.Record r : foreignChanges(python, content.view(), now())) {
            long seq = ++nextSeq;
            if (r.op() == Journal.PUT) {
              byte[] bytes = r.value().toByteArray();
              content.change(r.key(), Encoded.of(bytes, seq));
              appender.enqueue(Journal.put(r.key(), bytes, 0, bytes.length), seq);
              taken++;
            } else {
              content.setExpiry(r.millis());
              appender.enqueue(Journal.expiry(r.millis()), seq);
            }
            lastSeq = seq;
          }
        } finally {
          content.lock.unlock();
        }
      }
      if (lastSeq >= 0) {
        writePendingLocked(lastSeq);
        throwIfFailed(lastSeq);
      }
    } finally {
      pythonLock.unlock();
    }
    if (taken > 0) {
      LOG.log(Level.INFO, "tiercache: took in " + taken + " entries another program (the Python SDK?) wrote to "
          + files.json());
    }
    if (lastSeq >= 0) {
      listeners.publish(null, null);
    }
  }

  /** A period that ended while no process had the cache open: the next one starts now, and is on disk. */
  @GuardedBy("ioLock")
  private void startPeriodIfExpiredLocked() {
    long seq;
    content.lock.lock();
    try {
      if (now() < content.expiresAt()) {
        return;
      }
      rollOverIfExpiredLocked();
      seq = appender.lastQueuedSeq();
    } finally {
      content.lock.unlock();
    }
    writePendingLocked(seq);
    throwIfFailed(seq);
  }

  /** The snapshot in place, mapped; null when absent, or damaged (then set aside). */
  private @Nullable SnapshotFile openSnapshot() throws IOException {
    try (FileChannel ch = fileOps.open(files.snapshot(), FileOps.Use.READ, StandardOpenOption.READ)) {
      return SnapshotFile.map(files.snapshot(), ch);
    } catch (NoSuchFileException e) {
      return null;
    } catch (SnapshotFile.DamagedException e) {
      if (e.getMessage().contains("newer tiercache")) {
        throw new CacheException(e.getMessage() + "; this one changes nothing", files.snapshot());
      }
      FileOps.moveAside(files.snapshot(), e.getMessage());
      return null;
    }
  }

  private @Nullable JournalFile openJournal() throws IOException {
    try {
      return JournalFile.open(files.journal(), fileOps);
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  /** Applies every record from {@code from} (this writer's too) to {@code c}; returns where it stopped. */
  private long replayInto(Content c, JournalFile journal, long from) throws IOException {
    JournalFollower reader = new JournalFollower("", journal, from); // no batch is "own": all apply
    readInto(c, reader);
    return reader.cursor();
  }

  /**
   * Applies {@code reader}'s records to {@code c}; returns whether a clear applied, and then sets the
   * stale content to what the last one kept (nothing for an explicit clear).
   */
  private boolean readInto(Content c, JournalFollower reader) throws IOException {
    Stale[] kept = {null};
    boolean[] cleared = {false};
    JournalFollower.Receiver receiver = new JournalFollower.Receiver() {
      @Override public void apply(List<Journal.Record> records) {
        c.lock.lock();
        try {
          for (Journal.Record r : records) {
            if (r.op() == Journal.CLEAR && c.view().endedBy(r)) {
              Content.View v = c.view();
              kept[0] = r.keepStale() && staleGraceMillis > 0 ? staleOf(v, v.expiresAt) : null;
              cleared[0] = true;
            }
            c.apply(r);
          }
        } finally {
          c.lock.unlock();
        }
      }

      @Override public void readBack(long number) {
        throw new AssertionError("a replay reads every batch as another's");
      }

      @Override public void damaged(long fileOffset, String reason) {
        LOG.log(Level.WARNING, "tiercache: " + journalName(reader) + ": the record at byte " + fileOffset
            + " is damaged (" + reason + "); skipped it, the records after it still apply.");
      }

      @Override public void interrupted(long fileOffset, String reason) {
        logInterrupted(journalName(reader), fileOffset, reason);
      }
    };
    // A seal in the journal in place is void (its switch was abandoned) unless a switch is under way.
    while (reader.read(receiver) && reader.sealed() && state.switching() == 0
        && state.generation() == reader.journal().generation) {
      reader.unseal();
    }
    if (cleared[0]) { // what the last clear kept, if it kept anything: an explicit clear takes it all
      stale = kept[0];
    }
    return cleared[0];
  }

  private static void logInterrupted(String journal, long fileOffset, String reason) {
    LOG.log(Level.INFO, "tiercache: " + journal + ": skipped a write cut short at byte " + fileOffset + " ("
        + reason + "); it was never acknowledged");
  }

  private static String journalName(JournalFollower reader) {
    return reader.journal().path.toString();
  }

  /**
   * Moves on to the snapshot a compaction of another process put in place, and its journal: the same
   * content, so only the keys the new journal's records change are reported.
   */
  @GuardedBy("ioLock")
  private void rebaseLocked(SnapshotFile snapshot, JournalFile next) throws IOException {
    Content.View before = content.view();
    Content replayed = new Content(snapshot, snapshot.live.expiryMillis);
    Set<String> touched = new HashSet<>();
    JournalFollower reader = new JournalFollower("", next, next.headerLength);
    Stale previousStale = stale;
    boolean cleared = readInto(replayed, reader);
    collectKeys(replayed, touched);
    long inFiles = inFilesSeq();
    boolean fresh = adoptLocked(replayed, inFiles, snapshot.fresh);
    follower.restart(next, reader.cursor());
    follower.noteDamaged(reader.damagedLines());
    readBackSeq = inFiles;
    lastOwnBatchRead = appender.lastWrittenBatch();
    appender.allReadBack();
    if (!cleared) {
      stale = staleOfSnapshot(snapshot) != null ? staleOfSnapshot(snapshot) : previousStale;
    }
    keepStaleOfOwnClearLocked(inFiles, previousStale);
    if (fresh) {
      listeners.publish(null, null);
      return;
    }
    Content.View after = content.view();
    for (String key : touched) {
      Encoded a = before.value(key);
      Encoded b = after.value(key);
      if (a == null ? b != null : b == null || !a.sameBytes(b)) {
        listeners.publish(null, key);
      }
    }
  }

  /**
   * After a reload or rebase: an explicit clear of this process above {@code inFiles} lands after all the
   * files hold and takes their expired content with it; what is kept then is what was kept before the
   * files were read: nothing, or what a rollover of this process queued behind the clear kept.
   */
  @GuardedBy("ioLock")
  private void keepStaleOfOwnClearLocked(long inFiles, @Nullable Stale previousStale) {
    content.lock.lock();
    try {
      if (content.explicitlyClearedAbove(inFiles)) {
        stale = previousStale;
      }
    } finally {
      content.lock.unlock();
    }
  }

  private static void collectKeys(Content c, Set<String> keys) {
    Content.View v = c.view();
    keys.addAll(v.top.changes.keySet());
  }

  /**
   * Reads the files afresh; this process's changes with sequences above {@code keepAbove} (queued,
   * not written) stay on top. Epoch and listeners are told the whole content may have changed.
   */
  @GuardedBy("ioLock")
  private void reloadLocked(long keepAbove, boolean newEpoch) throws IOException {
    awaitRenderLocked(); // a failed append's undo: the render reads the content it replaces
    SnapshotFile snapshot = openSnapshot();
    JournalFile journal = openJournal();
    if (snapshot == null || journal == null || journal.generation != snapshot.generation) {
      if (journal != null) {
        journal.close();
      }
      lockState();
      try {
        rebuildLocked(snapshot, openJournal());
      } finally {
        unlockState();
      }
      return;
    }
    Content replayed = new Content(snapshot, snapshot.live.expiryMillis);
    JournalFollower reader = new JournalFollower("", journal, journal.headerLength);
    Stale previousStale = stale;
    readInto(replayed, reader);
    long inFiles = inFilesSeq();
    adoptLocked(replayed, keepAbove, newEpoch);
    keepStaleOfOwnClearLocked(keepAbove, previousStale);
    follower.restart(journal, reader.cursor());
    follower.noteDamaged(reader.damagedLines());
    readBackSeq = inFiles;
    lastOwnBatchRead = appender.lastWrittenBatch();
    appender.allReadBack();
    listeners.publish(null, null);
  }

  /**
   * Replaces the content with {@code replayed}, read from the files, and this process's changes above
   * {@code keepAbove} (not in the files yet) on top; under the content lock from the copy to the
   * replace, so that no change made meanwhile is left out. Returns whether the epoch moved on: when
   * asked, or when the period changed.
   */
  @GuardedBy("ioLock")
  private boolean adoptLocked(Content replayed, long keepAbove, boolean newEpoch) {
    replayed.size(); // its lookups in the snapshot, before the lock every put needs
    content.lock.lock();
    try {
      keepQueuedLocked(replayed, keepAbove);
      boolean moved = newEpoch || replayed.expiresAt() != content.expiresAt();
      content.replace(replayed.view(), replayed.size(), moved);
      return moved;
    } finally {
      content.lock.unlock();
    }
  }

  /** Puts this process's changes above {@code keepAbove} on top of {@code replayed}, its last clear first. */
  @GuardedBy("content.lock")
  private void keepQueuedLocked(Content replayed, long keepAbove) {
    Content.View v = content.view();
    replayed.lock.lock();
    try {
      if (content.clearedAbove(keepAbove)) {
        if (content.appliesOver(replayed.expiresAt(), keepAbove)) {
          replayed.clear(v.expiresAt, keepAbove); // it lands after everything the files hold
        }
      } else {
        content.forgetLocalClear();
      }
      if (v.frozen != null) {
        v.frozen.changes.forEach((k, e) -> {
          if (e.seq > keepAbove) {
            replayed.change(k, e);
          }
        });
      }
      v.top.changes.forEach((k, e) -> {
        if (e.seq > keepAbove) {
          replayed.change(k, e);
        }
      });
    } finally {
      replayed.lock.unlock();
    }
  }

  /** Installs a snapshot this process put in place, with its journal read from {@code cursor}. */
  @GuardedBy("ioLock")
  private void installLocked(SnapshotFile snapshot, JournalFile next, long cursor, boolean replaced) {
    content.lock.lock();
    try {
      if (replaced) {
        adoptLocked(new Content(snapshot, snapshot.live.expiryMillis), appender.writtenSeq(), true);
      } else {
        content.compacted(snapshot);
      }
    } finally {
      content.lock.unlock();
    }
    follower.restart(next, cursor);
    estimateJournalLocked();
    if (replaced) {
      readBackSeq = appender.writtenSeq();
      lastOwnBatchRead = appender.lastWrittenBatch();
      appender.allReadBack();
    }
  }

  private long nextGeneration() throws IOException {
    SnapshotFile s = content.view().base;
    return nextGeneration(s, follower.journal());
  }

  private long nextGeneration(@Nullable SnapshotFile snapshot, @Nullable JournalFile journal) {
    long g = Math.max(state.generation(), state.switching());
    if (snapshot != null) {
      g = Math.max(g, snapshot.generation);
    }
    if (journal != null) {
      g = Math.max(g, journal.generation);
    }
    return g + 1;
  }

  /**
   * A compactor that died between announcing its switch and ending it left the announcement: the
   * switch is completed if its snapshot is in place (its journal too, or written again from the old
   * one), else abandoned (its seal is void). Abandoning a switch whose snapshot is in place would
   * leave live writers appending to a journal the next load finds does not extend it. Caller holds
   * the state lock.
   */
  private void recoverSwitchLocked() throws IOException {
    long switching = state.switching();
    if (switching == 0) {
      return;
    }
    JournalFile journal = openJournal();
    try {
      if (journal != null && journal.generation == switching) {
        state.endSwitch(switching);
        return;
      }
      SnapshotFile snapshot = journal == null ? null : openSnapshot();
      try {
        if (snapshot == null || snapshot.generation != switching || !compactor.completeSwitch(snapshot, journal)) {
          state.endSwitch(state.generation());
        }
      } finally {
        if (snapshot != null) {
          snapshot.unmap();
        }
      }
    } finally {
      if (journal != null) {
        journal.close();
      }
    }
  }

  // ---------------------------------------------------------------- compaction

  /** Schedules a compaction once one is {@link #compactionDue due}, unless one is scheduled already. */
  private void maybeScheduleCompaction() {
    if (closed || compactionScheduled.get() || !compactionDue() || !compactionScheduled.compareAndSet(false, true)) {
      return;
    }
    // The flag stays set until the compaction ends: writes made while it renders must not queue a
    // second one, which would render everything again to fold the few records carried over.
    Maintenance.COMPACTOR.execute(() -> background("compaction", () -> {
      try {
        compact(false);
      } finally {
        compactionScheduled.set(false);
      }
    }));
  }

  /**
   * Whether the journal has outgrown the snapshot (or the minimum): amortized, each write pays O(1)
   * bytes of compaction. Within {@link #COMPACTION_SPACING_NANOS} of this process's last compaction,
   * only at four times that, so that small caches written fast do not compact all the time.
   */
  private boolean compactionDue() {
    SnapshotFile base = content.view().base;
    long threshold = Math.max(compactionMinBytes, base == null ? 0 : base.live.jsonLength);
    long journalBytes = journalBytesEstimate;
    boolean recent = System.nanoTime() - lastCompactionNanos < COMPACTION_SPACING_NANOS;
    return journalBytes > threshold && !(recent && journalBytes <= 4 * threshold);
  }

  /**
   * Folds the journal into a new snapshot and exports it. In the background ({@code wait} false) it
   * gives way to another process compacting, and does nothing when, caught up, the journal is no
   * longer due (another process compacted it since this one scheduled the compaction); {@link #flush}
   * waits for the lock and always compacts.
   */
  private void compact(boolean wait) {
    FileOps.settingAsideInterrupt(() -> { // it writes through channels: see there
      compactNow(wait);
      return null;
    });
  }

  private void compactNow(boolean wait) {
    catchUp();
    lockIo();
    try {
      if (closed) {
        return;
      }
      if (wait) {
        lockState();
      } else if (!tryLockState()) {
        return; // another process is compacting
      }
      try {
        recoverSwitchLocked();
        syncLocked();
        if (!state.exportUnchanged(files.json())) {
          mergeForeignLocked();
        }
        if (!wait && !compactionDue()) {
          return; // rendering the whole content again would fold in only what was written since
        }
        try {
          compactLocked();
        } catch (SnapshotFile.DamagedEntryException damaged) {
          LOG.log(Level.WARNING, "tiercache: " + damaged.getMessage() + "; rebuilding it from " + files.json()
              + " and the journal");
          repairLocked(damaged.generation); // a damaged entry met while rendering: the repair writes anew
        }
      } finally {
        unlockState();
      }
    } catch (IOException e) {
      throw new CacheException("cannot compact the cache", files.snapshot(), e);
    } finally {
      ioLock.unlock();
    }
  }

  /** Renders the content into a new snapshot and switches to it. Caller holds ioLock and the state lock. */
  @GuardedBy("ioLock")
  private void compactLocked() throws IOException {
    boolean damaged = follower.damagedLines() > 0;
    if (!damaged && follower.cursor() == follower.journal().headerLength + follower.journal().carriedBytes
        && appender.isEmpty() && content.view().frozen == null && content.view().top.changes.isEmpty()
        && content.view().baseVisible() && java.nio.file.Files.exists(files.json())) {
      return; // the snapshot and its export already hold everything
    }
    passRolloversLocked();
    long generation = nextGeneration(); // before the freeze: nothing may throw between it and the try
    SnapshotFile.EchoHashes echoes = echoes();
    Content.Frozen frozen;
    SnapshotFile.@Nullable Source staleSource;
    content.lock.lock();
    try {
      frozen = content.freeze();
      staleSource = staleSource();
    } finally {
      content.lock.unlock();
    }
    long renderedUpTo = follower.cursor();
    JournalFile old = follower.journal();
    boolean done = false;
    try (Compactor.Rendered r = renderReleasingIo(() -> compactor.render(generation, false,
        sourceOf(frozen.view(), content.count(frozen)),
        staleSource, echoes, old, renderedUpTo))) {
      JournalFile next = compactor.commit(r);
      if (damaged) {
        keepDamagedCopy(old);
      }
      long read = follower.cursor() - renderedUpTo; // what the follower read past the render, up to the seal
      installLocked(r.mapped, next, next.headerLength + read, false);
      lastCompactionNanos = System.nanoTime();
      counters.recordCompaction();
      done = true;
    } catch (Compactor.ExportChangedException e) {
      // Rewritten by another program while rendering: taken in now, exported at the next compaction.
      content.lock.lock();
      try {
        content.unfreeze();
      } finally {
        content.lock.unlock();
      }
      mergeForeignLocked();
      done = true;
    } finally {
      if (!done) {
        content.lock.lock();
        try {
          content.unfreeze();
        } finally {
          content.lock.unlock();
        }
      }
    }
  }

  /**
   * Starts a new period if the content expired, and reads past this process's rollovers: one that a
   * render holds and its new journal carries would apply there as void (see {@link Journal}). Only a
   * period shorter than a write and a read can start again before the freeze; what it holds expires
   * before anyone is served it.
   */
  @GuardedBy("ioLock")
  private void passRolloversLocked() throws IOException {
    for (int attempt = 0; attempt < 3; attempt++) {
      long upTo;
      content.lock.lock();
      try {
        if (attempt == 0) {
          rollOverIfExpiredLocked();
        }
        if (!content.rolledOverAbove(readBackSeq)) {
          return;
        }
        upTo = appender.lastQueuedSeq();
      } finally {
        content.lock.unlock();
      }
      writePendingLocked(upTo);
      throwIfFailed(upTo);
      syncLocked();
    }
  }

  /**
   * Renders with the I/O lock released, so that this process's appends go on meanwhile, as other
   * processes' do: the render starts the new journal with the records appended since it began, and
   * the switch adds those appended after that. Everything else waits ({@link #lockIo});
   * tiercache's lock on the files stays held, so no other process switches meanwhile. The I/O lock is
   * held again when this returns or throws.
   */
  @GuardedBy("ioLock")
  private Compactor.Rendered renderReleasingIo(java.util.function.Supplier<Compactor.Rendered> render) {
    if (ioLock.getHoldCount() != 1) {
      return render.get(); // nested in other file work, which must not be interleaved with appends
    }
    renderer = Thread.currentThread();
    ioLock.unlock();
    try {
      return render.get();
    } finally {
      ioLock.lock();
      renderer = null;
      renderEnded.signalAll();
    }
  }

  private void keepDamagedCopy(JournalFile old) {
    try {
      byte[] all = old.read(0, old.size());
      Path aside = files.journal().resolveSibling(files.journal().getFileName() + ".corrupt-"
          + java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'")
              .withZone(java.time.ZoneOffset.UTC).format(java.time.Instant.now()));
      try (FileOps.Temporary t = fileOps.writeTemporary(aside, all, all.length)) {
        t.replace(aside);
      }
      LOG.log(Level.WARNING, "tiercache: " + files.journal() + " had damaged records; kept a copy as " + aside);
    } catch (IOException | RuntimeException e) {
      LOG.log(Level.WARNING, "tiercache: cannot keep a copy of the damaged journal " + files.journal(), e);
    }
  }

  private SnapshotFile.EchoHashes echoes() {
    SnapshotFile base = content.view().base;
    return base == null ? SnapshotFile.EchoHashes.NONE : base.echoes();
  }

  private static SnapshotFile.Source sourceOf(Content.View view, long count) {
    return new SnapshotFile.Source() {
      @Override public long expiryMillis() {
        return view.expiresAt;
      }

      @Override public long count() {
        return count;
      }

      @Override public void forEach(SnapshotFile.EntryVisitor visitor) throws IOException {
        view.forEach(visitor);
      }
    };
  }

  // ---------------------------------------------------------------- stale content

  private static Stale staleOf(Content.View view, long expiresAt) {
    return new Stale(expiresAt, view::value, view, null);
  }

  private @Nullable Stale staleOfSnapshot(SnapshotFile snapshot) {
    SnapshotFile.Table t = snapshot.stale;
    if (!t.present() || staleGraceMillis <= 0 || now() - t.expiryMillis >= staleGraceMillis) {
      return null;
    }
    return new Stale(t.expiryMillis, key -> {
      byte[] quoted = SnapshotFile.quoted(key);
      long slot = t.find(quoted, quoted.length, SnapshotFile.hash(quoted, 0, quoted.length));
      return slot < 0 ? null : t.value(slot);
    }, null, t);
  }

  /** The stale content to keep in the next snapshot, or null when there is none within the grace. */
  private SnapshotFile.@Nullable Source staleSource() {
    Stale s = stale;
    if (s == null || now() - s.expiresAt >= staleGraceMillis) {
      stale = null;
      return null;
    }
    return new SnapshotFile.Source() {
      private long count = -1;

      @Override public long expiryMillis() {
        return s.expiresAt;
      }

      @Override public long count() {
        if (count < 0) {
          long[] n = {0};
          try {
            forEach((k, v) -> n[0]++);
          } catch (IOException e) {
            throw new CacheException("cannot read the stale content", files.snapshot(), e);
          }
          count = n[0];
        }
        return count;
      }

      @Override public void forEach(SnapshotFile.EntryVisitor visitor) throws IOException {
        if (s.table != null) {
          s.table.forEach(visitor);
        } else {
          s.view.forEach(visitor);
        }
      }
    };
  }

  // ---------------------------------------------------------------- lifecycle

  @Override
  public void flush() {
    writePending(appender.lastQueuedSeq(), false);
    compact(true);
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("the cache is closed: " + files.json());
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
      release();
    }
  }

  /** Releases the files without writing anything (what a killed process leaves, less the lost queue). */
  private void release() {
    closed = true;
    lockIo();
    try {
      if (follower != null) {
        follower.close();
      }
      pythonLock.close();
      state.close();
    } finally {
      ioLock.unlock();
    }
  }

  FileNames files() {
    return files;
  }

  Path lockFile() {
    return files.lock();
  }
}
