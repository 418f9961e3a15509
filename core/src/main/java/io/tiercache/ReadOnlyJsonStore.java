package io.tiercache;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.sun.jna.Native;
import io.tiercache.JsonText.MalformedJsonException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The JSON store on a directory this process cannot write (a read-only mount, a cache shipped in a
 * container image, a directory without write permission for it): it serves what the files hold and
 * refuses every write. {@link JsonFileStore#PROVIDER} opens it when {@link #whyReadOnly} says so.
 *
 * <p>What is served is what a writable open would serve, less what it would write: the mapped
 * {@code <name>.snapshot} with {@code <name>.journal}'s records replayed over it and a rewrite of
 * {@code <name>.json} by the Python SDK taken in, or, without a snapshot, {@code <name>.json} (with
 * the journal over it). A seal does not end the replay: a journal is paired with the snapshot it
 * extends, and the records after a seal belong to that pair too. Nothing past its expiry is served;
 * an expired content is served as empty, since no new period can be written. Damaged files, lines
 * and entries are skipped with a warning naming the file, never moved aside; files that may not be
 * trusted (links, another user's, hard-linked) are refused as everywhere.
 *
 * <p>Nothing is created, written or locked, but {@code <name>.lock} when it exists, around reading
 * {@code <name>.json} (a read-only descriptor takes the Python SDK's {@code flock}). A writable
 * process elsewhere (a read-only bind mount of a directory in use) may still change the files:
 * {@link #refresh} reads them again when a {@code stat} shows a change.
 */
final class ReadOnlyJsonStore implements PersistentStore {
  private static final System.Logger LOG = System.getLogger(ReadOnlyJsonStore.class.getName());
  /** The expiry of a cache without files: long past. */
  private static final long NO_CONTENT = 0;
  /** How {@link Snapshot#render} ends an export; a rewrite by the Python SDK drops tiercache's member. */
  private static final Pattern OWN_EXPORT_END = Pattern.compile(
      "\n {4}\"tiercache\": \\{\n {8}\"version\": \\d+,\n {8}\"generation\": (-?\\d+)\n {4}}\n}$");
  private static final int TAIL_BYTES = 128;

  private final FileNames files;
  private final FileOps fileOps;
  private final Clock clock;
  private final Duration lockTimeout;
  /** Why the directory is read-only for this process: the errno text. */
  private final String reason;
  private final Listeners listeners = new Listeners();
  private final StoreCounters counters = new StoreCounters();
  /** Serializes reloads. */
  private final ReentrantLock ioLock = new ReentrantLock();
  private volatile Loaded loaded;
  private volatile long epoch;
  /** The snapshot generation found with damaged entries: its intact ones are read into the heap. */
  @GuardedBy("ioLock")
  private long salvaged = Long.MIN_VALUE;
  private volatile boolean closed;
  private @Nullable ScheduledFuture<?> refreshTask;

  /** A file's identity and state, enough to tell that it changed. */
  private record Stat(@Nullable Object key, long size, long modifiedNanos) {}

  private record Stats(@Nullable Stat snapshot, @Nullable Stat journal, @Nullable Stat json) {}

  /**
   * One reading of the files: its content, the files' state before it, and whether
   * {@code <name>.json} already holds that content (a flush has nothing to write).
   */
  private record Loaded(Content content, Stats stats, boolean folded) {}

  private ReadOnlyJsonStore(StoreConfig config, String reason) {
    this.files = config.files();
    this.fileOps = config.fileOps();
    this.clock = config.clock();
    this.lockTimeout = config.lockTimeout();
    this.reason = reason;
  }

  /**
   * Why this process cannot create files in {@code dir} ({@code access(2)} fails with {@code EROFS}
   * or {@code EACCES}), as the errno text; null when it can, or when {@code dir} is missing (the
   * writable store creates it or says why it cannot). Root may write whatever the permission bits.
   */
  static @Nullable String whyReadOnly(Path dir) {
    if (!FileOps.POSIX) {
      return Files.isDirectory(dir) && !Files.isWritable(dir) ? "not writable" : null;
    }
    if (Posix.access(dir.toString(), Posix.W_OK | Posix.X_OK) == 0) {
      return null;
    }
    int errno = Native.getLastError();
    return errno == Posix.EROFS || errno == Posix.EACCES ? Posix.describe(errno) : null;
  }

  static ReadOnlyJsonStore open(StoreConfig config, String reason) {
    ReadOnlyJsonStore store = new ReadOnlyJsonStore(config, reason);
    LOG.log(Level.INFO, "tiercache: " + config.directory() + " is read-only for this process (" + reason
        + "): the cache '" + config.name() + "' is opened read-only; it serves what its files hold and every"
        + " write throws");
    store.ioLock.lock();
    try {
      store.loaded = store.load();
    } catch (IOException e) {
      throw new CacheException("cannot read the cache files", config.files().json(), e);
    } finally {
      store.ioLock.unlock();
    }
    long refresh = config.refreshInterval().toNanos();
    if (refresh > 0) {
      store.refreshTask = Maintenance.SCHEDULER.scheduleWithFixedDelay(store::refreshInBackground, refresh,
          refresh, TimeUnit.NANOSECONDS);
    }
    return store;
  }

  // ---------------------------------------------------------------- reads

  @Override
  public @Nullable Value get(String key) {
    for (int attempt = 0; ; attempt++) {
      Content.View v = loaded.content.view();
      if (clock.millis() >= v.expiresAt) {
        return null;
      }
      try {
        Encoded e = v.value(key);
        return e == null ? null : new Value(e, v.expiresAt);
      } catch (SnapshotFile.DamagedEntryException damaged) {
        if (attempt > 0) {
          return null; // a miss, never a wrong value
        }
        salvage(damaged);
      }
    }
  }

  @Override
  public void forEach(BiConsumer<String, Value> action) {
    Content.View v = loaded.content.view();
    if (clock.millis() >= v.expiresAt) {
      return;
    }
    try {
      v.forEach((k, e) -> action.accept(k, new Value(e, v.expiresAt)));
    } catch (IOException e) {
      throw new CacheException("cannot read the snapshot", files.snapshot(), e);
    } catch (SnapshotFile.DamagedEntryException damaged) {
      salvage(damaged); // as the writable store repairs: this visit fails, the next one sees the intact entries
      throw damaged;
    }
  }

  @Override
  public long size() {
    Content c = loaded.content;
    return clock.millis() >= c.expiresAt() ? 0 : c.size();
  }

  @Override
  public long expiresAtMillis() {
    return loaded.content.expiresAt();
  }

  @Override
  public long epoch() {
    return epoch;
  }

  @Override
  public StoreCounters counters() {
    return counters;
  }

  @Override
  public Listeners listeners() {
    return listeners;
  }

  // ---------------------------------------------------------------- writes: refused

  private CacheException refused(String what) {
    return new CacheException("cannot " + what + ": the cache directory is read-only for this process (" + reason
        + "); the cache serves what its files hold and accepts no writes", files.directory());
  }

  @Override
  public Write put(String key, byte[] encoded) {
    throw refused("put an entry");
  }

  @Override
  public Write remove(String key) {
    throw refused("remove an entry");
  }

  @Override
  public Write clear() {
    throw refused("clear the cache");
  }

  @Override
  public Write replaceAll(Map<String, byte[]> entries) {
    throw refused("replace the content");
  }

  /** Nothing to wait for: no write is ever accepted. */
  @Override
  public void await(Write write) {}

  /** Returns when {@code <name>.json} holds the content already; else folding it would need a write. */
  @Override
  public void flush() {
    if (!loaded.folded) {
      throw refused("fold the journal into " + files.json().getFileName());
    }
  }

  // ---------------------------------------------------------------- reading the files

  @Override
  public void refresh() {
    ioLock.lock();
    try {
      if (!closed && !stats().equals(loaded.stats)) {
        install(load());
      }
    } catch (IOException e) {
      throw new CacheException("cannot read the cache files", files.json(), e);
    } finally {
      ioLock.unlock();
    }
  }

  private void refreshInBackground() {
    if (closed) {
      return;
    }
    try {
      refresh();
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "tiercache: background refresh of " + files.json() + " failed: " + e.getMessage(), e);
    }
  }

  /** Reads the files again, keeping the intact entries of a snapshot found damaged. */
  private void salvage(SnapshotFile.DamagedEntryException damaged) {
    ioLock.lock();
    try {
      if (salvaged != damaged.generation) {
        salvaged = damaged.generation;
        install(load());
      }
    } catch (IOException e) {
      throw new CacheException("cannot read the cache files", files.snapshot(), e);
    } finally {
      ioLock.unlock();
    }
  }

  @GuardedBy("ioLock")
  private void install(Loaded next) {
    loaded = next;
    epoch++;
    listeners.publish(null, null);
  }

  /**
   * Reads the files until they hold still while read (a writable process elsewhere may be appending
   * or compacting); the warnings of the reading kept are logged.
   */
  @GuardedBy("ioLock")
  private Loaded load() throws IOException {
    for (int attempt = 0; ; attempt++) {
      Stats before = stats();
      List<String> warnings = new ArrayList<>();
      Loaded read = read(before, warnings);
      boolean settled = before.equals(stats());
      if (read != null && (settled || attempt == 5)) {
        for (String warning : warnings) {
          LOG.log(Level.WARNING, "tiercache: " + warning + " (the directory is read-only: the file stays as it is)");
        }
        return read;
      }
      if (attempt == 5) {
        throw new CacheException("the journal and the snapshot kept changing while they were read", files.journal());
      }
    }
  }

  private Stats stats() throws IOException {
    return new Stats(stat(files.snapshot()), stat(files.journal()), stat(files.json()));
  }

  private static @Nullable Stat stat(Path file) throws IOException {
    try {
      BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      return new Stat(a.fileKey(), a.size(), a.lastModifiedTime().to(TimeUnit.NANOSECONDS));
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  /**
   * One reading: the journal before the snapshot, so that a compaction in between gives a newer
   * snapshot the older journal replays over harmlessly. Null when the journal is newer than the
   * snapshot (two compactions in between): read again.
   */
  @GuardedBy("ioLock")
  private @Nullable Loaded read(Stats stats, List<String> warnings) throws IOException {
    byte[] journal = readTrusted(files.journal());
    SnapshotFile snapshot = mapSnapshot(warnings);
    Content c;
    if (snapshot == null) {
      Snapshot python = readPythonFile(warnings);
      c = python == null ? new Content(null, NO_CONTENT) : Content.of(python);
    } else if (snapshot.generation == salvaged) {
      c = salvage(snapshot, warnings);
    } else {
      c = new Content(snapshot, snapshot.live.expiryMillis);
    }
    long replayed = journal == null ? 0 : replay(c, journal, snapshot, warnings);
    if (replayed < 0) {
      return null;
    }
    boolean exported = snapshot == null || takeInPythonFile(c, snapshot, warnings);
    return new Loaded(c, stats, replayed == 0 && exported);
  }

  /** The snapshot mapped; null when absent or damaged (skipped with a warning). */
  private @Nullable SnapshotFile mapSnapshot(List<String> warnings) throws IOException {
    try (FileChannel ch = fileOps.open(files.snapshot(), FileOps.Use.READ, StandardOpenOption.READ)) {
      return SnapshotFile.map(files.snapshot(), ch);
    } catch (NoSuchFileException e) {
      return null;
    } catch (SnapshotFile.DamagedException e) {
      if (e.getMessage().contains("newer tiercache")) {
        throw new CacheException(e.getMessage(), files.snapshot());
      }
      warnings.add(files.snapshot() + " is damaged (" + e.getMessage() + "); skipped it, serving " + files.json()
          + " and the journal instead");
      return null;
    }
  }

  /**
   * The snapshot's intact entries in the heap, the damaged ones restored from {@code <name>.json} when
   * it is the export of the same snapshot (as the writable store's repair does, without writing).
   */
  private Content salvage(SnapshotFile snapshot, List<String> warnings) throws IOException {
    Content c = new Content(null, snapshot.live.expiryMillis);
    Snapshot export = readPythonFile(warnings);
    long lost;
    long restored = 0;
    c.lock.lock();
    try {
      lost = snapshot.live.forEachIntact(c::change);
      if (export != null && export.generation == snapshot.generation) {
        for (Map.Entry<String, Encoded> e : export.entries.entrySet()) {
          if (c.view().entry(e.getKey()) == null) {
            c.change(e.getKey(), e.getValue());
            restored++;
          }
        }
      }
    } finally {
      c.lock.unlock();
    }
    warnings.add(files.snapshot() + " has " + lost + " damaged entries; skipped them"
        + (restored > 0 ? " and served the " + restored + " found in " + files.json() : ""));
    return c;
  }

  /**
   * Replays the journal's records over {@code c} as a writable open does, skipping damaged lines.
   * Returns how many applied, or -1 when the journal extends a snapshot newer than {@code snapshot}.
   */
  private long replay(Content c, byte[] journal, @Nullable SnapshotFile snapshot, List<String> warnings) {
    long[] applied = {0};
    boolean[] newer = {false};
    Journal.scan(journal, journal.length, 0, new Journal.Visitor() {
      /** Whether the records apply: decided by the header, or by the seals when it is damaged. */
      @Nullable Boolean applies = snapshot == null ? Boolean.TRUE : null;

      @Override public void header(int format, long generation, long carriedBytes) {
        if (format > Journal.FORMAT) {
          throw new CacheException("the journal is in format " + format + ", written by a newer tiercache; this one"
              + " reads formats up to " + Journal.FORMAT, files.journal());
        }
        if (applies == null) {
          decide(generation);
        }
      }

      private void decide(long base) {
        newer[0] = base > snapshot.generation;
        applies = snapshot.extendedBy(base);
        if (!applies && !newer[0]) {
          warnings.add(files.journal() + " extends snapshot " + base + ", not the snapshot in place ("
              + snapshot.generation + "); its records do not apply to it");
        }
      }

      @Override public void batch(@Nullable String writer, long number, List<Journal.Record> records) {
        if (applies == null) {
          decide(Journal.baseOfHeaderless(journal, journal.length, snapshot.generation));
        }
        if (applies) {
          c.lock.lock();
          try {
            records.forEach(c::apply);
          } finally {
            c.lock.unlock();
          }
          applied[0] += records.size();
        }
      }

      @Override public boolean seal(long fileOffset, long generation, String writer, long renderedFrom) {
        return newer[0];
      }

      @Override public void corrupt(long fileOffset, String reason) {
        warnings.add(files.journal() + ": the record at byte " + fileOffset + " is damaged (" + reason
            + "); skipped it, the records after it still apply");
      }

      @Override public void interrupted(long fileOffset, String reason) {
        // a write cut short: never acknowledged, nothing of it applies
      }
    });
    return newer[0] ? -1 : applied[0];
  }

  /**
   * Takes in a rewrite of {@code <name>.json} by another program over {@code c}, as a writable open
   * does ({@link JsonFileStore#foreignChanges}). Returns whether the file is tiercache's export of
   * {@code snapshot} (a flush would have nothing to write); tiercache's exports are told by their end,
   * so that the whole file is parsed only when another program wrote it.
   */
  private boolean takeInPythonFile(Content c, SnapshotFile snapshot, List<String> warnings) throws IOException {
    Matcher own = OWN_EXPORT_END.matcher(tail(files.json()));
    if (own.find()) {
      return Long.parseLong(own.group(1)) == snapshot.generation;
    }
    Snapshot python = readPythonFile(warnings);
    if (python != null) {
      c.lock.lock();
      try {
        JsonFileStore.foreignChanges(python, c.view(), clock.millis()).forEach(c::apply);
      } finally {
        c.lock.unlock();
      }
    }
    return false;
  }

  /** The last bytes of {@code file} as text; empty when it is absent. */
  private String tail(Path file) throws IOException {
    try (FileChannel ch = fileOps.open(file, FileOps.Use.READ, StandardOpenOption.READ)) {
      ByteBuffer buf = ByteBuffer.allocate((int) Math.min(TAIL_BYTES, ch.size()));
      long from = ch.size() - buf.capacity();
      while (buf.hasRemaining() && ch.read(buf, from + buf.position()) >= 0) {
        // read to the end
      }
      return new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII);
    } catch (NoSuchFileException e) {
      return "";
    }
  }

  /** {@code <name>.json} parsed, read under the Python SDK's lock when its file exists; null when absent or damaged. */
  private @Nullable Snapshot readPythonFile(List<String> warnings) throws IOException {
    byte[] bytes;
    if (!Files.exists(files.lock(), LinkOption.NOFOLLOW_LINKS)) {
      bytes = readTrusted(files.json());
    } else {
      try (LockFile lock = LockFile.existing(files.lock(), lockTimeout, fileOps)) {
        try {
          lock.lock();
        } catch (CacheException e) {
          if (Files.exists(files.lock(), LinkOption.NOFOLLOW_LINKS)) {
            throw e;
          }
          // unlinked meanwhile: the Python SDK's invalidate(), which deletes <name>.json too
        }
        bytes = readTrusted(files.json());
      }
    }
    if (bytes == null) {
      return null;
    }
    try {
      return Snapshot.parse(bytes, bytes.length);
    } catch (MalformedJsonException e) {
      warnings.add(files.json() + " is damaged (" + e.getMessage() + "); skipped it");
      return null;
    }
  }

  /** The whole file, opened as every cache file is (no link followed, its owner checked); null when absent. */
  private byte @Nullable [] readTrusted(Path file) throws IOException {
    try (FileChannel ch = fileOps.open(file, FileOps.Use.READ, StandardOpenOption.READ)) {
      return FileOps.readFully(ch, file);
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  /** Stops the refresh; nothing is held open between readings. */
  @Override
  public void close() {
    closed = true;
    if (refreshTask != null) {
      refreshTask.cancel(false);
    }
  }
}
