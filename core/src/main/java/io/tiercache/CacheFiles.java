package io.tiercache;

import io.tiercache.JsonText.MalformedJsonException;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
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
   * What a cache's files hold, read without locking.
   *
   * @param snapshotFile {@code <dir>/<name>.json}
   * @param journalFile {@code <dir>/<name>.journal}
   * @param lockFile {@code <dir>/<name>.lock}
   * @param snapshotPresent whether the snapshot exists
   * @param snapshotBytes its size (0 when absent)
   * @param snapshotEntries entries in the snapshot alone (-1 when it does not parse)
   * @param snapshotExpiry the snapshot's {@code expiry}, or null when absent or unreadable
   * @param generation the compaction that wrote the snapshot; -1 for a file tiercache did not write
   * @param snapshotProblem why the snapshot does not parse, or null when it does (or is absent)
   * @param journalPresent whether the journal exists
   * @param journalBytes its size
   * @param journalLines complete lines, including the header and damaged ones
   * @param journalBase the snapshot generation the journal's header extends; -1 without a header
   * @param puts put lines
   * @param removes remove lines
   * @param clears clear lines (a new, empty content)
   * @param seals seal lines (a compactor was replacing this journal)
   * @param damagedLines complete lines that fail their checksum or do not parse
   * @param tornTailBytes bytes after the last line break: an append in progress or cut by a crash;
   *     the next writer drops them
   * @param liveEntries entries after replaying the journal over the snapshot
   * @param expiry when the live content expires (null when neither file says)
   * @param expired whether that moment has passed
   * @param setAside damaged files moved aside earlier ({@code <file>.corrupt-<timestamp>})
   * @param temporaries temporary files left by an interrupted write (removed at the next open)
   */
  public record Inspection(
      Path snapshotFile, Path journalFile, Path lockFile,
      boolean snapshotPresent, long snapshotBytes, int snapshotEntries, @Nullable Instant snapshotExpiry,
      long generation, @Nullable String snapshotProblem,
      boolean journalPresent, long journalBytes, int journalLines, long journalBase,
      int puts, int removes, int clears, int seals, List<DamagedLine> damagedLines, long tornTailBytes,
      int liveEntries, @Nullable Instant expiry, boolean expired,
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
        s.append(": ").append(snapshotBytes).append(" bytes, UNREADABLE: ").append(snapshotProblem).append('\n');
      } else {
        s.append(": ").append(snapshotBytes).append(" bytes, ").append(snapshotEntries).append(" entries, expiry ")
            .append(snapshotExpiry).append(", generation ").append(generation).append('\n');
      }
      s.append("journal    ").append(journalFile);
      if (!journalPresent) {
        s.append(": absent\n");
      } else {
        s.append(": ").append(journalBytes).append(" bytes, ").append(journalLines).append(" lines (base generation ")
            .append(journalBase).append("; ").append(puts).append(" put, ").append(removes).append(" remove, ")
            .append(clears).append(" clear, ").append(seals).append(" seal), ").append(damagedLines.size())
            .append(" damaged, ").append(tornTailBytes).append(" bytes of incomplete last line\n");
        for (DamagedLine d : damagedLines) {
          s.append("           damaged line at byte ").append(d.offset()).append(": ").append(d.reason()).append('\n');
        }
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
   * @param valid true when the snapshot (if present) parses and no journal line is damaged
   * @param problems why it is not valid; empty when valid
   * @param notes facts worth knowing that are not errors (an incomplete last journal line, files set aside)
   * @param inspection what was read
   */
  public record Verification(boolean valid, List<String> problems, List<String> notes, Inspection inspection) {
    public Verification {
      problems = List.copyOf(problems);
      notes = List.copyOf(notes);
    }
  }

  /**
   * The live content of a cache's files: each entry's JSON text (compact or as stored) and the expiry.
   *
   * @param entries id to the entry's JSON value, in file order
   * @param expiry when the content expires, or null when neither file says
   */
  public record Contents(Map<String, String> entries, @Nullable Instant expiry) {
    public Contents {
      entries = Collections.unmodifiableMap(new LinkedHashMap<>(entries));
    }
  }

  /** The result of {@link #compact}: sizes before and after. */
  public record Compaction(long snapshotBytesBefore, long journalBytesBefore, long snapshotBytesAfter,
      long journalBytesAfter, int entries) {}

  /** The result of {@link #export}. */
  public record Export(Path file, int entries, Instant expiry, long bytes) {}

  /** The result of {@link #importFile}. */
  public record Import(@Nullable Path file, int entries, boolean replaced, Instant expiry) {}

  // ------------------------------------------------------------------ reading

  /**
   * Reads a cache's files without locking or changing them.
   *
   * @param file the snapshot, the journal, the lock file or the base path of a cache
   * @throws CacheException if a file exists but cannot be read
   */
  public static Inspection inspect(Path file) {
    return read(file, Clock.systemUTC()).inspection;
  }

  /**
   * Checks a cache's files: the snapshot must parse (when present) and every complete journal line
   * must pass its checksum and parse. An incomplete last journal line is not an error (a writer may
   * be appending it, or a crash cut it; the next writer drops it) and is reported as a note.
   *
   * @throws CacheException if a file exists but cannot be read
   */
  public static Verification verify(Path file) {
    Inspection i = inspect(file);
    List<String> problems = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    if (!i.snapshotPresent() && !i.journalPresent()) {
      problems.add("no cache files: neither " + i.snapshotFile() + " nor " + i.journalFile() + " exists");
    }
    if (i.snapshotProblem() != null) {
      problems.add("the snapshot " + i.snapshotFile() + " is damaged: " + i.snapshotProblem());
    }
    for (DamagedLine d : i.damagedLines()) {
      problems.add("the journal " + i.journalFile() + " has a damaged line at byte " + d.offset() + ": " + d.reason());
    }
    if (i.journalPresent() && i.journalBytes() > 0 && i.journalBase() == -1) {
      problems.add("the journal " + i.journalFile() + " has no header line");
    }
    if (i.tornTailBytes() > 0) {
      notes.add("the journal ends with an incomplete line (" + i.tornTailBytes()
          + " bytes): an append in progress or cut by a crash; the next writer drops it");
    }
    if (!i.snapshotPresent() && i.journalPresent()) {
      notes.add("no snapshot yet: the content is in the journal only");
    }
    for (Path p : i.setAside()) {
      notes.add("a damaged file was set aside earlier: " + p);
    }
    for (Path p : i.temporaries()) {
      notes.add("a temporary file of an interrupted write is left (the next open removes it): " + p);
    }
    if (i.expired()) {
      notes.add("the content expired at " + i.expiry() + "; the next open starts empty");
    }
    return new Verification(problems.isEmpty(), problems, notes, i);
  }

  /**
   * The live content (snapshot with the journal replayed over it), read without locking. Damaged
   * journal lines are skipped, as the store does.
   *
   * @throws CacheException if the snapshot is damaged or a file cannot be read
   */
  public static Contents contents(Path file) {
    Read r = read(file, Clock.systemUTC());
    if (r.inspection.snapshotProblem() != null) {
      throw new CacheException("the snapshot is damaged: " + r.inspection.snapshotProblem(),
          r.inspection.snapshotFile());
    }
    Map<String, String> out = new LinkedHashMap<>();
    r.live.forEach((k, v) -> out.put(k, new String(v.buf, v.offset, v.length, java.nio.charset.StandardCharsets.UTF_8)));
    return new Contents(out, r.inspection.expiry());
  }

  private static final class Read {
    final Inspection inspection;
    final Map<String, Encoded> live;

    Read(Inspection inspection, Map<String, Encoded> live) {
      this.inspection = inspection;
      this.live = live;
    }
  }

  private static Read read(Path file, Clock clock) {
    Path[] files = files(file);
    Path snapshotFile = files[0];
    Path journalFile = files[1];
    Path lockFile = files[2];
    // The journal first: a compaction between the two reads then gives a newer snapshot, which
    // already holds every line read (replay is idempotent). The other order could miss lines.
    byte[] journal = readIfExists(journalFile);
    byte[] snapshot = readIfExists(snapshotFile);

    Map<String, Encoded> live = new LinkedHashMap<>();
    Instant snapshotExpiry = null;
    long generation = Snapshot.FOREIGN;
    String snapshotProblem = null;
    int snapshotEntries = 0;
    long[] expiryMillis = {Long.MIN_VALUE};
    if (snapshot != null) {
      try {
        Snapshot s = Snapshot.parse(snapshot, snapshot.length);
        snapshotExpiry = Instant.ofEpochMilli(s.expiryMillis);
        expiryMillis[0] = s.expiryMillis;
        generation = s.generation;
        snapshotEntries = s.entries.size();
        live.putAll(inFileOrder(snapshot, s));
      } catch (MalformedJsonException | RuntimeException e) {
        snapshotProblem = e.getMessage() == null ? e.toString() : e.getMessage();
        snapshotEntries = -1;
      }
    }

    int[] counts = new int[6]; // lines, puts, removes, clears, seals, headers
    long[] base = {Snapshot.FOREIGN};
    List<DamagedLine> damaged = new ArrayList<>();
    long torn = 0;
    if (journal != null) {
      int consumed = Journal.scan(journal, journal.length, 0, new Journal.Visitor() {
        @Override public void header(long generation, long carriedBytes) {
          counts[0]++;
          if (counts[5]++ == 0) {
            base[0] = generation;
          }
        }

        @Override public void put(String key, Encoded value) {
          counts[0]++;
          counts[1]++;
          live.put(key, value);
        }

        @Override public void remove(String key) {
          counts[0]++;
          counts[2]++;
          live.remove(key);
        }

        @Override public void clear(long millis) {
          counts[0]++;
          counts[3]++;
          live.clear();
          expiryMillis[0] = millis;
        }

        @Override public void seal(long generation) {
          counts[0]++;
          counts[4]++;
        }

        @Override public void corrupt(long fileOffset, String reason) {
          counts[0]++;
          damaged.add(new DamagedLine(fileOffset, reason));
        }
      });
      torn = journal.length - consumed;
    }
    Instant expiry = expiryMillis[0] == Long.MIN_VALUE ? null : Instant.ofEpochMilli(expiryMillis[0]);
    boolean expired = expiry != null && clock.millis() >= expiryMillis[0];
    Path dir = snapshotFile.toAbsolutePath().getParent();
    String name = baseName(snapshotFile);
    Inspection inspection = new Inspection(snapshotFile, journalFile, lockFile,
        snapshot != null, snapshot == null ? 0 : snapshot.length, snapshotEntries, snapshotExpiry, generation,
        snapshotProblem, journal != null, journal == null ? 0 : journal.length, counts[0], base[0],
        counts[1], counts[2], counts[3], counts[4], damaged, torn, live.size(), expiry, expired,
        list(dir, globLiteral(name) + ".json.corrupt-*", globLiteral(name) + ".journal.corrupt-*"),
        list(dir, globLiteral(name) + ".json.*.tmp", globLiteral(name) + ".journal.*.tmp"));
    return new Read(inspection, live);
  }

  /** The snapshot's entries in the order they appear in the file (the index is a hash map). */
  private static Map<String, Encoded> inFileOrder(byte[] buf, Snapshot s) {
    List<Map.Entry<String, Encoded>> list = new ArrayList<>(s.entries.entrySet());
    list.sort((a, b) -> Integer.compare(a.getValue().offset, b.getValue().offset));
    Map<String, Encoded> ordered = new LinkedHashMap<>();
    for (Map.Entry<String, Encoded> e : list) {
      ordered.put(e.getKey(), e.getValue());
    }
    return ordered;
  }

  private static byte[] readIfExists(Path file) {
    try {
      return Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException | OutOfMemoryError e) {
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

  /** snapshot, journal, lock for a FILE argument. */
  static Path[] files(Path file) {
    Objects.requireNonNull(file, "file");
    Path dir = file.toAbsolutePath().getParent();
    String fileName = file.getFileName().toString();
    String name = fileName;
    for (String suffix : new String[] {".json", ".journal", ".lock"}) {
      if (fileName.endsWith(suffix) && fileName.length() > suffix.length()) {
        name = fileName.substring(0, fileName.length() - suffix.length());
        break;
      }
    }
    return new Path[] {dir.resolve(name + ".json"), dir.resolve(name + ".journal"), dir.resolve(name + ".lock")};
  }

  private static String baseName(Path snapshotFile) {
    String f = snapshotFile.getFileName().toString();
    return f.substring(0, f.length() - ".json".length());
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
      release(opened);
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
    for (Map.Entry<String, Encoded> e : inFileOrder(bytes, s).entrySet()) {
      try {
        entries.put(e.getKey(), compact(e.getValue()));
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

  /**
   * The value as the codec would write it: no whitespace outside strings (a journal line must not
   * contain a line break) and strings re-escaped ASCII-only as Python does.
   */
  static byte[] compact(Encoded value) throws MalformedJsonException {
    byte[] buf = value.buf;
    int end = value.offset + value.length;
    JsonText.skipValue(buf, value.offset, end); // validates, so the loop below can trust the structure
    ByteSink out = new ByteSink(value.length);
    int[] after = new int[1];
    int i = value.offset;
    while (i < end) {
      byte b = buf[i];
      if (JsonText.isWhitespace(b)) {
        i++;
      } else if (b == '"') {
        String s = JsonText.readString(buf, i, end, after);
        JsonText.writeString(out, s);
        i = after[0];
      } else {
        out.write(b);
        i++;
      }
    }
    return out.toByteArray();
  }

  /** Closes a store that wrote nothing, without the compaction a close does: export only reads. */
  private static void release(PersistentStore store) {
    if (store instanceof JsonFileStore) {
      ((JsonFileStore) store).abandon();
    } else {
      store.close();
    }
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
