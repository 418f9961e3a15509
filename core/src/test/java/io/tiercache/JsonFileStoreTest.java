package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tiercache.Assets.Model;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import io.tiercache.PersistentStore.Write;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The file store: the Python SDK's format both ways, damaged files, the journal, the locks, other
 * processes (each a store of its own on the same files), the Python SDK rewriting its file, a full
 * disk, expiry on disk and stale content.
 */
class JsonFileStoreTest {
  static final Duration TTL = Duration.ofHours(1);

  @TempDir Path dir;
  final FakeClock clock = new FakeClock();
  final List<AutoCloseable> opened = new ArrayList<>();
  final List<String> warnings = new ArrayList<>();
  private final Handler capture = new Handler() {
    @Override public void publish(LogRecord record) {
      synchronized (warnings) {
        warnings.add(record.getMessage());
      }
    }
    @Override public void flush() {}
    @Override public void close() {}
  };

  @BeforeEach
  void captureWarnings() {
    Logger.getLogger("io.tiercache").addHandler(capture);
  }

  @AfterEach
  void closeAll() throws Exception {
    Logger.getLogger("io.tiercache").removeHandler(capture);
    for (AutoCloseable c : opened) {
      c.close();
    }
  }

  AssetCache.Builder<Model> models() {
    return AssetCache.builder(Model.class).configure(b -> b.directory(dir).expireAfter(TTL).clock(clock));
  }

  AssetCache<Model> open() {
    AssetCache<Model> cache = models().build();
    opened.add(cache);
    return cache;
  }

  /** A second "process": a store of its own on the same files, bypassing the in-JVM registry. */
  JsonFileStore otherProcess(String name) {
    return otherProcess(name, b -> b);
  }

  JsonFileStore otherProcess(String name,
      java.util.function.UnaryOperator<TieredCacheBuilder<String, Model>> settings) {
    JsonFileStore store = JsonFileStore.open(settings.apply(TieredCache.builder(String.class, Model.class)
        .directory(dir).name(name).expireAfter(TTL).clock(clock).refreshInterval(Duration.ZERO)).config().store());
    opened.add(store);
    return store;
  }

  static byte[] json(String s) {
    return s.getBytes(UTF_8);
  }

  String text(String file) throws IOException {
    return Files.readString(dir.resolve(file), UTF_8);
  }

  /**
   * A stored value's JSON without whitespace: compact as written when read from the journal, indented
   * as the Python SDK's text once a compaction folded it into the snapshot.
   */
  static String compactJson(PersistentStore.Value value) {
    return new String(value.bytes.toByteArray(), UTF_8).replaceAll("\\s", "");
  }

  // ---------------------------------------------------------------- the Python SDK's format

  /** Written by hand exactly as Python's json.dump(store, f, indent=4) lays it out. */
  static final String PYTHON_WRITTEN = "{\n"
      + "    \"expiry\": 1767229200.8731449,\n"
      + "    \"data\": {\n"
      + "        \"m1\": {\n"
      + "            \"id\": \"m1\",\n"
      + "            \"name\": \"caf\\u00e9 \\ud83d\\ude00\",\n"
      + "            \"function\": \"text_generation\",\n"
      + "            \"meta\": {\n"
      + "                \"size\": 7,\n"
      + "                \"ratio\": 0.5,\n"
      + "                \"nested\": [\n"
      + "                    1,\n"
      + "                    \"x\",\n"
      + "                    null,\n"
      + "                    true\n"
      + "                ],\n"
      + "                \"empty\": {},\n"
      + "                \"nan\": NaN\n"
      + "            },\n"
      + "            \"tags\": [],\n"
      + "            \"unknown_field\": \"ignored\"\n"
      + "        }\n"
      + "    }\n"
      + "}";

  @Test
  void readsAFileThePythonSdkWrote() throws IOException {
    Files.writeString(dir.resolve("model.json"), PYTHON_WRITTEN, UTF_8);
    AssetCache<Model> models = open();
    Model m = models.get("m1");
    assertThat(m.name()).isEqualTo("café 😀");
    assertThat(m.function()).isEqualTo(Assets.Function.TEXT_GENERATION);
    assertThat(m.meta()).containsEntry("size", 7L).containsEntry("ratio", 0.5)
        .containsEntry("nested", java.util.Arrays.asList(1L, "x", null, true))
        .containsEntry("empty", Map.of());
    assertThat((Double) m.meta().get("nan")).isNaN();
    assertThat(m.tags()).isEmpty();
    assertThat(models.store().expiry().toEpochMilli()).isEqualTo(1767229200873L);
  }

  @Test
  void writesThePythonSdkFormatExactly() throws IOException {
    AssetCache<Model> models = open();
    models.add(new Model("m1", "café", Assets.Function.TRANSLATION, Map.of("k", List.of(1L, 2.5)),
        List.of(), null, null));
    models.save();
    String expiry = Snapshot.formatSeconds(clock.millis() + TTL.toMillis());
    assertThat(text("model.json")).isEqualTo("{\n"
        + "    \"expiry\": " + expiry + ",\n"
        + "    \"data\": {\n"
        + "        \"m1\": {\n"
        + "            \"id\": \"m1\",\n"
        + "            \"name\": \"caf\\u00e9\",\n"
        + "            \"function\": \"TRANSLATION\",\n"
        + "            \"meta\": {\n"
        + "                \"k\": [\n"
        + "                    1,\n"
        + "                    2.5\n"
        + "                ]\n"
        + "            },\n"
        + "            \"tags\": [],\n"
        + "            \"created\": null,\n"
        + "            \"price\": null\n"
        + "        }\n"
        + "    },\n"
        + "    \"tiercache\": {\n"
        + "        \"version\": 2,\n"
        + "        \"generation\": 2\n"
        + "    }\n"
        + "}");
  }

  @Test
  void freeFormMetadataRoundTripsThroughTheFileUnchanged() throws IOException {
    Files.writeString(dir.resolve("model.json"), PYTHON_WRITTEN, UTF_8);
    AssetCache<Map> raw = AssetCache.builder(Map.class).cacheFilename("model")
        .configure(b -> b.directory(dir).expireAfter(TTL).clock(clock)).idFunction(m -> (String) m.get("id")).build();
    opened.add(raw);
    Map<?, ?> before = raw.get("m1");
    raw.add(before); // re-encoded from the decoded map
    raw.save();
    raw.close();
    opened.remove(raw);
    AssetCache<Map> again = AssetCache.builder(Map.class).cacheFilename("model")
        .configure(b -> b.directory(dir).expireAfter(TTL).clock(clock)).idFunction(m -> (String) m.get("id")).build();
    opened.add(again);
    assertThat(again.get("m1").toString()).isEqualTo(before.toString());
    assertThat(text("model.json")).contains("\"unknown_field\": \"ignored\"").contains("\"nan\": NaN")
        .contains("\\ud83d\\ude00");
  }

