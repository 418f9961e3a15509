package io.tiercache;

import io.tiercache.JsonText.MalformedJsonException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Tooling for a cache's files, for people debugging caches and for the {@code tiercache}
 * command-line tool: look inside ({@link #inspect}), check ({@link #verify}), fold the journal into
 * the snapshot ({@link #compact}), and move content in and out in the Python SDK's snapshot format
 * ({@link #export}, {@link #importFile}).
 *
 * <pre>{@code
 * CacheFiles.Verification v = CacheFiles.verify(Path.of(".cache/model.json"));
 * if (!v.valid()) {
 *   System.err.println(v.problems());
 * }
 * CacheFiles.export(Path.of(".cache"), "model", Path.of("/tmp/model-export.json"), StoreSpec.jsonFiles());
 * }</pre>
 *
 * <p>{@link #inspect}, {@link #verify} and {@link #contents} only read: they take no lock and
 * change nothing, so they are safe on a cache in use (the journal is read before the snapshot, which
 * gives a consistent pair even while another process compacts: replaying journal lines that a
 * newer snapshot already holds is idempotent). {@link #compact}, {@link #export} and {@link
 * #importFile} open the cache's store as any other process would: they take the file lock, follow
 * other processes' changes and write through the journal, so they are safe with concurrent users.
 * Opening an expired cache replaces its content, exactly as a {@link TieredCache} open does.
 *
 * <p>A {@code FILE} argument may name the snapshot ({@code <name>.json}), the journal
 * ({@code <name>.journal}), the lock file, or the base path {@code <dir>/<name>}.
 */
public final class CacheFiles {
  private CacheFiles() {}

  /** A damaged journal line: its byte offset in the journal and why it was rejected. */
  public record DamagedLine(long offset, String reason) {}

  /**
   * What a JSON-store cache's files hold, read without locking.
   *
   * @param snapshotFile {@code <dir>/<name>.snapshot}, tiercache's indexed copy of the content
   * @param journalFile {@code <dir>/<name>.journal}
   * @param exportFile {@code <dir>/<name>.json}, the content in the Python SDK's format
   * @param lockFile {@code <dir>/<name>.lock}, the Python SDK's lock
   * @param snapshotPresent whether the snapshot exists
   * @param snapshotBytes its size (0 when absent)
   * @param snapshotEntries entries in the snapshot alone (-1 when it is damaged)
   * @param snapshotExpiry the snapshot's expiry, or null when absent or damaged
   * @param generation the compaction that wrote the snapshot; -1 without one
   * @param snapshotProblem why the snapshot cannot be used, or null
   * @param staleEntries entries of the previous period kept for stale-if-error
   * @param journalPresent whether the journal exists
   * @param journalBytes its size
   * @param journalBase the snapshot generation the journal's header extends; -1 without a header
   * @param batches batches (one write each) in the journal
   * @param puts put records
   * @param removes remove records
   * @param clears clear records (a new, empty content)
   * @param seals seal lines (a compactor was replacing this journal)
   * @param damagedLines lines that fail their checksum or do not parse, amid intact ones
   * @param interruptedWrites writes cut short by a crash or a full disk (never acknowledged; nothing of
   *     them applies)
   * @param tornTailBytes bytes after the last complete unit: an append in progress, or cut short
   * @param exportPresent whether {@code <name>.json} exists
   * @param exportEntries its entries (-1 when it does not parse)
   * @param exportGeneration the snapshot generation it was exported from; -1 when another program
   *     (the Python SDK) wrote it, which tiercache takes in at its next open or refresh
   * @param exportProblem why it does not parse, or null
   * @param liveEntries entries after replaying the journal over the snapshot
   * @param expiry when the live content expires (null when no file says)
   * @param expired whether that moment has passed
   * @param setAside damaged files moved aside earlier ({@code <file>.corrupt-<timestamp>})
   * @param temporaries temporary files (of a write in progress, or left by one that was interrupted)
   */
  public record Inspection(
      Path snapshotFile, Path journalFile, Path exportFile, Path lockFile,
      boolean snapshotPresent, long snapshotBytes, long snapshotEntries, @Nullable Instant snapshotExpiry,
      long generation, @Nullable String snapshotProblem, long staleEntries,
      boolean journalPresent, long journalBytes, long journalBase, int batches,
      int puts, int removes, int clears, int seals, List<DamagedLine> damagedLines, int interruptedWrites,
      long tornTailBytes,
      boolean exportPresent, int exportEntries, long exportGeneration, @Nullable String exportProblem,
      long liveEntries, @Nullable Instant expiry, boolean expired,
      List<Path> setAside, List<Path> temporaries) {

    public Inspection {
      damagedLines = List.copyOf(damagedLines);
      setAside = List.copyOf(setAside);
      temporaries = List.copyOf(temporaries);
    }

    /** A multi-line human-readable report. */
    public String describe() {
      StringBuilder s = new StringBuilder();
      s.append("snapshot   ").append(snapshotFile);
      if (!snapshotPresent) {
        s.append(": absent\n");
      } else if (snapshotProblem != null) {
        s.append(": ").append(snapshotBytes).append(" bytes, UNUSABLE: ").append(snapshotProblem).append('\n');
      } else {
        s.append(": ").append(snapshotBytes).append(" bytes, ").append(snapshotEntries).append(" entries, expiry ")
            .append(snapshotExpiry).append(", generation ").append(generation)
            .append(staleEntries > 0 ? ", " + staleEntries + " stale entries kept" : "").append('\n');
      }
      s.append("journal    ").append(journalFile);
      if (!journalPresent) {
        s.append(": absent\n");
      } else {
        s.append(": ").append(journalBytes).append(" bytes, base generation ").append(journalBase).append(", ")
            .append(batches).append(" batches (").append(puts).append(" put, ").append(removes).append(" remove, ")
            .append(clears).append(" clear), ").append(seals).append(" seal, ").append(damagedLines.size())
            .append(" damaged, ").append(interruptedWrites).append(" interrupted, ").append(tornTailBytes)
            .append(" bytes of incomplete write\n");
        for (DamagedLine d : damagedLines) {
          s.append("           damaged line at byte ").append(d.offset()).append(": ").append(d.reason()).append('\n');
        }
      }
      s.append("export     ").append(exportFile);
      if (!exportPresent) {
        s.append(": absent\n");
      } else if (exportProblem != null) {
        s.append(": UNREADABLE: ").append(exportProblem).append('\n');
      } else {
        s.append(": ").append(exportEntries).append(" entries, ")
            .append(exportGeneration < 0 ? "written by another program" : "generation " + exportGeneration)
            .append('\n');
      }
      s.append("live       ").append(liveEntries).append(" entries, expiry ").append(expiry)
          .append(expired ? " (EXPIRED)" : "").append('\n');
      s.append("lock       ").append(lockFile).append(Files.exists(lockFile) ? "" : " (absent)").append('\n');
      for (Path p : setAside) {
        s.append("set aside  ").append(p).append('\n');
      }
      for (Path p : temporaries) {
        s.append("temporary  ").append(p).append('\n');
      }
      return s.toString();
    }
  }

  /**
   * The verdict of {@link #verify}.
   *
   * @param valid true when the snapshot and its index are sound and no journal line is damaged
   * @param problems why it is not valid; empty when valid
   * @param notes facts worth knowing that are not errors (interrupted writes, files set aside, ...)
   * @param inspection what was read
   */
  public record Verification(boolean valid, List<String> problems, List<String> notes, Inspection inspection) {
    public Verification {
      problems = List.copyOf(problems);
      notes = List.copyOf(notes);
    }
  }

  /**
   * The live content of a cache's files: each entry's JSON text and the expiry.
   *
   * @param entries id to the entry's JSON value
   * @param expiry when the content expires, or null when no file says
   */
  public record Contents(Map<String, String> entries, @Nullable Instant expiry) {
    public Contents {
      entries = Collections.unmodifiableMap(new LinkedHashMap<>(entries));
    }
  }

  /** The result of {@link #compact}: sizes before and after. */
  public record Compaction(long snapshotBytesBefore, long journalBytesBefore, long snapshotBytesAfter,
      long journalBytesAfter, long entries) {}

  /** The result of {@link #export}. */
  public record Export(Path file, int entries, Instant expiry, long bytes) {}

  /** The result of {@link #importFile}. */
  public record Import(@Nullable Path file, int entries, boolean replaced, Instant expiry) {}

  // ------------------------------------------------------------------ reading

  /**
   * Reads a cache's files without locking or changing them.
   *
   * @param file any of the cache's files, or its base path {@code <dir>/<name>}
   * @throws CacheException if a file exists but cannot be read
   */
  public static Inspection inspect(Path file) {
    return read(file, Clock.systemUTC(), false).inspection;
  }

  /**
   * Checks a cache's files: the snapshot's header and every entry of its index, and every journal
   * line's checksum and syntax. Writes cut short by a crash or a full disk are not errors (nothing of
   * them applies, and none was acknowledged); they are notes.
   *
   * @throws CacheException if a file exists but cannot be read
   */
  public static Verification verify(Path file) {
    Read r = read(file, Clock.systemUTC(), true);
    Inspection i = r.inspection;
    List<String> problems = new ArrayList<>(r.problems);
    List<String> notes = new ArrayList<>();
    String readOnly = ReadOnlyJsonStore.whyReadOnly(i.snapshotFile().getParent());
    if (readOnly != null) {
      notes.add("the directory is read-only for this process (" + readOnly + "): a cache opened on it serves these"
          + " files as they are, and every write throws");
    }
    if (!i.snapshotPresent() && !i.journalPresent() && !i.exportPresent()) {
      problems.add("no cache files: neither " + i.snapshotFile() + " nor " + i.journalFile() + " nor "
          + i.exportFile() + " exists");
    }
    if (i.snapshotProblem() != null) {
      problems.add("the snapshot " + i.snapshotFile() + " cannot be used: " + i.snapshotProblem());
    }
    for (DamagedLine d : i.damagedLines()) {
      problems.add("the journal " + i.journalFile() + " has a damaged line at byte " + d.offset() + ": " + d.reason());
    }
    if (i.journalPresent() && i.journalBase() == -1) {
      problems.add("the journal " + i.journalFile() + " has no header line");
    }
    if (i.interruptedWrites() > 0) {
      notes.add(i.interruptedWrites() + " write(s) cut short by a crash or a full disk in the journal: never"
          + " acknowledged, skipped");
    }
    if (i.tornTailBytes() > 0) {
      notes.add("the journal ends with " + i.tornTailBytes() + " bytes of an incomplete write (in progress, or cut"
          + " short)");
    }
    if (!i.snapshotPresent() && (i.journalPresent() || i.exportPresent())) {
      notes.add("no snapshot: the next open builds it from " + (i.exportPresent() ? i.exportFile() : "the journal"));
    }
    if (i.exportProblem() != null) {
      notes.add("the export " + i.exportFile() + " does not parse (" + i.exportProblem() + "): being rewritten by"
          + " the Python SDK, or damaged; the next open sets a damaged one aside and exports again");
    } else if (i.exportPresent() && i.exportGeneration() < 0) {
      notes.add("the export " + i.exportFile() + " was rewritten by another program; the next open or refresh"
          + " takes its changes in");
    }
    for (Path p : i.setAside()) {
      notes.add("a damaged file was set aside earlier: " + p);
    }
    for (Path p : i.temporaries()) {
      notes.add("a temporary file (of a write in progress, or removed at the next open): " + p);
    }
    if (i.expired()) {
      notes.add("the content expired at " + i.expiry() + "; the next open starts a new period");
    }
    return new Verification(problems.isEmpty(), problems, notes, i);
  }

  /**
   * The live content (the snapshot with the journal replayed over it), read without locking.
   * Damaged journal lines are skipped, as the store does.
   *
   * @throws CacheException if the snapshot is damaged or a file cannot be read
   */
  public static Contents contents(Path file) {
    Read r = read(file, Clock.systemUTC(), false);
    if (r.inspection.snapshotProblem() != null) {
      throw new CacheException("the snapshot is damaged: " + r.inspection.snapshotProblem(),
          r.inspection.snapshotFile());
    }
    Map<String, String> out = new java.util.TreeMap<>();
    try {
      r.live.view().forEach((k, v) -> out.put(k, new String(v.buf, v.offset, v.length,
          java.nio.charset.StandardCharsets.UTF_8)));
    } catch (IOException e) {
      throw new CacheException("cannot read the snapshot", r.inspection.snapshotFile(), e);
    }
    return new Contents(out, r.inspection.expiry());
  }

  private static final class Read {
    final Inspection inspection;
    final Content live;
    final List<String> problems;

    Read(Inspection inspection, Content live, List<String> problems) {
      this.inspection = inspection;
      this.live = live;
      this.problems = problems;
    }
  }

  /**
   * Reads the files. The journal first: a compaction between the two reads then gives a newer
   * snapshot, over which the older journal's records replay harmlessly (a replace's snapshot says so,
   * and then they are not replayed). A journal that matches neither is read again.
   */
  private static Read read(Path file, Clock clock, boolean deep) {
    FileNames names = names(file);
    for (int attempt = 0; ; attempt++) {
      Read r = readOnce(names, clock, deep);
      if (r != null) {
        return r;
      }
      if (attempt == 5) {
        throw new CacheException("the journal and the snapshot kept changing while they were read", names.journal());
      }
    }
  }

  private static @Nullable Read readOnce(FileNames names, Clock clock, boolean deep) {
    byte[] journal = readIfExists(names.journal());
    SnapshotFile snapshot = null;
    String snapshotProblem = null;
    long snapshotBytes = 0;
    boolean snapshotPresent = Files.exists(names.snapshot(), LinkOption.NOFOLLOW_LINKS);
    List<String> problems = new ArrayList<>();
    if (snapshotPresent) {
      try (FileChannel ch = FileChannel.open(names.snapshot(), StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
        snapshotBytes = ch.size();
        snapshot = SnapshotFile.map(names.snapshot(), ch);
        if (deep) {
          checkIndex(snapshot, problems);
        }
      } catch (NoSuchFileException e) {
        snapshotPresent = false;
      } catch (IOException | CacheException e) {
        snapshotProblem = e.getMessage() == null ? e.toString() : e.getMessage();
      }
    }

    long[] header = {-1, 0}; // base, format
    int[] counts = new int[7]; // batches, puts, removes, clears, seals, interrupted, expiries
    List<DamagedLine> damaged = new ArrayList<>();
    long torn = 0;
    final SnapshotFile mapped = snapshot;
    final Content replayed = new Content(snapshot, snapshot == null ? Long.MIN_VALUE : snapshot.live.expiryMillis);
    Content live = replayed;
    if (journal != null) {
      int eol = Journal.indexOf(journal, 0, journal.length, (byte) '\n');
      int consumed = Journal.scan(journal, journal.length, 0, new Journal.Visitor() {
        // as the store decides (see Journal.baseOfHeaderless) when the header line is damaged
        boolean skipRecords = mapped != null && mapped.fresh
            && Journal.baseOfHeaderless(journal, journal.length, mapped.generation) != mapped.generation;

        @Override public void header(int format, long generation, long carriedBytes) {
          header[0] = generation;
          header[1] = format;
          skipRecords = mapped != null && !mapped.extendedBy(generation);
        }

        @Override public void batch(@Nullable String writer, long number, List<Journal.Record> records) {
          counts[0]++;
          replayed.lock.lock();
          try {
            for (Journal.Record rec : records) {
              counts[rec.op() == Journal.PUT ? 1 : rec.op() == Journal.REMOVE ? 2 : rec.op() == Journal.CLEAR ? 3 : 6]++;
              if (!skipRecords) {
                replayed.apply(rec);
              }
            }
          } finally {
            replayed.lock.unlock();
          }
        }

        @Override public boolean seal(long fileOffset, long generation, String writer, long renderedFrom) {
          counts[4]++;
          return false;
        }

        @Override public void corrupt(long fileOffset, String reason) {
          damaged.add(new DamagedLine(fileOffset, reason));
        }

        @Override public void interrupted(long fileOffset, String reason) {
          counts[5]++;
        }
      });
      torn = journal.length - consumed;
      if (snapshot != null && header[0] >= 0 && header[0] != snapshot.generation
          && header[0] != snapshot.generation - 1) {
        if (header[0] > snapshot.generation) {
          return null; // a compaction between the two reads: read again
        }
        problems.add("the journal extends snapshot " + header[0] + ", the snapshot in place is generation "
            + snapshot.generation);
      }
      if (eol < 0) {
        header[0] = -1;
      }
    }

    boolean exportPresent = Files.exists(names.json(), LinkOption.NOFOLLOW_LINKS);
    int exportEntries = 0;
    long exportGeneration = -1;
    String exportProblem = null;
    Snapshot export = null;
    if (exportPresent) {
      byte[] bytes = readIfExists(names.json());
      if (bytes == null) {
        exportPresent = false;
      } else {
        try {
          export = Snapshot.parse(bytes, bytes.length);
          exportEntries = export.entries.size();
          exportGeneration = export.generation;
        } catch (MalformedJsonException e) {
          exportProblem = e.getMessage();
          exportEntries = -1;
        }
      }
    }
    if (snapshot == null && journal == null && export != null) {
      live = Content.of(export);
    }
    long expiryMillis = live.expiresAt();
    Instant expiry = expiryMillis == Long.MIN_VALUE ? null : Instant.ofEpochMilli(expiryMillis);
    boolean expired = expiry != null && clock.millis() >= expiryMillis;
    Path dir = names.directory().toAbsolutePath();
    String g = globLiteral(names.name());
    Inspection inspection = new Inspection(names.snapshot(), names.journal(), names.json(), names.lock(),
        snapshotPresent, snapshotBytes, snapshot == null ? -1 : snapshot.live.count,
        snapshot == null ? null : Instant.ofEpochMilli(snapshot.live.expiryMillis),
        snapshot == null ? -1 : snapshot.generation, snapshotProblem, snapshot == null ? 0 : snapshot.stale.count,
        journal != null, journal == null ? 0 : journal.length, header[0], counts[0], counts[1], counts[2], counts[3],
        counts[4], damaged, counts[5], torn,
        exportPresent, exportEntries, exportGeneration, exportProblem,
        live.size(), expiry, expired,
        list(dir, g + ".json.corrupt-*", g + ".snapshot.corrupt-*", g + ".journal.corrupt-*"),
        list(dir, g + ".json.*.tmp", g + ".snapshot.*.tmp", g + ".journal.*.tmp"));
    return new Read(inspection, live, problems);
  }

  /** Walks every slot of the snapshot's index: keys readable, values valid JSON, the count right; the echo hashes. */
  private static void checkIndex(SnapshotFile snapshot, List<String> problems) throws IOException {
    if (!snapshot.echoesIntact()) {
      problems.add("the echo hashes of " + snapshot.path + " fail their checksum: a Python SDK's rewrite of an"
          + " old view may be taken as new writes (the next compaction hashes every entry again)");
    }
    long[] n = {0};
    for (SnapshotFile.Table t : new SnapshotFile.Table[] {snapshot.live, snapshot.stale}) {
      n[0] = 0;
      t.forEach((key, value) -> {
        n[0]++;
        try {
          if (JsonText.skipValue(value.buf, value.offset, value.offset + value.length) != value.offset + value.length) {
            problems.add("the value of '" + key + "' in " + snapshot.path + " has bytes after it");
          }
        } catch (MalformedJsonException e) {
          problems.add("the value of '" + key + "' in " + snapshot.path + " is not valid JSON: " + e.getMessage());
        }
      });
      if (n[0] != t.count) {
        problems.add("the index of " + snapshot.path + " holds " + n[0] + " entries, its header says " + t.count);
      }
    }
  }

  private static byte[] readIfExists(Path file) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
      return FileOps.readFully(ch, file);
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      throw new CacheException("cannot read " + file.getFileName(), file, e);
    }
  }

  private static List<Path> list(Path dir, String... globs) {
    List<Path> out = new ArrayList<>();
    for (String glob : globs) {
      try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, glob)) {
        s.forEach(out::add);
      } catch (NoSuchFileException e) {
        return out;
      } catch (IOException e) {
        throw new CacheException("cannot list the cache directory", dir, e);
      }
    }
    Collections.sort(out);
    return out;
  }

  /** {@code name} as a glob matching only itself. */
  private static String globLiteral(String name) {
    StringBuilder s = new StringBuilder();
    for (char c : name.toCharArray()) {
      if ("*?[]{}\\".indexOf(c) >= 0) {
        s.append('\\');
      }
      s.append(c);
    }
    return s.toString();
  }

  /** The cache's file names for a FILE argument: any of its files, or its base path. */
  static FileNames names(Path file) {
    Objects.requireNonNull(file, "file");
    Path dir = file.toAbsolutePath().getParent();
    String fileName = file.getFileName().toString();
    String name = fileName;
    for (String suffix : new String[] {".json", ".snapshot", ".journal", ".lock", ".state"}) {
      if (fileName.endsWith(suffix) && fileName.length() > suffix.length()) {
        name = fileName.substring(0, fileName.length() - suffix.length());
        break;
      }
    }
    return new FileNames(dir, name);
  }

  // ------------------------------------------------------------------ writing

  /**
   * Folds the journal into a new snapshot, under the cache's lock (safe with concurrent users).
   *
   * @param directory the cache directory
   * @param name the cache's base name
   * @param lockTimeout how long to wait for the file lock
   * @throws LockTimeoutException if the lock is not obtained in time
   * @throws CacheException if the files cannot be read or written
   */
  public static Compaction compact(Path directory, String name, Duration lockTimeout) {
    Path base = directory.resolve(FileNames.validName(name));
    Inspection before = inspect(base);
    PersistentStore store = open(StoreSpec.jsonFiles(), directory, name, ExpiryTime.fromEnvironment(), lockTimeout);
    try {
      store.flush();
    } finally {
      store.close();
    }
    Inspection after = inspect(base);
    return new Compaction(before.snapshotBytes(), before.journalBytes(), after.snapshotBytes(),
        after.journalBytes(), after.liveEntries());
  }

  /**
   * Writes the live content of a cache (snapshot and journal, with other processes' changes) to
   * {@code target} as a snapshot in the Python SDK's format (indent 4, {@code expiry} and
   * {@code data}), which {@code json.load} and {@link #importFile} read. The target is replaced
   * atomically. Holds the cache's lock only while opening and reading.
   *
   * @param store the store the cache uses (a Chronicle Map file keeps the sizes it was created with)
   * @throws CacheException if the files cannot be read or written or the lock is not obtained
   */
  public static Export export(Path directory, String name, Path target, StoreSpec store, Duration lockTimeout) {
    PersistentStore opened = open(store, directory, name, ExpiryTime.fromEnvironment(), lockTimeout);
    try {
      opened.refresh();
      Map<String, Encoded> entries = new java.util.TreeMap<>();
      opened.forEach((k, v) -> entries.put(k, v.bytes));
      long expiry = opened.expiresAtMillis();
      int hint = entries.values().stream().mapToInt(e -> e.length + 64).sum();
      ByteSink out = Snapshot.render(expiry, 0, entries.entrySet(), hint);
      Path parent = target.toAbsolutePath().getParent();
      FileOps.ownerOnly().createDirectories(parent);
      FileOps.ownerOnly().atomicWrite(target.toAbsolutePath(), out.array(), out.size());
      return new Export(target, entries.size(), Instant.ofEpochMilli(expiry), out.size());
    } finally {
      opened.close();
    }
  }

  /**
   * Loads a snapshot-format file (the Python SDK's {@code {"expiry": ..., "data": {...}}}, or an
   * {@link #export}) into a cache through its journal, under its lock: safe with concurrent users,
   * and each entry is as durable as {@link Durability#WRITE} when this returns.
   *
   * @param source the file to load
   * @param store the store the cache uses; a Chronicle Map file that does not exist yet is created
   *     with the sizes it names
   * @param replace true: the cache's whole content becomes the file's (a new expiry period);
   *     false: the file's entries are added to (and override) what the cache holds
   * @param expireAfter the new content's time to live; null: until the file's {@code expiry}
   *     (an error if that has passed)
   * @throws CacheException if the source is not a valid snapshot, or the cache cannot be written
   */
  public static Import importFile(Path source, Path directory, String name, StoreSpec store, boolean replace,
      @Nullable Duration expireAfter, Duration lockTimeout) {
    byte[] bytes = readIfExists(source);
    if (bytes == null) {
      throw new CacheException("no such file", source);
    }
    Snapshot s;
    try {
      s = Snapshot.parse(bytes, bytes.length);
    } catch (MalformedJsonException e) {
      throw new CacheException("not a snapshot-format file: " + e.getMessage(), source);
    }
    Duration ttl = expireAfter;
    // Without an explicit TTL the file's own expiry is kept to the millisecond: the short-lived store
    // below runs on a clock frozen at t0, so a new content period ends exactly at t0 + (expiry - t0).
    Clock clock = Clock.systemUTC();
    if (ttl == null) {
      clock = Clock.fixed(Instant.now(), java.time.ZoneOffset.UTC);
      long left = s.expiryMillis - clock.millis();
      if (left <= 0) {
        throw new CacheException("the file's content expired at " + Instant.ofEpochMilli(s.expiryMillis)
            + "; give it a new period with an explicit time to live", source);
      }
      ttl = Duration.ofMillis(left);
    }
    Map<String, byte[]> entries = new LinkedHashMap<>();
    for (Map.Entry<String, Encoded> e : inFileOrder(s).entrySet()) {
      try {
        entries.put(e.getKey(), JsonText.compact(e.getValue()));
      } catch (MalformedJsonException ex) {
        throw new CacheException("entry '" + e.getKey() + "' is not valid JSON: " + ex.getMessage(), source);
      }
    }
    StoreConfig config = config(store, directory, name, ttl, lockTimeout, clock);
    PersistentStore opened = open(config);
    try {
      PersistentStore.Write last = null;
      if (replace) {
        last = opened.replaceAll(entries);
      } else {
        for (Map.Entry<String, byte[]> e : entries.entrySet()) {
          last = opened.put(e.getKey(), e.getValue());
        }
      }
      if (last != null) {
        opened.await(last);
      }
      return new Import(config.provider().file(config), entries.size(), replace,
          Instant.ofEpochMilli(opened.expiresAtMillis()));
    } finally {
      opened.close();
    }
  }

  /** The snapshot-format file's entries in the order they appear in it (its index is a hash map). */
  private static Map<String, Encoded> inFileOrder(Snapshot s) {
    List<Map.Entry<String, Encoded>> list = new ArrayList<>(s.entries.entrySet());
    list.sort((a, b) -> Integer.compare(a.getValue().offset, b.getValue().offset));
    Map<String, Encoded> ordered = new LinkedHashMap<>();
    for (Map.Entry<String, Encoded> e : list) {
      ordered.put(e.getKey(), e.getValue());
    }
    return ordered;
  }

  private static PersistentStore open(StoreSpec store, Path directory, String name, Duration ttl,
      Duration lockTimeout) {
    return open(config(store, directory, name, ttl, lockTimeout, Clock.systemUTC()));
  }

  /** A short-lived process's store: no background refresh, writes acknowledged once written. */
  private static StoreConfig config(StoreSpec store, Path directory, String name, Duration ttl,
      Duration lockTimeout, Clock clock) {
    return new StoreConfig(store, new FileNames(directory, name), Durability.WRITE, ttl, Duration.ZERO, clock,
        lockTimeout, Duration.ZERO, Duration.ofMillis(50), 1 << 20, FileOps.ownerOnly());
  }

  private static PersistentStore open(StoreConfig config) {
    StoreProvider provider = config.provider();
    provider.location(config); // creates the directory
    return provider.open(config);
  }
}
