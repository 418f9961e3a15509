package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.tiercache.Assets.Model;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.logging.LogRecord;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A JSON-store cache in a directory this process cannot write: {@code ro} is a read-only bind mount
 * of {@code src} (the tests run as root, which file permissions do not stop; a read-only mount
 * does, with {@code EROFS}). A writer on {@code src} stands for the process that filled the cache,
 * or one still writing it elsewhere. Each guarantee is also checked against a deliberately broken
 * reading, which the same check must catch.
 */
class ReadOnlyDirectoryTest {
  static final Duration TTL = Duration.ofHours(1);

  @TempDir Path tmp;
  Path src;
  Path ro;
  boolean mounted;
  final FakeClock clock = new FakeClock();
  final List<AutoCloseable> opened = new ArrayList<>();
  LogRecords logs;

  @BeforeEach
  void bindReadOnly() throws Exception {
    src = Files.createDirectory(tmp.resolve("cache"));
    ro = Files.createDirectory(tmp.resolve("ro"));
    String failure = run("mount", "--bind", src.toString(), ro.toString());
    mounted = failure == null;
    if (mounted) {
      failure = run("mount", "-o", "remount,bind,ro", ro.toString());
    }
    if (failure != null) {
      System.out.println("ReadOnlyDirectoryTest skipped: cannot mount a read-only bind mount here (" + failure + ")");
      Assumptions.abort("mount refused: " + failure);
    }
    logs = LogRecords.under("io.tiercache");
  }

  @AfterEach
  void closeAndUnmount() throws Exception {
    try {
      if (logs != null) {
        logs.close();
      }
      Collections.reverse(opened);
      for (AutoCloseable c : opened) {
        c.close();
      }
    } finally {
      if (mounted) {
        run("umount", "-l", ro.toString());
      }
    }
  }