  // ---------------------------------------------------------------- damaged input

  @Test
  void aCorruptSnapshotIsMovedAsideAtOpenAndTheCacheStartsEmpty() throws IOException {
    String damaged = PYTHON_WRITTEN.substring(0, PYTHON_WRITTEN.length() / 2);
    Files.writeString(dir.resolve("model.json"), damaged, UTF_8);
    AssetCache<Model> models = open();
    assertThat(models.getAll()).isEmpty();
    List<Path> aside = corruptCopies("model.json.corrupt-");
    assertThat(aside).hasSize(1);
    assertThat(Files.readString(aside.get(0), UTF_8)).isEqualTo(damaged);
    assertThat(warnings).anyMatch(w -> w.contains(dir.resolve("model.json").toString())
        && w.contains(aside.get(0).toString()));
    models.add(Model.of("fresh"));
    assertThat(models.get("fresh")).isNotNull();
  }

  @Test
  void nonJsonAndWrongShapesAreMovedAsideToo() throws IOException {
    for (String bad : List.of("not json at all", "[1,2,3]", "{\"data\": {}}", "{\"expiry\": \"soon\", \"data\": {}}",
        "{\"expiry\": 1, \"data\": []}", "")) {
      Files.writeString(dir.resolve("bad.json"), bad, UTF_8);
      AssetCache<Model> cache = models().cacheFilename("bad").build();
      assertThat(cache.getAll()).as(bad).isEmpty();
      cache.close();
      assertThat(Files.readString(dir.resolve("bad.json"))).as(bad).contains("\"tiercache\"");
    }
    assertThat(corruptCopies("bad.json.corrupt-")).hasSizeGreaterThanOrEqualTo(5);
  }

  @Test
  void anUndecodableEntryIsSkippedAndKeptInTheFile() throws IOException {
    String file = "{\"expiry\": 4102444800, \"data\": {"
        + "\"good\": {\"id\": \"good\", \"name\": \"fine\"},"
        + "\"bad\": {\"id\": \"bad\", \"tags\": {\"not\": \"a list\"}}}}";
    Files.writeString(dir.resolve("model.json"), file, UTF_8);
    AssetCache<Model> models = open();
    assertThat(models.get("good").name()).isEqualTo("fine");
    assertThat(models.get("bad")).isNull();
    assertThat(models.getAll()).extracting(Model::id).containsExactly("good");
    assertThat(warnings).anyMatch(w -> w.contains("'bad'") && w.contains(Model.class.getName()));
    models.add(Model.of("new"));
    models.save();
    assertThat(text("model.json")).contains("\"not\": \"a list\"");
  }

  @Test
  void aDamagedJournalLineIsSkippedReportedAndKeptAsideAndACutShortWriteIsNot() throws IOException {
    JsonFileStore raw = otherProcess("model");
    for (String id : List.of("x", "y", "z")) {
      raw.await(raw.put(id, json("{\"id\":\"" + id + "\"}")));
    }
    Path journal = dir.resolve("model.journal");
    String text = Files.readString(journal, UTF_8);
    // Damage y's record; then append half of a batch, as a process killed in its write leaves it.
    Files.writeString(journal, text.replace("\"y\"}]", "\"Y\"}]") + "\n12345678 [\"b\",\"dead\",1,2]\nabc", UTF_8);
    AssetCache<Model> reopened = open();
    assertThat(reopened.store().data().keySet()).contains("x", "z").doesNotContain("y", "Y");
    assertThat(warnings).anyMatch(w -> w.contains("model.journal") && w.contains("checksum mismatch"));
    reopened.add(Model.of("after")); // its leading line break ends the torn unit; nothing of either is lost
    reopened.save();
    assertThat(corruptCopies("model.journal.corrupt-")).hasSize(1);
    assertThat(otherProcess("model").get("after")).isNotNull();
    CacheFiles.Verification v = CacheFiles.verify(dir.resolve("model.json"));
    assertThat(v.valid()).as(v.problems().toString()).isTrue();
  }

  @Test
  void fileNamesWithPathsAreRejected() {
    for (String bad : List.of("../escape", "a/b", "a\\b", "..", ".", "")) {
      assertThatThrownBy(() -> AssetCache.open(Model.class, bad))
          .as(bad).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("invalid cache file name");
    }
  }

  @Test
  void aDirectoryThatCannotBeCreatedIsNamed() throws IOException {
    Path blocker = Files.writeString(dir.resolve("blocker"), "a file, not a directory");
    assertThatThrownBy(() -> models().configure(b -> b.directory(blocker.resolve("sub"))).build())
        .isInstanceOf(CacheException.class)
        .hasMessageContaining(blocker.toString());
  }

  @Test
  void aPythonLockHolderDoesNotStopAddsButASaveWaitsForItAndTimesOutNamingTheLock() {
    AssetCache<Model> models = models().configure(b -> b.lockTimeout(Duration.ofMillis(200))).build();
    opened.add(models);
    LockFile holder = new LockFile(models.lockFile(), Duration.ofSeconds(1), FileOps.ownerOnly());
    holder.lock();
    try {
      models.add(Model.of("m1")); // appends take no lock: O_APPEND places them
      assertThat(models.get("m1")).isNotNull();
      assertThatThrownBy(models::save).isInstanceOf(LockTimeoutException.class)
          .hasMessageContaining(models.lockFile().toString())
          .hasMessageContaining("process " + ProcessHandle.current().pid());
    } finally {
      holder.close();
    }
    models.save(); // and it works once the holder lets go
    assertThat(Snapshot.FORMAT_VERSION).isEqualTo(2);
  }

  @Test
  void anUnlinkedPythonLockFileBreaksNothing() throws IOException {
    AssetCache<Model> models = open();
    models.add(Model.of("a"));
    models.save();
    Files.delete(models.lockFile()); // what the Python SDK's invalidate() does
    models.add(Model.of("b"));
    models.save(); // takes a new lock file
    assertThat(models.lockFile()).exists();
    assertThat(otherProcess("model").size()).isEqualTo(2);
  }

