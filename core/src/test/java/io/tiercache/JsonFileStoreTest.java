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

/** The file store: the Python SDK's format both ways, damaged files, the journal, the lock. */
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
    JsonFileStore store = JsonFileStore.open(TieredCache.builder(String.class, Model.class).directory(dir).name(name)
        .expireAfter(TTL).clock(clock).refreshInterval(Duration.ZERO).config().store());
    opened.add(store);
    return store;
  }

  String text(String file) throws IOException {
    return Files.readString(dir.resolve(file), UTF_8);
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
        + "        \"version\": 1,\n"
        + "        \"generation\": 1\n"
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
  void aTornLastJournalLineIsDroppedAndADamagedMiddleLineIsSkipped() throws IOException {
    AssetCache<Model> models = open();
    models.add(Model.of("a"));
    models.add(Model.of("b"));
    models.add(Model.of("c"));
    models.close();
    opened.remove(models);
    // The files as a killed process leaves them: uncompacted journal. Rebuild them by hand.
    JsonFileStore raw = otherProcess("model");
    raw.put("x", "{\"id\":\"x\"}".getBytes(UTF_8));
    raw.await(raw.put("y", "{\"id\":\"y\"}".getBytes(UTF_8)));
    raw.put("z", "{\"id\":\"z\"}".getBytes(UTF_8));
    raw.await(raw.put("w", "{\"id\":\"w\"}".getBytes(UTF_8)));
    Path journal = dir.resolve("model.journal");
    List<String> lines = new ArrayList<>(Files.readAllLines(journal, UTF_8));
    // lines: header, x, y, z, w. Damage y's body; tear a copy of w at the end.
    lines.set(2, lines.get(2).replace("\"y\"", "\"Y\""));
    String torn = lines.get(4).substring(0, 15);
    Files.writeString(journal, String.join("\n", lines) + "\n" + torn, UTF_8);
    opened.remove(raw);
    raw.abandon(); // as a killed process leaves it: no flush, no compaction

    AssetCache<Model> reopened = open();
    assertThat(reopened.store().data().keySet()).contains("a", "b", "c", "x", "z", "w").doesNotContain("y");
    assertThat(warnings).anyMatch(w -> w.contains("model.journal") && w.contains("checksum mismatch"));
    assertThat(Files.readString(journal)).doesNotEndWith(torn);
    reopened.save();
    assertThat(corruptCopies("model.journal.corrupt-")).hasSize(1);
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
  void aLockHeldElsewhereTimesOutNamingTheLockFile() {
    AssetCache<Model> models = models().configure(b -> b.lockTimeout(Duration.ofMillis(200))).build();
    opened.add(models);
    LockFile holder = new LockFile(models.lockFile(), Duration.ofSeconds(1), FileOps.ownerOnly());
    holder.lock();
    try {
      assertThatThrownBy(() -> models.add(Model.of("m1")))
          .isInstanceOf(LockTimeoutException.class)
          .hasMessageContaining(models.lockFile().toString())
          .hasMessageContaining("process " + ProcessHandle.current().pid());
    } finally {
      holder.close();
    }
    models.add(Model.of("m1")); // and it works once the holder lets go
    assertThat(models.get("m1")).isNotNull();
  }

  @Test
  void theLockFileIsNeverDeletedAndAnUnlinkedOneIsReplaced() throws IOException {
    AssetCache<Model> models = open();
    models.add(Model.of("a"));
    Object key = Files.readAttributes(models.lockFile(), java.nio.file.attribute.BasicFileAttributes.class).fileKey();
    models.invalidate();
    models.save();
    assertThat(Files.readAttributes(models.lockFile(), java.nio.file.attribute.BasicFileAttributes.class).fileKey())
        .isEqualTo(key);
    Files.delete(models.lockFile()); // what the Python SDK's invalidate() does
    // The next acquisition (at most one 5 ms lock lease later) notices and locks a new file.
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> {
      models.add(Model.of("b"));
      return Files.exists(models.lockFile());
    });
    assertThat(models.get("b")).isNotNull();
  }

  @Test
  void filesAreOwnerOnlyByDefaultAndConfigurable() throws IOException {
    Path sub = dir.resolve("private");
    AssetCache<Model> models = models().configure(b -> b.directory(sub)).build();
    opened.add(models);
    models.add(Model.of("a"));
    models.save();
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(sub))).isEqualTo("rwx------");
    for (String f : List.of("model.json", "model.journal", "model.lock")) {
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

  @Test
  void anExpiredFileIsReplacedAtOpenNotServed() throws IOException {
    String expired = "{\"expiry\": 1000.5, \"data\": {\"m1\": {\"id\": \"m1\"}}}";
    Files.writeString(dir.resolve("model.json"), expired, UTF_8);
    AssetCache<Model> models = open();
    assertThat(models.get("m1")).isNull();
    assertThat(text("model.json")).doesNotContain("\"m1\"")
        .contains("\"expiry\": " + Snapshot.formatSeconds(clock.millis() + TTL.toMillis()));
  }

  // ---------------------------------------------------------------- the journal and other processes

  @Test
  void anAddAppendsOneLineAndLeavesTheSnapshotAlone() throws IOException {
    AssetCache<Model> models = open();
    models.add(Model.of("seed"));
    models.save();
    Object snapshotKey = Files.readAttributes(models.cacheFile(), java.nio.file.attribute.BasicFileAttributes.class)
        .fileKey();
    long before = Files.readAllLines(dir.resolve("model.journal")).size();
    for (int i = 0; i < 100; i++) {
      models.add(Model.of("m" + i));
    }
    assertThat(Files.readAllLines(dir.resolve("model.journal"))).hasSize((int) before + 100);
    assertThat(Files.readAttributes(models.cacheFile(), java.nio.file.attribute.BasicFileAttributes.class).fileKey())
        .isEqualTo(snapshotKey);
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
    a.flush(); // compaction by one process; the other follows the new journal without a reload
    b.await(b.put("after", "1".getBytes(UTF_8)));
    a.refresh();
    assertThat(a.get("after")).isNotNull();
    assertThat(b.get("k0")).isNotNull();
  }

  @Test
  void writesMadeWhileACompactionRendersAreCarriedIntoTheNewJournal() throws Exception {
    JsonFileStore a = otherProcess("shared");
    JsonFileStore b = otherProcess("shared");
    for (int i = 0; i < 100; i++) {
      a.await(a.put("k" + i, ("{\"i\":" + i + "}").getBytes(UTF_8)));
    }
    JsonFileStore.Compaction rendered = a.prepareCompaction();
    // No lock is held between the halves: both "processes" keep writing.
    b.await(b.put("b-during", "1".getBytes(UTF_8)));
    a.await(a.put("a-during", "2".getBytes(UTF_8)));
    a.await(a.remove("k0"));
    b.refresh();
    List<String> seenByB = new ArrayList<>();
    b.listeners().add(listenerRecording(seenByB));

    a.commitCompaction(rendered);

    assertThat(Snapshot.parse(Files.readAllBytes(dir.resolve("shared.json")), (int) Files.size(dir.resolve("shared.json")))
        .entries).containsKey("k0").doesNotContainKey("b-during").hasSize(100);
    assertThat(text("shared.journal")).contains("b-during", "a-during", "[\"r\",\"k0\"]");
    b.refresh(); // follows the new journal: the carried lines are ones it has applied already
    assertThat(seenByB).isEmpty();
    b.await(b.put("b-after", "3".getBytes(UTF_8)));
    a.refresh();
    assertThat(a.get("b-after")).isNotNull();
    assertThat(b.get("a-during")).isNotNull();
    assertThat(b.get("k0")).isNull();

    JsonFileStore reopened = otherProcess("shared"); // replays the carried lines over the snapshot
    assertThat(reopened.size()).isEqualTo(102);
    assertThat(reopened.get("k0")).isNull();
    assertThat(reopened.get("b-during")).isNotNull();
    assertThat(reopened.get("a-during")).isNotNull();
    assertThat(CacheFiles.verify(dir.resolve("shared.json")).valid()).isTrue();
  }

  @Test
  void aRenderingOvertakenByAnotherCompactionIsDroppedWithItsTemporaryFile() throws IOException {
    JsonFileStore a = otherProcess("shared");
    JsonFileStore b = otherProcess("shared");
    a.await(a.put("a", "1".getBytes(UTF_8)));
    JsonFileStore.Compaction rendered = a.prepareCompaction();
    b.await(b.put("b", "2".getBytes(UTF_8)));
    b.flush(); // compacts first
    a.commitCompaction(rendered);
    assertThat(temporaries()).isEmpty();
    assertThat(text("shared.json")).contains("\"a\"", "\"b\"");
    assertThat(otherProcess("shared").size()).isEqualTo(2);
  }

  @Test
  void aRenderingOvertakenByAPythonRewriteIsDropped() throws IOException {
    JsonFileStore a = otherProcess("shared");
    a.await(a.put("java-1", "{\"id\":\"java-1\"}".getBytes(UTF_8)));
    JsonFileStore.Compaction rendered = a.prepareCompaction();
    Files.writeString(dir.resolve("shared.json"), "{\"expiry\": " + Snapshot.formatSeconds(clock.millis() + 60_000)
        + ", \"data\": {\"py-1\": {\"id\": \"py-1\"}}}", UTF_8);
    a.commitCompaction(rendered);
    assertThat(temporaries()).isEmpty();
    assertThat(a.get("py-1")).isNotNull();
    assertThat(a.get("java-1")).isNotNull(); // acknowledged in the journal, which still applies
  }

  @Test
  void aRenderingsTemporaryFileIsNotRemovedByAProcessOpeningMeanwhile() {
    JsonFileStore a = otherProcess("shared");
    a.await(a.put("a", "1".getBytes(UTF_8)));
    a.await(a.put("b", "2".getBytes(UTF_8)));
    JsonFileStore.Compaction rendered = a.prepareCompaction();
    otherProcess("shared"); // removes only temporaries whose writer is gone
    assertThat(rendered.temporary.path).exists();
    a.commitCompaction(rendered);
    assertThat(warnings).noneMatch(w -> w.contains("left by an interrupted write"));
    a.await(a.put("c", "3".getBytes(UTF_8)));
    assertThat(otherProcess("shared").size()).isEqualTo(3);
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

  private List<Path> temporaries() throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList();
    }
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

  @Test
  void aSnapshotRewrittenByPythonIsReloadedAndOurJournalStillApplies() throws IOException {
    AssetCache<Model> models = models().configure(b -> b.refreshInterval(Duration.ZERO)).build();
    opened.add(models);
    models.add(Model.of("java-1"));
    // The Python SDK rewrites the snapshot from its own view, unaware of our journal.
    Files.writeString(models.cacheFile(), "{\"expiry\": " + Snapshot.formatSeconds(clock.millis() + 60_000)
        + ", \"data\": {\"py-1\": {\"id\": \"py-1\"}}}", UTF_8);
    models.load();
    assertThat(models.get("py-1")).isNotNull();
    assertThat(models.get("java-1")).isNotNull(); // acknowledged, so it survives
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
    open();
    assertThat(dir.resolve("model.json.123.tmp")).doesNotExist();
  }

  private List<Path> corruptCopies(String prefix) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.getFileName().toString().startsWith(prefix)).sorted().toList();
    }
  }
}