  /** Null when the command succeeded, else its output and exit code. */
  static @Nullable String run(String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    try {
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        return String.join(" ", command) + " did not return within 30 s";
      }
      String out = new String(p.getInputStream().readAllBytes(), UTF_8).strip();
      return p.exitValue() == 0 ? null : out + " (exit code " + p.exitValue() + ")";
    } finally {
      p.destroyForcibly();
    }
  }

  StoreConfig config(Path dir, String name) {
    // No background refresh, and no compaction but the ones a test asks for.
    return new StoreConfig(StoreSpec.jsonFiles(), new FileNames(dir, name), Durability.WRITE, TTL, Duration.ZERO,
        clock, Duration.ofSeconds(5), Duration.ZERO, Duration.ofMillis(50), Long.MAX_VALUE / 4,
        FileOps.ownerOnly());
  }

  JsonFileStore writer(String name) {
    JsonFileStore store = JsonFileStore.open(config(src, name));
    opened.add(store);
    return store;
  }

  /** The store a cache on {@code ro} gets: what the JSON store's provider opens there. */
  PersistentStore reader(String name) {
    PersistentStore store = JsonFileStore.PROVIDER.open(config(ro, name));
    opened.add(store);
    return store;
  }

  static void put(PersistentStore store, String key, String json) {
    store.await(store.put(key, json.getBytes(UTF_8)));
  }

  static String value(String key) {
    return "{\"id\":\"" + key + "\",\"payload\":\"zzz-" + key + "\"}";
  }

  /** An encoded value as compact JSON text: the snapshot holds values re-indented, the journal compact. */
  static String text(Encoded e) {
    try {
      return new String(JsonText.compact(e), UTF_8);
    } catch (JsonText.MalformedJsonException ex) {
      throw new AssertionError(ex);
    }
  }

  static Function<String, String> served(PersistentStore store) {
    return key -> {
      PersistentStore.Value v = store.get(key);
      return v == null ? null : text(v.bytes);
    };
  }

  static Map<String, String> all(PersistentStore store) {
    Map<String, String> out = new TreeMap<>();
    store.forEach((k, v) -> out.put(k, text(v.bytes)));
    return out;
  }

  /** What a reading serves that it should not, or misses: empty when it serves exactly {@code expected}. */
  static List<String> problems(Map<String, String> expected, List<String> absent, Function<String, String> reading) {
    List<String> problems = new ArrayList<>();
    expected.forEach((k, v) -> {
      String got = reading.apply(k);
      if (!v.equals(got)) {
        problems.add(k + ": expected " + v + ", served " + got);
      }
    });
    for (String k : absent) {
      String got = reading.apply(k);
      if (got != null) {
        problems.add(k + ": must not be served, served " + got);
      }
    }
    return problems;
  }

  // ---------------------------------------------------------------- broken readings

  /** Broken: maps the snapshot and nothing else (no journal, no {@code <name>.json}, no expiry). */
  static Function<String, String> snapshotOnly(Path dir, String name) throws IOException {
    Path file = dir.resolve(name + ".snapshot");
    if (!Files.exists(file)) {
      return key -> null;
    }
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      SnapshotFile snapshot = SnapshotFile.map(file, ch);
      return key -> {
        Encoded e = Content.fromBase(snapshot, key);
        return e == null ? null : text(e);
      };
    }
  }

  /** Broken: snapshot and journal replayed, but no expiry ({@link CacheFiles#contents} lists what the files hold). */
  static Function<String, String> ignoringExpiry(Path dir, String name) {
    Map<String, String> entries = CacheFiles.contents(dir.resolve(name)).entries();
    return key -> entries.get(key) == null ? null : text(Encoded.of(entries.get(key).getBytes(UTF_8), 0));
  }

  /** Broken: reads the journal through whatever its name points to, and applies it over the snapshot-less content. */
  static Function<String, String> followingLinks(Path dir, String name) throws IOException {
    byte[] journal = Files.readAllBytes(dir.resolve(name + ".journal"));
    Content c = new Content(null, Long.MAX_VALUE);
    Journal.scan(journal, journal.length, 0, new Journal.Visitor() {
      @Override public void header(int format, long generation, long carriedBytes) {}
      @Override public void batch(String writer, long number, List<Journal.Record> records) {
        c.lock.lock();
        try {
          records.forEach(c::apply);
        } finally {
          c.lock.unlock();
        }
      }
      @Override public boolean seal(long fileOffset, long generation, String writer, long renderedFrom) {
        return false;
      }
      @Override public void corrupt(long fileOffset, String reason) {}
      @Override public void interrupted(long fileOffset, String reason) {}
    });
    return key -> c.view().value(key) == null ? null : text(c.view().value(key));
  }

  // ---------------------------------------------------------------- the directory, unchanged

  /** Every name in {@code dir} with its inode, mode, links, size, modification and change times. */
  static Map<String, Map<String, Object>> listing(Path dir) throws IOException {
    Map<String, Map<String, Object>> out = new TreeMap<>();
    try (var files = Files.list(dir)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        out.put(p.getFileName().toString(), new TreeMap<>(
            Files.readAttributes(p, "unix:ino,mode,nlink,size,lastModifiedTime,ctime", LinkOption.NOFOLLOW_LINKS)));
      }
    }
    return out;
  }

  /** A cache written by tiercache: a snapshot, then records after it in the journal, its writer still open. */
  Map<String, String> writeSnapshotAndJournal(JsonFileStore w) {
    Map<String, String> expected = new TreeMap<>();
    for (int i = 0; i < 10; i++) {
      put(w, "a" + i, value("a" + i));
      expected.put("a" + i, value("a" + i));
    }
    w.flush(); // compacts: the snapshot and its export hold a0..a9, the journal nothing
    for (int i = 0; i < 5; i++) {
      put(w, "b" + i, value("b" + i));
      expected.put("b" + i, value("b" + i));
    }
    put(w, "a1", "{\"id\":\"a1\",\"changed\":true}");
    expected.put("a1", "{\"id\":\"a1\",\"changed\":true}");
    w.await(w.remove("a0"));
    expected.remove("a0");
    return expected;
  }

  // ---------------------------------------------------------------- tests

  @Test
  void servesTheSnapshotWithTheJournalsRecordsOverIt() throws IOException {
    JsonFileStore w = writer("model");
    Map<String, String> expected = writeSnapshotAndJournal(w);
    assertThat(Files.size(src.resolve("model.journal"))).as("records after the snapshot").isGreaterThan(100);
    Map<String, Map<String, Object>> before = listing(ro);

    PersistentStore r = reader("model");
    assertThat(r).isInstanceOf(ReadOnlyJsonStore.class);
    assertThat(problems(expected, List.of("a0", "zz"), served(r))).isEmpty();
    assertThat(all(r)).isEqualTo(expected);
    assertThat(r.size()).isEqualTo(expected.size());
    assertThat(r.expiresAtMillis()).isEqualTo(clock.millis() + TTL.toMillis());
    assertThat(logs.records).extracting(LogRecord::getMessage)
        .anyMatch(m -> m.contains(ro.toString()) && m.contains("opened read-only")
            && m.contains("Read-only file system (errno 30)"));
    assertThat(listing(ro)).as("nothing in the directory changed").isEqualTo(before);

    // Broken: a reader of the snapshot alone misses the journal's records and serves what they removed.
    assertThat(problems(expected, List.of("a0", "zz"), snapshotOnly(ro, "model")))
        .anyMatch(p -> p.startsWith("b0:")).anyMatch(p -> p.startsWith("a0:")).anyMatch(p -> p.startsWith("a1:"));
  }

  @Test
  void servesTheJsonThePythonSdkWroteWhenThereIsNoSnapshot() throws IOException {
    Files.writeString(src.resolve("model.json"), JsonFileStoreTest.PYTHON_WRITTEN, UTF_8);
    Files.createFile(src.resolve("model.lock")); // the Python SDK's filelock leaves it
    Map<String, Map<String, Object>> before = listing(ro);

    PersistentStore r = reader("model");
    Map<String, String> expected = new HashMap<>();
    expected.put("m1", served(r).apply("m1"));
    assertThat(expected.get("m1")).contains("\"name\":\"caf\\u00e9 \\ud83d\\ude00\"").contains("\"nan\":NaN");
    assertThat(problems(expected, List.of("m2"), served(r))).isEmpty();
    assertThat(r.expiresAtMillis()).isEqualTo(1767229200873L);
    r.flush(); // <name>.json holds everything: nothing to write
    assertThat(listing(ro)).as("nothing created: no snapshot, journal or state file").isEqualTo(before);

    // Broken: a reader of tiercache's snapshot alone serves nothing here.
    assertThat(problems(expected, List.of("m2"), snapshotOnly(ro, "model"))).isNotEmpty();
  }

  @Test
  void readsTheJsonUnderThePythonSdksLock() throws IOException {
    Files.writeString(src.resolve("model.json"), JsonFileStoreTest.PYTHON_WRITTEN, UTF_8);
    Files.createFile(src.resolve("model.lock"));
    StoreConfig config = config(ro, "model");
    StoreConfig impatient = new StoreConfig(config.spec(), config.files(), config.durability(), config.expireAfter(),
        config.staleGrace(), clock, Duration.ofMillis(200), config.refreshInterval(), config.asyncFlushDelay(),
        config.compactionMinBytes(), config.fileOps());
    try (LockFile python = new LockFile(src.resolve("model.lock"), Duration.ofSeconds(5), FileOps.ownerOnly())) {
      python.lock(); // the Python SDK rewriting its file
      assertThatThrownBy(() -> JsonFileStore.PROVIDER.open(impatient)).isInstanceOf(LockTimeoutException.class);
    }
    PersistentStore r = JsonFileStore.PROVIDER.open(impatient);
    opened.add(r);
    assertThat(r.get("m1")).isNotNull();
  }

  @Test
  void takesInARewriteOfTheJsonByThePythonSdk() throws IOException {
    JsonFileStore w = writer("model");
    Map<String, String> expected = writeSnapshotAndJournal(w);
    w.flush(); // the snapshot and its export hold everything
    // The Python SDK writes back its view (loaded when it held only a2, a2's value as tiercache
    // exported it) plus its own add, without tiercache's member.
    String expiry = Snapshot.formatSeconds(w.expiresAtMillis());
    Files.writeString(src.resolve("model.json"), "{\n    \"expiry\": " + expiry + ",\n    \"data\": {\n"
        + "        \"a2\": {\n            \"id\": \"a2\",\n            \"payload\": \"zzz-a2\"\n        },\n"
        + "        \"py1\": {\n            \"id\": \"py1\"\n        }\n    }\n}", UTF_8);
    expected.put("py1", "{\"id\":\"py1\"}");

    PersistentStore r = reader("model");
    assertThat(problems(expected, List.of("a0"), served(r))).isEmpty();
    assertThatThrownBy(r::flush).as("the snapshot lacks py1: folding it needs a write")
        .isInstanceOf(CacheException.class).hasMessageContaining("read-only");

    // Broken: the snapshot alone misses what the Python SDK added.
    assertThat(problems(expected, List.of("a0"), snapshotOnly(ro, "model"))).containsExactly(
        "py1: expected {\"id\":\"py1\"}, served null");
  }

  @Test
  void servesNothingExpired() throws IOException {
    JsonFileStore w = writer("model");
    Map<String, String> expected = writeSnapshotAndJournal(w);
    PersistentStore r = reader("model");
    assertThat(problems(expected, List.of(), served(r))).isEmpty();

    clock.advance(TTL.plusSeconds(1));
    Map<String, String> none = new HashMap<>();
    List<String> expired = new ArrayList<>(expected.keySet());
    assertThat(problems(none, expired, served(r))).isEmpty();
    assertThat(all(r)).isEmpty();
    assertThat(r.size()).isZero();
    PersistentStore reopened = reader("model");
    assertThat(problems(none, expired, served(reopened))).as("a new view of an expired content").isEmpty();
    assertThat(reopened.size()).isZero();
    assertThat(reopened.expiresAtMillis()).isLessThan(clock.millis());

    // Broken: what the files hold, without expiry, serves every expired entry.
    assertThat(problems(none, expired, ignoringExpiry(ro, "model"))).hasSize(expired.size());
  }

  @Test
  void anExpiredPythonFileIsServedAsEmpty() throws IOException {
    Files.writeString(src.resolve("model.json"), JsonFileStoreTest.PYTHON_WRITTEN, UTF_8);
    clock.advance(Duration.ofHours(2)); // past its expiry, 2026-01-01T01:00:00.873Z
    PersistentStore r = reader("model");
    assertThat(r.get("m1")).isNull();
    assertThat(all(r)).isEmpty();
    // Broken: the same files read without expiry serve it.
    assertThat(ignoringExpiry(ro, "model").apply("m1")).isNotNull();
  }

  @Test
  void everyWriteThrowsNamingTheDirectoryAndReadsDoNot() throws IOException {
    JsonFileStore w = writer("model");
    Map<String, String> expected = writeSnapshotAndJournal(w);
    Map<String, Map<String, Object>> before = listing(ro);
    PersistentStore r = reader("model");

    List<Runnable> writes = List.of(() -> r.put("x", "{}".getBytes(UTF_8)), () -> r.remove("a1"), r::clear,
        () -> r.replaceAll(Map.of("x", "{}".getBytes(UTF_8))), r::flush);
    for (Runnable write : writes) {
      assertThatThrownBy(write::run).isInstanceOf(CacheException.class)
          .hasMessageContaining("read-only for this process").hasMessageContaining("Read-only file system")
          .satisfies(e -> assertThat(((CacheException) e).file()).contains(ro));
    }
    r.refresh();
    assertThat(problems(expected, List.of("x"), served(r))).as("reads after the refused writes").isEmpty();
    assertThat(listing(ro)).isEqualTo(before);

    w.flush(); // folded by the writer: <name>.json now holds the content, so a flush has nothing to write
    r.refresh();
    r.flush();
    assertThat(problems(expected, List.of("x"), served(r))).isEmpty();

    // Broken: the writable store on the same directory cannot even open it, so it cannot serve reads.
    assertThat(catchThrowable(() -> JsonFileStore.open(config(ro, "model")).close()))
        .isInstanceOf(CacheException.class).hasStackTraceContaining("Read-only file system");
  }

  @Test
  void nothingInTheDirectoryChanges() throws IOException {
    JsonFileStore w = writer("model");
    Map<String, String> expected = writeSnapshotAndJournal(w);
    Map<String, Map<String, Object>> before = listing(ro);

    PersistentStore r = reader("model");
    r.get("a1");
    all(r);
    r.refresh();
    catchThrowable(() -> r.put("x", "{}".getBytes(UTF_8)));
    catchThrowable(r::flush);
    CacheFiles.inspect(ro.resolve("model.json"));
    CacheFiles.verify(ro.resolve("model.json"));
    assertThat(CacheFiles.contents(ro.resolve("model.json")).entries().keySet()).isEqualTo(expected.keySet());
    r.close();
    assertThat(listing(ro)).isEqualTo(before);

    // Broken: a store that writes (the writable one, opened on the same directory through its writable
    // path) changes what the listing shows: the check sees it.
    writer("model").close();
    w.close();
    assertThat(listing(ro)).isNotEqualTo(before);
  }

  @Test
  void refusesAPlantedSymlink() throws IOException {
    // Elsewhere, a journal that would add an entry "planted".
    Path elsewhere = Files.createDirectory(tmp.resolve("elsewhere"));
    try (JsonFileStore other = JsonFileStore.open(config(elsewhere, "model"))) {
      put(other, "planted", "{\"id\":\"planted\"}");
      Files.copy(elsewhere.resolve("model.journal"), tmp.resolve("planted.journal"));
    }
    Files.writeString(src.resolve("model.json"), JsonFileStoreTest.PYTHON_WRITTEN, UTF_8);
    Files.createSymbolicLink(src.resolve("model.journal"), tmp.resolve("planted.journal"));
    Files.createSymbolicLink(src.resolve("other.json"), src.resolve("model.json"));

    assertThatThrownBy(() -> reader("model")).isInstanceOf(CacheException.class)
        .hasMessageContaining("refusing a symbolic link").hasMessageContaining(ro.resolve("model.journal").toString());
    assertThatThrownBy(() -> reader("other")).isInstanceOf(CacheException.class)
        .hasMessageContaining("refusing a symbolic link").hasMessageContaining(ro.resolve("other.json").toString());

    // Broken: a reader that follows the link serves the planted entry.
    Map<String, String> none = new HashMap<>();
    assertThat(problems(none, List.of("planted"), followingLinks(ro, "model"))).hasSize(1);
  }

  @Test
  void refreshSeesAWriterElsewhere() throws IOException {
    JsonFileStore w = writer("model");
    Map<String, String> expected = writeSnapshotAndJournal(w);
    PersistentStore r = reader("model");
    PersistentStore stale = reader("model"); // broken: never refreshed
    int[] invalidations = {0};
    r.listeners().add(new PersistentStore.Listener() {
      @Override public void invalidate(String key) {}
      @Override public void invalidateAll() {
        invalidations[0]++;
      }
    });
    long epoch = r.epoch();

    put(w, "c1", value("c1"));
    expected.put("c1", value("c1"));
    r.refresh();
    assertThat(problems(expected, List.of(), served(r))).isEmpty();
    assertThat(r.epoch()).isGreaterThan(epoch);
    assertThat(invalidations[0]).isEqualTo(1);
    r.refresh();
    assertThat(invalidations[0]).as("no change, no reload").isEqualTo(1);

    w.flush(); // a compaction: a new snapshot and journal
    r.refresh();
    assertThat(problems(expected, List.of(), served(r))).isEmpty();
    w.await(w.clear());
    r.refresh();
    assertThat(all(r)).isEmpty();

    assertThat(problems(Map.of("c1", value("c1")), List.of(), served(stale))).isNotEmpty();
  }

  @Test
  void damagedFilesAreSkippedWithAWarningAndLeftInPlace() throws IOException {
    JsonFileStore w = writer("model");
    Map<String, String> expected = writeSnapshotAndJournal(w);
    // A damaged line in the journal, then a record after it.
    Files.writeString(src.resolve("model.journal"), "00000000 [\"p\",\"d\",{}]\n", UTF_8, StandardOpenOption.APPEND);
    put(w, "b9", value("b9"));
    expected.put("b9", value("b9"));
    // A damaged value in the snapshot: the export of the same snapshot still holds it.
    Path snapshot = src.resolve("model.snapshot");
    byte[] bytes = Files.readAllBytes(snapshot);
    int at = indexOf(bytes, "zzz-a5".getBytes(UTF_8));
    bytes[at + 4] = 'X';
    Files.write(snapshot, bytes);
    Map<String, Map<String, Object>> before = listing(ro);

    PersistentStore r = reader("model");
    assertThat(problems(expected, List.of("a0", "d"), served(r))).isEmpty();
    assertThat(all(r)).isEqualTo(expected);
    assertThat(warnings()).anyMatch(m -> m.contains(ro.resolve("model.journal") + ": the record at byte")
        && m.contains("damaged") && m.contains("stays as it is"));
    assertThat(warnings()).anyMatch(m -> m.contains(ro.resolve("model.snapshot") + " has 1 damaged entries"));
    assertThat(listing(ro)).as("nothing moved aside").isEqualTo(before);

    // A snapshot damaged as a whole (cut short): skipped, <name>.json and the journal served instead.
    Files.write(snapshot, java.util.Arrays.copyOf(bytes, 100));
    before = listing(ro);
    PersistentStore again = reader("model");
    assertThat(problems(expected, List.of("a0", "d"), served(again))).isEmpty();
    assertThat(warnings()).anyMatch(m -> m.contains(ro.resolve("model.snapshot") + " is damaged"));
    assertThat(listing(ro)).as("nothing moved aside").isEqualTo(before);

    // Broken: the writable store moves the damaged snapshot aside; the listing shows it.
    writer("model").close();
    assertThat(listing(ro).keySet()).anyMatch(n -> n.startsWith("model.snapshot.corrupt-"));
    assertThat(listing(ro)).isNotEqualTo(before);
  }

  @Test
  void theToolsReadAReadOnlyDirectory() throws IOException {
    clock.advance(Duration.between(clock.instant(), java.time.Instant.now())); // the tools run on the system clock
    JsonFileStore w = writer("model");
    Map<String, String> expected = writeSnapshotAndJournal(w);
    Map<String, Map<String, Object>> before = listing(ro);
    CacheFiles.Inspection i = CacheFiles.inspect(ro.resolve("model"));
    assertThat(i.liveEntries()).isEqualTo(expected.size());
    CacheFiles.Verification v = CacheFiles.verify(ro.resolve("model.journal"));
    assertThat(v.valid()).as(v.problems().toString()).isTrue();
    assertThat(v.notes()).anyMatch(n -> n.contains("read-only for this process"));
    Map<String, String> contents = new TreeMap<>();
    CacheFiles.contents(ro.resolve("model")).entries().forEach((k, json) ->
        contents.put(k, text(Encoded.of(json.getBytes(UTF_8), 0))));
    assertThat(contents).isEqualTo(expected);
    Path exported = tmp.resolve("export.json");
    CacheFiles.export(ro, "model", exported, StoreSpec.jsonFiles(), Duration.ofSeconds(5));
    assertThat(Files.readString(exported)).contains("zzz-b4");
    assertThatThrownBy(() -> CacheFiles.compact(ro, "model", Duration.ofSeconds(5)))
        .isInstanceOf(CacheException.class).hasMessageContaining("read-only");
    assertThat(listing(ro)).isEqualTo(before);
  }

  @Test
  void anAssetCacheOnAReadOnlyDirectoryReadsAndRefusesWrites() throws IOException {
    Files.writeString(src.resolve("model.json"), JsonFileStoreTest.PYTHON_WRITTEN, UTF_8);
    Map<String, Map<String, Object>> before = listing(ro);
    AssetCache<Model> models = AssetCache.builder(Model.class)
        .configure(b -> b.directory(ro).expireAfter(TTL).clock(clock)).build();
    opened.add(models);
    assertThat(models.get("m1").name()).isEqualTo("café 😀");
    assertThat(models.hasValidCache()).isTrue();
    assertThatThrownBy(() -> models.add(Model.of("x"))).isInstanceOf(CacheException.class)
        .hasMessageContaining(ro.toString()).hasMessageContaining("read-only for this process");
    assertThat(models.get("x")).as("a refused write is not served from memory").isNull();
    assertThatThrownBy(models::invalidate).isInstanceOf(CacheException.class);
    assertThatThrownBy(() -> models.addList(List.of(Model.of("x")))).isInstanceOf(CacheException.class);
    assertThat(models.get("m1")).isNotNull();

    models.save(); // nothing to write: <name>.json holds it all
    models.close();
    opened.remove(models);
    assertThat(listing(ro)).isEqualTo(before);
  }

  @Test
  void aDirectoryTheProcessMayWriteGetsTheWritableStore() {
    assertThat(ReadOnlyJsonStore.whyReadOnly(src)).isNull();
    assertThat(ReadOnlyJsonStore.whyReadOnly(ro)).isEqualTo("Read-only file system (errno 30)");
    assertThat(ReadOnlyJsonStore.whyReadOnly(tmp.resolve("missing"))).as("created by the writable store").isNull();
    PersistentStore store = JsonFileStore.PROVIDER.open(config(src, "model"));
    opened.add(store);
    assertThat(store).isInstanceOf(JsonFileStore.class);
  }

  List<String> warnings() {
    List<String> out = new ArrayList<>();
    for (LogRecord r : logs.records) {
      if (r.getLevel() == java.util.logging.Level.WARNING) {
        out.add(r.getMessage());
      }
    }
    return out;
  }

  static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    throw new AssertionError("not found");
  }
}