  @Test
  void filesAreOwnerOnlyByDefaultAndConfigurable() throws IOException {
    Path sub = dir.resolve("private");
    AssetCache<Model> models = models().configure(b -> b.directory(sub)).build();
    opened.add(models);
    models.add(Model.of("a"));
    models.save();
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(sub))).isEqualTo("rwx------");
    for (String f : List.of("model.json", "model.snapshot", "model.journal", "model.state", "model.lock")) {
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(sub.resolve(f)))).as(f)
          .isEqualTo("rw-------");
    }
    AssetCache<Model> shared = models()
        .configure(b -> b.directory(dir.resolve("shared")).filePermissions(PosixFilePermissions.fromString("rw-r-----")))
        .build();
    opened.add(shared);
    shared.add(Model.of("a"));
    shared.save();
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(shared.cacheFile())))
        .isEqualTo("rw-r-----");
  }

  // ---------------------------------------------------------------- expiry on disk

  @Test
  void anExpiredFileIsReplacedAtOpenNotServed() throws IOException {
    String expired = "{\"expiry\": 1000.5, \"data\": {\"m1\": {\"id\": \"m1\"}}}";
    Files.writeString(dir.resolve("model.json"), expired, UTF_8);
    AssetCache<Model> models = open();
    assertThat(models.get("m1")).isNull();
    assertThat(text("model.json")).doesNotContain("\"m1\"")
        .contains("\"expiry\": " + Snapshot.formatSeconds(clock.millis() + TTL.toMillis()));
  }

  @Test
  void aNewCachesPeriodIsOnDiskBeforeItsFirstWriteReturns() {
    JsonFileStore a = otherProcess("p", b -> b.expireAfter(Duration.ofSeconds(3)));
    a.await(a.put("k", json("1")));
    long expiry = a.expiresAtMillis();
    opened.remove(a); // as a killed process leaves it: nothing flushed, nothing compacted
    clock.advance(Duration.ofSeconds(6));
    JsonFileStore reopened = otherProcess("p", b -> b.expireAfter(Duration.ofHours(1)));
    assertThat(reopened.get("k")).as("expired 3 s after it was written, whatever the opener's TTL").isNull();
    assertThat(reopened.expiresAtMillis()).isGreaterThan(expiry);
  }

  @Test
  void anOpenerWithAnotherTtlAdoptsThePeriodOnDiskAndWipesNothing() {
    JsonFileStore longLived = otherProcess("p", b -> b.expireAfter(Duration.ofHours(1)));
    longLived.await(longLived.put("fresh", json("1")));
    JsonFileStore shortLived = otherProcess("p", b -> b.expireAfter(Duration.ofSeconds(2)));
    assertThat(shortLived.expiresAtMillis()).isEqualTo(longLived.expiresAtMillis());
    shortLived.await(shortLived.put("mine", json("2")));
    longLived.refresh();
    assertThat(longLived.get("fresh")).isNotNull();
    assertThat(longLived.get("mine")).isNotNull();
    assertThat(CacheFiles.inspect(dir.resolve("p.json")).expiry().toEpochMilli()).isEqualTo(longLived.expiresAtMillis());
  }

  // ---------------------------------------------------------------- the journal and other processes

  @Test
  void anAddAppendsOneBatchAndLeavesTheSnapshotAlone() throws IOException {
    AssetCache<Model> models = open();
    models.add(Model.of("seed"));
    models.save();
    Object snapshotKey = Files.readAttributes(dir.resolve("model.snapshot"),
        java.nio.file.attribute.BasicFileAttributes.class).fileKey();
    int before = CacheFiles.inspect(dir.resolve("model.json")).batches();
    for (int i = 0; i < 100; i++) {
      models.add(Model.of("m" + i));
    }
    assertThat(CacheFiles.inspect(dir.resolve("model.json")).batches()).isEqualTo(before + 100);
    assertThat(Files.readAttributes(dir.resolve("model.snapshot"), java.nio.file.attribute.BasicFileAttributes.class)
        .fileKey()).isEqualTo(snapshotKey);
  }

  /** Runs {@code threads} writers of {@code puts} acknowledged writes each; returns how many were acknowledged. */
  static int writeConcurrently(JsonFileStore store, int threads, int puts, String prefix) throws Exception {
    java.util.concurrent.atomic.AtomicInteger acked = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(threads);
    List<java.util.concurrent.Future<?>> writers = new ArrayList<>();
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
    try {
      for (int t = 0; t < threads; t++) {
        int thread = t;
        writers.add(pool.submit(() -> {
          start.await();
          for (int i = 0; i < puts; i++) {
            store.await(store.put(prefix + thread + "-" + i, json("{\"i\":" + i + "}")));
            acked.incrementAndGet();
          }
          return null;
        }));
      }
      for (java.util.concurrent.Future<?> w : writers) {
        w.get(); // rethrows a writer's failure
      }
    } finally {
      pool.shutdownNow();
    }
    return acked.get();
  }

  @Test
  void fsyncWritersShareForces() throws Exception {
    JsonFileStore store = otherProcess("synced", b -> b.durability(Durability.FSYNC));
    int acked = writeConcurrently(store, 2, 200, "w");
    // Each writer has one write outstanding. Forced under the I/O lock, the two mostly forced alone
    // (about 295 forces for 400 writes here); forced outside it, with the next force waiting for the
    // writer on its way, one force carries both (about 202).
    assertThat(store.forces()).isPositive().isLessThan(acked * 5L / 8);
    JsonFileStore reopened = otherProcess("synced");
    assertThat(reopened.size()).isEqualTo(acked);
  }

  @Test
  void anFsyncWriterLeftAloneForcesWithoutWaitingForTheOthers() throws Exception {
    JsonFileStore store = otherProcess("alone", b -> b.durability(Durability.FSYNC));
    // The wait for the other writers is bounded (half a force): a writer left alone goes on, whether
    // the other stopped mid-burst or long before, and forces once per write. Unbounded, it would hang.
    long forced = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
      writeConcurrently(store, 2, 100, "w"); // the last force carried two writers: the next waits for a second
      long before = store.forces();
      for (int i = 0; i < 50; i++) {
        store.await(store.put("alone" + i, json("1")));
      }
      return store.forces() - before;
    });
    assertThat(forced).isEqualTo(50);
  }

  @Test
  void fsyncWritesAcrossAnotherProcesssCompactionsAreAllKept() throws Exception {
    JsonFileStore writer = otherProcess("shared", b -> b.durability(Durability.FSYNC).compactionMinBytes(0));
    JsonFileStore compactor = otherProcess("shared", b -> b.compactionMinBytes(0));
    java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
    Thread compacting = new Thread(() -> {
      for (int i = 0; !stop.get(); i++) {
        compactor.await(compactor.put("c" + i, json("1")));
        compactor.flush(); // seals the journal the writers force
      }
    });
    compacting.start();
    int acked;
    try {
      acked = writeConcurrently(writer, 3, 150, "w");
    } finally {
      stop.set(true);
      compacting.join();
    }
    JsonFileStore reopened = otherProcess("shared");
    for (int t = 0; t < 3; t++) {
      for (int i = 0; i < 150; i++) {
        assertThat(reopened.get("w" + t + "-" + i)).as("w" + t + "-" + i).isNotNull();
      }
    }
    assertThat(acked).isEqualTo(450);
    assertThat(writer.forces()).isPositive();
  }

  @Test
  void writesGoOnWhileACompactionRenders() throws Exception {
    JsonFileStore store = otherProcess("big", b -> b.compactionMinBytes(1L << 40)); // compacts on flush only
    Map<String, byte[]> initial = new java.util.HashMap<>();
    for (int i = 0; i < 100_000; i++) {
      initial.put("k" + i, json("{\"i\":" + i + ",\"pad\":\"" + "x".repeat(300) + "\"}"));
    }
    store.replaceAll(initial);
    store.await(store.put("first", json("1"))); // something for the compaction to fold
    long compactionsBefore = store.counters().compactions();
    java.util.concurrent.CompletableFuture<Void> compaction =
        java.util.concurrent.CompletableFuture.runAsync(store::flush);
    // A write that begins and ends while the snapshot's temporary file exists ran during the render:
    // never, while the render held the lock the appends need (the compaction renames or deletes that
    // file before releasing it).
    int duringRender = 0;
    int i = 0;
    while (!compaction.isDone()) {
      boolean before = renderingSnapshot("big");
      store.await(store.put("w" + i, json("{\"w\":" + i + "}")));
      i++;
      if (before && renderingSnapshot("big") && !compaction.isDone()) {
        duringRender++;
      }
    }
    compaction.get();
    assertThat(duringRender).as("writes acknowledged while the compaction rendered").isGreaterThanOrEqualTo(5);
    assertThat(store.counters().compactions()).isEqualTo(compactionsBefore + 1);
    JsonFileStore reopened = otherProcess("big");
    assertThat(reopened.size()).isEqualTo(100_000 + 1 + i);
    for (int w = 0; w < i; w++) {
      assertThat(reopened.get("w" + w)).as("w" + w).isNotNull();
    }
  }

  private boolean renderingSnapshot(String name) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(f -> f.getFileName().toString())
          .anyMatch(f -> f.startsWith(name + ".snapshot.") && f.endsWith(".tmp"));
    }
  }

  @Test
  void twoProcessesNeverLoseEachOthersWrites() {
    JsonFileStore a = otherProcess("shared");
    JsonFileStore b = otherProcess("shared");
    for (int i = 0; i < 200; i++) {
      JsonFileStore writer = i % 2 == 0 ? a : b;
      writer.await(writer.put("k" + i, ("{\"i\":" + i + "}").getBytes(UTF_8)));
    }
    a.refresh();
    b.refresh();
    assertThat(a.size()).isEqualTo(200);
    assertThat(b.size()).isEqualTo(200);
    a.flush(); // compaction by one process; the other follows the new journal
    b.await(b.put("after", "1".getBytes(UTF_8)));
    a.refresh();
    assertThat(a.get("after")).isNotNull();
    assertThat(b.get("k0")).isNotNull();
  }

  @Test
  void theLastWriteInTheFileWinsEverywhere() {
    JsonFileStore a = otherProcess("shared");
    JsonFileStore b = otherProcess("shared");
    a.await(a.put("k", json("\"a1\"")));
    b.await(b.put("k", json("\"b1\""))); // later in the file
    Write queued = a.put("k", json("\"a2\"")); // queued, lands after b1
    a.refresh(); // reads b1: older than a's queued a2, which stays
    assertThat(new String(a.get("k").bytes.toByteArray(), UTF_8)).isEqualTo("\"a2\"");
    a.await(queued);
    b.refresh();
    assertThat(new String(b.get("k").bytes.toByteArray(), UTF_8)).isEqualTo("\"a2\"");
    assertThat(new String(otherProcess("shared").get("k").bytes.toByteArray(), UTF_8)).isEqualTo("\"a2\"");
  }

  @Test
  void writesOfAnotherProcessDuringCompactionsAreCarriedAndNoneIsLost() throws Exception {
    JsonFileStore a = otherProcess("shared", b -> b.compactionMinBytes(0));
    JsonFileStore b = otherProcess("shared", x -> x.compactionMinBytes(0));
    java.util.concurrent.atomic.AtomicInteger acked = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
    int keys = 20_000;
    // b writes until a has compacted 8 times, however long that takes on this machine (a bound of
    // 200,000 writes was reached after 6 on a fast one), cycling over its keys to keep the content small.
    Thread writer = new Thread(() -> {
      for (int i = 0; !stop.get(); i++) {
        b.await(b.put("b" + i % keys, json("{\"i\":" + i + "}")));
        acked.set(i + 1);
      }
    });
    writer.start();
    int compactions = 0;
    while (compactions < 8 && writer.isAlive()) {
      a.await(a.put("a" + compactions, json("1")));
      a.flush(); // seals the journal while b appends, and carries what b appended meanwhile
      compactions++;
    }
    stop.set(true);
    writer.join();
    assertThat(compactions).isEqualTo(8);
    JsonFileStore reopened = otherProcess("shared");
    int written = acked.get();
    for (int i = Math.max(0, written - keys); i < written; i++) { // each key's last write
      String key = "b" + i % keys;
      PersistentStore.Value value = reopened.get(key);
      assertThat(value).as(key).isNotNull();
      assertThat(compactJson(value)).as(key).isEqualTo("{\"i\":" + i + "}");
    }
    for (int i = 0; i < compactions; i++) {
      assertThat(reopened.get("a" + i)).as("a" + i).isNotNull();
    }
    CacheFiles.Verification v = CacheFiles.verify(dir.resolve("shared.json"));
    assertThat(v.valid()).as(v.problems().toString()).isTrue();
  }

  /**
   * A compaction this process scheduled does not render the whole content again once another
   * process has compacted meanwhile: caught up, it would fold in only what was written since. (Two
   * writers adding side by side each compacted every round.)
   */
  @Test
  void aCompactionAnotherProcessDidMeanwhileIsNotDoneAgain() throws Exception {
    JsonFileStore a = otherProcess("shared", x -> x.compactionMinBytes(1L << 40)); // compacts on flush only
    JsonFileStore b = otherProcess("shared", x -> x.compactionMinBytes(64 << 10));
    long before = b.counters().compactions();
    java.util.concurrent.CountDownLatch hold = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.Future<?> held = Maintenance.COMPACTOR.submit(() -> {
      hold.await();
      return null;
    });
    String pad = "x".repeat(300);
    try {
      for (int i = 0; i < 400; i++) { // ~130 KB: b's compaction is due, queued behind the held thread
        b.await(b.put("b" + i, json("\"" + pad + i + "\"")));
      }
      a.flush(); // a folds in everything b wrote
      b.await(b.put("late", json("1"))); // b moves on to a's snapshot before it acknowledges this
    } finally {
      hold.countDown();
    }
    held.get();
    Maintenance.COMPACTOR.submit(() -> { }).get(); // b's compaction has run
    assertThat(b.counters().compactions()).as("compactions by b").isEqualTo(before);
    JsonFileStore reopened = otherProcess("shared");
    assertThat(reopened.size()).isEqualTo(401);
    assertThat(new String(reopened.get("b399").bytes.toByteArray(), UTF_8)).isEqualTo("\"" + pad + "399\"");
  }

  @Test
  void aBacklogReadInStepsBesideAnotherProcesssCompactionsLosesAndReordersNothing() throws Exception {
    JsonFileStore a = otherProcess("shared");
    JsonFileStore b = otherProcess("shared", x -> x.compactionMinBytes(256 << 10));
    String pad = "x".repeat(300);
    java.util.concurrent.atomic.AtomicInteger written = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicInteger refreshedTo = new java.util.concurrent.atomic.AtomicInteger();
    Thread writer = new Thread(() -> {
      // Overwrites the same 64 keys: a record applied out of order, or twice from a stale read, shows.
      for (int i = 0; i < 12_000; i++) {
        while (i - refreshedTo.get() > 1_500) {
          java.util.concurrent.locks.LockSupport.parkNanos(100_000); // at most 1,500 ahead: every step is a backlog
        }
        b.await(b.put("k" + (i % 64), json("{\"i\":" + i + ",\"pad\":\"" + pad + "\"}")));
        written.set(i + 1);
      }
    });
    writer.start();
    int refreshes = 0;
    for (int seen = 0; writer.isAlive(); refreshes++) {
      a.await(a.put("a" + refreshes, json("1"))); // its own batches amid b's: the backlog is read, not skipped
      while (writer.isAlive() && written.get() < seen + 1_000) {
        Thread.sleep(1); // a backlog of ~330 KB: more than one read step
      }
      seen = written.get();
      a.refresh(); // catches up in steps, without the lock, while b compacts and switches journals
      refreshedTo.set(seen);
    }
    writer.join();
    a.refresh();
    int n = written.get();
    assertThat(n).isEqualTo(12_000);
    assertThat(refreshes).isGreaterThan(5);
    for (int k = 0; k < 64; k++) {
      int last = n - 1 - Math.floorMod(n - 1 - k, 64);
      assertThat(compactJson(a.get("k" + k))).as("k" + k).startsWith("{\"i\":" + last + ",");
    }
    for (int i = 0; i < refreshes; i++) {
      assertThat(a.get("a" + i)).as("a" + i).isNotNull();
    }
  }

  @Test
  void compactionsReleaseTheFilesTheyReplace() throws Exception {
    JsonFileStore store = otherProcess("c");
    for (int round = 0; round < 5; round++) {
      store.await(store.put("k" + round, json("1")));
      store.flush(); // replaces the journal and the export; their last descriptors are closed later
    }
    Maintenance.COMPACTOR.submit(() -> { }).get(); // after the closes queued on the compaction thread
    List<String> held;
    try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
      held = fds.map(fd -> {
        try {
          return Files.readSymbolicLink(fd).toString();
        } catch (IOException gone) {
          return "";
        }
      }).filter(f -> f.startsWith(dir.toString()) && f.endsWith("(deleted)")).toList();
    }
    assertThat(held).as("descriptors of replaced cache files").isEmpty();
    assertThat(store.get("k4")).isNotNull();
  }

  @Test
  void aFollowerOfAnotherProcesssCompactionIsToldOnlyOfRealChanges() {
    JsonFileStore a = otherProcess("shared");
    JsonFileStore b = otherProcess("shared");
    for (int i = 0; i < 100; i++) {
      a.await(a.put("k" + i, json("{\"i\":" + i + "}")));
    }
    b.refresh();
    List<String> seenByB = new ArrayList<>();
    b.listeners().add(listenerRecording(seenByB));
    a.flush();
    b.refresh(); // follows the new journal and snapshot: the same content
    assertThat(seenByB).isEmpty();
    a.await(a.put("k1", json("\"changed\"")));
    b.refresh();
    assertThat(seenByB).containsExactly("k1");
    assertThat(b.size()).isEqualTo(100);
  }

  @Test
  void aReplaceIsSeenWholeOrNotAtAllAndSurvivesAsAWhole() {
    JsonFileStore a = otherProcess("shared");
    JsonFileStore b = otherProcess("shared");
    for (int i = 0; i < 50; i++) {
      a.await(a.put("old" + i, json("1")));
    }
    b.refresh();
    Map<String, byte[]> replacement = new java.util.LinkedHashMap<>();
    for (int i = 0; i < 500; i++) {
      replacement.put("new" + i, json("{\"i\":" + i + "}"));
    }
    long epoch = b.epoch();
    a.await(a.replaceAll(replacement));
    assertThat(a.size()).isEqualTo(500);
    assertThat(b.size()).as("before b reads anything: the old content").isEqualTo(50);
    b.refresh();
    assertThat(b.size()).as("after: the new content whole").isEqualTo(500);
    assertThat(b.get("old0")).isNull();
    assertThat(b.epoch()).isNotEqualTo(epoch);
    assertThat(otherProcess("shared").size()).isEqualTo(500);
  }

  @Test
  void otherProcessesChangesReachTheFrontTierWithinTheRefreshInterval() {
    AssetCache<Model> models = models().configure(b -> b.refreshInterval(Duration.ofMillis(20))).build();
    opened.add(models);
    models.add(Model.of("m1"));
    assertThat(models.get("m1").name()).isEqualTo("model m1"); // cached in the front tier
    JsonFileStore other = otherProcess("model");
    other.await(other.put("m1", "{\"id\":\"m1\",\"name\":\"changed\"}".getBytes(UTF_8)));
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5))
        .until(() -> "changed".equals(models.get("m1").name()));
  }

  // ---------------------------------------------------------------- the Python SDK rewriting its file

  /** What the Python SDK's save() does: truncate the file in place and dump its own view. */
  void pythonSaves(String name, long expiryMillis, Map<String, String> data) throws IOException {
    StringBuilder s = new StringBuilder("{\"expiry\": " + Snapshot.formatSeconds(expiryMillis) + ", \"data\": {");
    String sep = "";
    for (Map.Entry<String, String> e : data.entrySet()) {
      s.append(sep).append('"').append(e.getKey()).append("\": ").append(e.getValue());
      sep = ", ";
    }
    Files.writeString(dir.resolve(name + ".json"), s.append("}}"), UTF_8,
        StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
  }

  @Test
  void aStaleViewWrittenBackByPythonTakesNoAcknowledgedWrite() throws IOException {
    JsonFileStore java = otherProcess("shared");
    java.await(java.put("j1", json("{\"v\":1}")));
    java.flush();
    long expiry = java.expiresAtMillis();
    // A Python process loads this view now ...
    Map<String, String> pythonView = new java.util.LinkedHashMap<>(Map.of("j1", "{\"v\": 1}"));
    // ... Java changes j1, adds j2 and j3, compacts (the export now holds them), and closes.
    java.await(java.put("j1", json("{\"v\":2}")));
    java.await(java.put("j2", json("{\"v\":2}")));
    java.await(java.put("j3", json("{\"v\":3}")));
    java.close();
    opened.remove(java);
    // Python adds p1 and writes back its stale view, which lacks j2, j3 and has j1's old value.
    pythonView.put("p1", "{\"v\": 9}");
    pythonSaves("shared", expiry, pythonView);

    JsonFileStore reopened = otherProcess("shared");
    assertThat(reopened.get("p1")).as("the Python SDK's own add").isNotNull();
    assertThat(reopened.get("j2")).as("acknowledged, missing from the stale view").isNotNull();
    assertThat(reopened.get("j3")).isNotNull();
    assertThat(compactJson(reopened.get("j1")))
        .as("the stale view's old value is an echo of an earlier export, not a write").isEqualTo("{\"v\":2}");
    reopened.flush();
    assertThat(text("shared.json")).contains("\"p1\"", "\"j2\"", "\"j3\"");
  }

  @Test
  void aCacheFormat1WroteOpensAndItsEchoesStillTellAStaleViewFromAWrite() throws IOException {
    // Written by tiercache at d85b7d6, snapshot format 1 (FNV-1a echo hashes): a and b put as {"v":1} and
    // compacted, then a put as {"v":2} and compacted; the content expires in 2126.
    for (String f : List.of("legacy.snapshot", "legacy.journal", "legacy.json", "legacy.state")) {
      try (java.io.InputStream in = getClass().getResourceAsStream("format1/" + f)) {
        Files.copy(in, dir.resolve(f));
      }
      Files.setPosixFilePermissions(dir.resolve(f), PosixFilePermissions.fromString("rw-------"));
    }
    assertThat(snapshotFormat("legacy")).isEqualTo(1);
    long expiry = 4_949_910_941_782L;
    // A Python process that loaded the first export writes it back with an add of its own ...
    pythonSaves("legacy", expiry, Map.of("a", "{\"v\": 1}", "b", "{\"v\": 1}", "p1", "{\"v\": 9}"));
    JsonFileStore java = otherProcess("legacy");
    assertThat(java.get("p1")).as("the Python SDK's own add").isNotNull();
    assertThat(compactJson(java.get("a"))).as("found among format 1's echoes").isEqualTo("{\"v\":2}");
    // ... and again once a compaction wrote format 2, carrying format 1's echo hashes along.
    java.flush();
    assertThat(snapshotFormat("legacy")).isEqualTo(SnapshotFile.VERSION);
    pythonSaves("legacy", expiry, Map.of("a", "{\"v\": 1}", "b", "{\"v\": 1}", "p2", "{\"v\": 9}"));
    java.refresh();
    assertThat(java.get("p2")).isNotNull();
    assertThat(compactJson(java.get("a"))).as("found among the carried echoes").isEqualTo("{\"v\":2}");
    assertThat(warnings).noneMatch(w -> w.contains("damaged") || w.contains("corrupt"));
  }

  @Test
  void verifyReportsDamagedEchoHashesAndTheNextCompactionWritesThemWhole() throws IOException {
    JsonFileStore store = otherProcess("shared");
    store.await(store.put("k", json("{\"v\":1}")));
    store.flush();
    Path snapshot = dir.resolve("shared.snapshot");
    long echoes = java.nio.ByteBuffer.wrap(Files.readAllBytes(snapshot)).order(java.nio.ByteOrder.LITTLE_ENDIAN)
        .getLong(120);
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(snapshot, StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(new byte[] {0x55}), echoes + 3); // within the one echo hash
    }
    CacheFiles.Verification v = CacheFiles.verify(dir.resolve("shared.json"));
    assertThat(v.problems()).singleElement().asString().contains("echo hashes", "shared.snapshot", "checksum");
    store.await(store.put("k", json("{\"v\":2}")));
    store.flush();
    v = CacheFiles.verify(dir.resolve("shared.json"));
    assertThat(v.valid()).as(v.problems().toString()).isTrue();
  }

  int snapshotFormat(String name) throws IOException {
    return java.nio.ByteBuffer.wrap(Files.readAllBytes(dir.resolve(name + ".snapshot")))
        .order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(8);
  }

  @Test
  void aValuePythonChangedIsTakenAndAShorterExpiryToo() throws IOException {
    JsonFileStore java = otherProcess("shared");
    java.await(java.put("k", json("{\"v\":1}")));
    java.flush();
    long earlier = java.expiresAtMillis() - 60_000;
    pythonSaves("shared", earlier, Map.of("k", "{\"v\": \"python\"}"));
    java.refresh();
    assertThat(new String(java.get("k").bytes.toByteArray(), UTF_8)).contains("python");
    assertThat(java.expiresAtMillis()).isEqualTo(earlier);
    assertThat(warnings).noneMatch(w -> w.contains("damaged"));
  }

  @Test
  void pythonsInvalidateDeletesItsFilesAndTakesNothing() throws IOException {
    JsonFileStore java = otherProcess("shared");
    java.await(java.put("k", json("1")));
    java.flush();
    Files.delete(dir.resolve("shared.json"));
    Files.delete(dir.resolve("shared.lock"));
    java.refresh();
    assertThat(java.get("k")).isNotNull();
    java.flush();
    assertThat(text("shared.json")).contains("\"k\"");
  }

  // ---------------------------------------------------------------- stale content

  @Test
  void anExpiredContentIsKeptForTheGraceAcrossARestartAndNotAfter() {
    JsonFileStore a = otherProcess("s", b -> b.expireAfter(Duration.ofMinutes(1)).staleIfError(Duration.ofMinutes(5)));
    a.await(a.put("k", json("\"old\"")));
    clock.advance(Duration.ofMinutes(2));
    assertThat(a.get("k")).isNull();
    assertThat(a.getStale("k")).isNotNull();
    a.await(a.put("other", json("1"))); // a new period starts; the expired one is kept as stale
    assertThat(a.getStale("k")).isNotNull();
    a.flush();
    opened.remove(a);
    a.close();
    JsonFileStore b = otherProcess("s", x -> x.expireAfter(Duration.ofMinutes(1)).staleIfError(Duration.ofMinutes(5)));
    assertThat(b.get("k")).isNull();
    assertThat(b.getStale("k")).as("kept in the snapshot").isNotNull();
    clock.advance(Duration.ofMinutes(5));
    assertThat(b.getStale("k")).as("past the grace").isNull();
  }

  // ---------------------------------------------------------------- recovery

  @Test
  void aCompactorKilledBetweenItsRenamesIsRepairedAtTheNextOpen() throws IOException {
    JsonFileStore a = otherProcess("shared");
    for (int i = 0; i < 20; i++) {
      a.await(a.put("k" + i, json("1")));
    }
    Path journal = dir.resolve("shared.journal");
    byte[] oldJournal = Files.readAllBytes(journal);
    a.flush();
    // Put the old journal back: the snapshot was renamed, the journal was not (a kill between).
    Files.write(journal, oldJournal);
    opened.remove(a);
    JsonFileStore reopened = otherProcess("shared");
    assertThat(reopened.size()).isEqualTo(20);
    reopened.await(reopened.put("after", json("1")));
    assertThat(otherProcess("shared").size()).isEqualTo(21);
  }

  /** A bit flipped in the header line loses none of the records after it; the file is kept aside. */
  @Test
  void aJournalWhoseHeaderLineIsDamagedLosesNoRecordAndIsKeptAside() throws IOException {
    JsonFileStore a = otherProcess("shared");
    for (int i = 0; i < 5; i++) {
      a.await(a.put("k" + i, json("1")));
    }
    a.await(a.remove("k0")); // a stays open: closing would compact them into the snapshot
    Path journal = dir.resolve("shared.journal");
    byte[] bytes = Files.readAllBytes(journal);
    bytes[0] ^= 0x01; // the header's checksum
    Files.write(journal, bytes);
    JsonFileStore reopened = otherProcess("shared");
    assertThat(keys(reopened)).containsExactlyInAnyOrder("k1", "k2", "k3", "k4");
    assertThat(corruptCopies("shared.journal.corrupt-")).singleElement()
        .satisfies(p -> assertThat(Files.readAllBytes(p)).isEqualTo(bytes));
    CacheFiles.Verification v = CacheFiles.verify(dir.resolve("shared.json"));
    assertThat(v.valid()).as(v.problems().toString()).isTrue();
  }

  /**
   * The journal a replace sealed, back in place (a compactor killed between its renames) and with a
   * damaged header: its seal says it is the old one, and none of the replaced entries come back.
   */
  @Test
  void aHeaderlessJournalSealedIntoAReplacementResurrectsNothing() throws IOException {
    JsonFileStore a = otherProcess("shared");
    for (int i = 0; i < 5; i++) {
      a.await(a.put("old" + i, json("1")));
    }
    Path journal = dir.resolve("shared.journal");
    byte[] old;
    try (java.nio.channels.FileChannel before = java.nio.channels.FileChannel.open(journal)) {
      a.await(a.replaceAll(Map.of("new", json("2"))));
      java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate((int) before.size());
      before.read(buf, 0);
      old = buf.array(); // with the seal the replace appended
    }
    opened.remove(a);
    a.close();
    old[0] ^= 0x01;
    Files.write(journal, old);
    JsonFileStore reopened = otherProcess("shared");
    assertThat(keys(reopened)).containsExactly("new");
    assertThat(CacheFiles.contents(dir.resolve("shared.json")).entries()).containsOnlyKeys("new");
  }

  @Test
  void aSwitchAbandonedAfterItsSealLosesNothing() throws Exception {
    JsonFileStore a = otherProcess("shared");
    a.await(a.put("k1", json("1")));
    // A compactor that announced its switch and sealed the journal, then died before any rename.
    try (StateFile dead = new StateFile(dir.resolve("shared.state"), FileOps.ownerOnly(), Duration.ofSeconds(5));
        JournalFile journal = JournalFile.open(dir.resolve("shared.journal"), FileOps.ownerOnly())) {
      dead.lock();
      dead.beginSwitch(dead.generation() + 1);
      journal.append(Journal.seal(dead.generation() + 1, "dead", 0));
    } // its lock is released; its announcement stays
    JsonFileStore b = otherProcess("shared"); // takes the lock, finds the switch dead, voids it
    b.await(b.put("k2", json("2"))); // after the void seal
    a.await(a.put("k3", json("3")));
    a.refresh(); // reads on past the void seal
    assertThat(a.get("k2")).isNotNull();
    b.refresh();
    assertThat(b.get("k3")).isNotNull();
    JsonFileStore c = otherProcess("shared");
    assertThat(c.size()).isEqualTo(3);
    c.flush();
    assertThat(otherProcess("shared").size()).isEqualTo(3);
  }

  @Test
  void aWriteThatFailsOnAFullDiskIsUndoneNeverServedAndNeverWrittenLater() throws Exception {
    Path mount = Files.createDirectory(dir.resolve("small"));
    org.junit.jupiter.api.Assumptions.assumeTrue(run("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs",
        mount.toString()) == 0, "mounting a tmpfs needs root: " + mount);
    try {
      JsonFileStore store = JsonFileStore.open(TieredCache.builder(String.class, Model.class).directory(mount)
          .name("full").expireAfter(TTL).clock(clock).refreshInterval(Duration.ZERO).compactionMinBytes(1 << 30)
          .config().store());
      Path ballast = mount.resolve("ballast");
      Files.write(ballast, new byte[200 << 10]);
      String big = "\"" + "x".repeat(2_000) + "\"";
      List<String> acked = new ArrayList<>();
      String failed = null;
      for (int i = 0; i < 1_000 && failed == null; i++) {
        try {
          store.await(store.put("k" + i, json(big)));
          acked.add("k" + i);
        } catch (CacheException e) {
          failed = "k" + i;
          assertThat(e.getMessage()).contains("full.journal");
        }
      }
      assertThat(failed).as("the disk filled").isNotNull();
      assertThat(store.get(failed)).as("a failed put is not served").isNull();
      Files.delete(ballast);
      store.await(store.put("after", json("1")));
      store.close();
      JsonFileStore reopened = JsonFileStore.open(TieredCache.builder(String.class, Model.class).directory(mount)
          .name("full").expireAfter(TTL).clock(clock).refreshInterval(Duration.ZERO).config().store());
      try {
        assertThat(reopened.get(failed)).as("never written later").isNull();
        for (String k : acked) {
          assertThat(reopened.get(k)).as(k).isNotNull();
        }
        assertThat(reopened.get("after")).isNotNull();
      } finally {
        reopened.close();
      }
    } finally {
      run("umount", "-l", mount.toString());
    }
  }

  /**
   * A compaction failing on a full disk frees its temporary file's blocks before it throws: a mapping
   * left to the garbage collector keeps an unlinked file's blocks, and each failed flush would take
   * more of the room the appends need. The control shows the measure sees such a mapping.
   */
  @Test
  void aCompactionThatFailsOnAFullDiskGivesItsSpaceBackAtOnce() throws Exception {
    Path mount = Files.createDirectory(dir.resolve("small"));
    org.junit.jupiter.api.Assumptions.assumeTrue(run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs",
        mount.toString()) == 0, "mounting a tmpfs needs root: " + mount);
    try {
      java.nio.file.FileStore disk = Files.getFileStore(mount);
      JsonFileStore store = JsonFileStore.open(TieredCache.builder(String.class, Model.class).directory(mount)
          .name("full").expireAfter(TTL).clock(clock).refreshInterval(Duration.ZERO).compactionMinBytes(1 << 30)
          .config().store());
      String value = "\"" + "x".repeat(1_000) + "\"";
      for (int i = 0; i < 300; i++) {
        store.await(store.put("k" + i, json(value)));
      }
      Files.write(mount.resolve("ballast"), new byte[(int) (disk.getUsableSpace() - (100 << 10))]);
      long free = disk.getUsableSpace();
      for (int i = 0; i < 5; i++) {
        assertThatThrownBy(store::flush).isInstanceOf(CacheException.class).hasMessageContaining("full.snapshot");
        assertThat(disk.getUsableSpace()).as("free after failed flush " + i).isGreaterThanOrEqualTo(free);
      }
      store.await(store.put("after", json(value)));

      Path leaked = mount.resolve("control");
      try (java.nio.channels.FileChannel c = java.nio.channels.FileChannel.open(leaked,
          java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.READ,
          java.nio.file.StandardOpenOption.WRITE)) {
        java.nio.MappedByteBuffer mapping = c.map(java.nio.channels.FileChannel.MapMode.READ_WRITE, 0, 64 << 10);
        for (int at = 0; at < mapping.capacity(); at += 4096) {
          mapping.put(at, (byte) 1);
        }
        long before = disk.getUsableSpace();
        c.close();
        Files.delete(leaked);
        assertThat(disk.getUsableSpace()).as("control: an unlinked file still mapped keeps its blocks")
            .isLessThanOrEqualTo(before);
        Mapped.unmap(mapping);
        assertThat(disk.getUsableSpace()).as("control: unmapped, they are free").isGreaterThan(before);
      }
      Files.delete(mount.resolve("ballast"));
      store.close(); // compacts
    } finally {
      run("umount", "-l", mount.toString());
    }
  }

  /**
   * FSYNC's promise, with a real power loss ({@link PowerLossDisk}: ext4 on a loop device): every
   * acknowledged put, before and after a compaction, is on the disk. {@code WRITE}, which forces
   * nothing but its compactions, is the broken variant: it loses the puts made after the last one.
   */
  @ParameterizedTest
  @EnumSource(value = Durability.class, names = {"FSYNC", "WRITE"})
  void everyPutAnFsyncAcknowledgedSurvivesAPowerLoss(Durability durability) throws Exception {
    try (PowerLossDisk disk = PowerLossDisk.create(dir, "disk", 64)) {
      JsonFileStore store = otherProcess("models", b -> b.directory(disk.mount).durability(durability));
      for (int i = 0; i < 200; i++) {
        store.await(store.put("k" + i, json("{\"n\":" + i + "}")));
        if (i == 99) {
          store.flush(); // a compaction: the snapshot renamed into place, a new journal
        }
      }
      int survived = 0;
      try (PowerLossDisk rebooted = disk.cut(dir, "rebooted")) {
        JsonFileStore reopened = JsonFileStore.open(TieredCache.builder(String.class, Model.class)
            .directory(rebooted.mount).name("models").expireAfter(TTL).clock(clock).config().store());
        for (int i = 0; i < 200; i++) {
          PersistentStore.Value held = reopened.get("k" + i);
          if (held != null) {
            assertThat(new String(held.bytes.toByteArray(), UTF_8).replaceAll("\\s", "")).isEqualTo("{\"n\":" + i + "}");
            survived++;
          }
        }
        reopened.close();
      } finally {
        store.close();
        opened.remove(store);
      }
      if (durability == Durability.FSYNC) {
        assertThat(survived).isEqualTo(200);
      } else {
        assertThat(survived).as("the broken variant keeps what its compaction forced, loses what came after")
            .isGreaterThanOrEqualTo(100).isLessThan(200);
      }
    }
  }

  static int run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    try {
      return p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS) ? p.exitValue() : -1;
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void aDamagedSnapshotEntryIsNeverServedAndIsRebuiltFromTheExportAndTheJournal() throws Exception {
    JsonFileStore a = otherProcess("shared");
    for (int i = 0; i < 50; i++) {
      a.await(a.put("k" + i, json("{\"n\":" + (1000 + i) + "}")));
    }
    a.flush();
    a.await(a.put("after", json("1"))); // in the journal only
    opened.remove(a);
    a.close();
    Path snapshot = dir.resolve("shared.snapshot");
    byte[] b = Files.readAllBytes(snapshot);
    int at = new String(b, UTF_8).indexOf("1007");
    b[at + 3] = '9'; // k7's value, still valid JSON
    Files.write(snapshot, b);

    JsonFileStore reopened = otherProcess("shared");
    assertThat(reopened.get("k7")).as("never the damaged value").isNull();
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> {
      reopened.refresh();
      return reopened.get("k7") != null;
    });
    assertThat(compactJson(reopened.get("k7"))).isEqualTo("{\"n\":1007}");
    assertThat(reopened.size()).isEqualTo(51);
    assertThat(corruptCopies("shared.snapshot.corrupt-")).hasSize(1);
    assertThat(Files.readAllBytes(corruptCopies("shared.snapshot.corrupt-").get(0))).isEqualTo(b);
    assertThat(warnings).anyMatch(w -> w.contains("fails its checksum"));
  }

  @Test
  void aSnapshotOfANewerFormatIsRefusedAndLeftAlone() throws IOException {
    JsonFileStore a = otherProcess("shared");
    a.await(a.put("k", json("1")));
    a.flush();
    opened.remove(a);
    a.close();
    Path snapshot = dir.resolve("shared.snapshot");
    byte[] b = Files.readAllBytes(snapshot);
    b[8] = 7;
    Files.write(snapshot, b);
    assertThatThrownBy(() -> otherProcess("shared")).isInstanceOf(CacheException.class)
        .hasMessageContaining("format 7").hasMessageContaining("newer tiercache");
    assertThat(Files.readAllBytes(snapshot)).isEqualTo(b);
  }

  private static PersistentStore.Listener listenerRecording(List<String> keys) {
    return new PersistentStore.Listener() {
      @Override public void invalidate(String key) {
        keys.add(key);
      }

      @Override public void invalidateAll() {
        keys.add("*");
      }
    };
  }

  @Test
  void namesWithGlobCharactersWork() {
    for (String name : List.of("model[1", "a{b", "x*y")) {
      AssetCache<Model> cache = models().cacheFilename(name).build();
      cache.add(Model.of("a"));
      cache.close();
      assertThat(dir.resolve(name + ".json")).exists();
    }
  }

  @Test
  void leftoverTemporaryFilesAreRemovedAtOpen() throws IOException {
    Files.writeString(dir.resolve("model.json.123.tmp"), "half a snapshot");
    Files.writeString(dir.resolve("model.snapshot.456.tmp"), "half a snapshot");
    open();
    assertThat(dir.resolve("model.json.123.tmp")).doesNotExist();
    assertThat(dir.resolve("model.snapshot.456.tmp")).doesNotExist();
  }

  static List<String> keys(PersistentStore store) {
    List<String> keys = new ArrayList<>();
    store.forEach((k, v) -> keys.add(k));
    return keys;
  }

  private List<Path> corruptCopies(String prefix) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.getFileName().toString().startsWith(prefix)).sorted().toList();
    }
  }
}
