package io.tiercache.stress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tiercache.CacheException;
import io.tiercache.CacheFiles;
import io.tiercache.StoreSpec;
import io.tiercache.TieredCache;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The tooling API the CLI uses, including its safety next to writers in other processes. */
class CacheFilesTest {
  @TempDir Path dir;

  static TieredCache<String, Record> open(Path dir, String name) {
    return TieredCache.builder(String.class, Record.class).directory(dir).name(name)
        .expireAfter(Duration.ofHours(1)).refreshInterval(Duration.ofMillis(50)).build();
  }

  @Test
  void inspectCountsSnapshotAndJournalAndTheLiveView() throws Exception {
    try (TieredCache<String, Record> c = open(dir, "x")) {
      for (int i = 0; i < 10; i++) {
        c.put("a" + i, Record.of("a" + i, "w", i));
      }
      c.flush();
      c.put("b", Record.of("b", "w", 0));
      c.invalidate("a0");
      CacheFiles.Inspection i = CacheFiles.inspect(dir.resolve("x.journal"));
      assertThat(i.snapshotEntries()).isEqualTo(10);
      assertThat(i.puts()).isEqualTo(1);
      assertThat(i.removes()).isEqualTo(1);
      assertThat(i.liveEntries()).isEqualTo(10);
      assertThat(i.journalBase()).isEqualTo(i.generation());
      assertThat(i.damagedLines()).isEmpty();
      assertThat(i.expired()).isFalse();
      assertThat(CacheFiles.contents(dir.resolve("x")).entries()).containsKey("b").doesNotContainKey("a0");
    }
  }

  @Test
  void aTornLastLineIsANoteNotAnError() throws Exception {
    try (TieredCache<String, Record> c = open(dir, "x")) {
      c.put("a", Record.of("a", "w", 0));
    }
    Files.writeString(dir.resolve("x.journal"), "0123abcd [\"p\",\"b\",{\"id", StandardCharsets.US_ASCII,
        StandardOpenOption.APPEND);
    CacheFiles.Verification v = CacheFiles.verify(dir.resolve("x.json"));
    assertThat(v.valid()).as(v.problems().toString()).isTrue();
    assertThat(v.inspection().tornTailBytes()).isPositive();
    assertThat(v.notes()).anyMatch(n -> n.contains("incomplete write"));
  }

  @Test
  void importIsSafeNextToWritersInOtherProcesses() throws Exception {
    Path seed = dir.resolve("seed.json");
    StringBuilder s = new StringBuilder("{\"expiry\": 4102444800.5, \"data\": {");
    for (int i = 0; i < 500; i++) {
      s.append(i == 0 ? "" : ", ").append("\"imported-").append(i).append("\": {\"id\": \"imported-").append(i)
          .append("\", \"writer\": \"py\", \"sequence\": ").append(i).append(", \"payload\": \"p\"}");
    }
    Files.writeString(seed, s.append("}}").toString());
    Path cacheDir = Files.createDirectory(dir.resolve("c"));
    List<Process> writers = new ArrayList<>();
    try {
      for (int w = 0; w < 2; w++) {
        writers.add(Children.start(MultiProcess.class, List.of("--mode", "writer", "--dir", cacheDir.toString(),
            "--writer", "w" + w, "--adds", "400")));
      }
      for (int w = 0; w < 2; w++) { // the writers' start barrier (see MultiProcess.await)
        while (!Files.exists(cacheDir.resolve("ready-w" + w))) {
          assertThat(writers.get(w).isAlive()).as("writer w" + w + " alive").isTrue();
          Thread.sleep(5);
        }
      }
      Files.writeString(cacheDir.resolve("go"), "go");
      CacheFiles.Import imported = CacheFiles.importFile(seed, cacheDir, MultiProcess.NAME, StoreSpec.jsonFiles(),
          false, null, Duration.ofSeconds(30));
      assertThat(imported.entries()).isEqualTo(500);
      for (Process w : writers) {
        assertThat(w.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(w.exitValue()).isZero();
      }
    } finally {
      Children.killAll(writers);
    }
    CacheFiles.Compaction c = CacheFiles.compact(cacheDir, MultiProcess.NAME, Duration.ofSeconds(30));
    assertThat(c.entries()).isEqualTo(500 + 2 * 400);
    assertThat(CacheFiles.verify(cacheDir.resolve(MultiProcess.NAME + ".json")).valid()).isTrue();
  }

  @Test
  void namesWithGlobCharactersWork() {
    for (String name : new String[] {"model[1", "a{b", "x*y", "q?"}) {
      try (TieredCache<String, Record> c = open(dir, name)) {
        c.put("a", Record.of("a", "w", 1));
      }
      CacheFiles.Verification v = CacheFiles.verify(dir.resolve(name + ".json"));
      assertThat(v.valid()).as(name + ": " + v.problems()).isTrue();
      assertThat(v.inspection().liveEntries()).as(name).isEqualTo(1);
      assertThat(v.inspection().temporaries()).as(name).isEmpty();
    }
  }

  @Test
  void badArguments() {
    assertThatThrownBy(() -> CacheFiles.importFile(dir.resolve("missing.json"), dir, "x", StoreSpec.jsonFiles(),
        false, null, Duration.ofSeconds(1))).isInstanceOf(CacheException.class).hasMessageContaining("no such file");
    assertThatThrownBy(() -> CacheFiles.importFile(dir.resolve("missing.json"), dir, "x",
        StoreSpec.chronicleMap(1_024, 64), false, null, Duration.ofSeconds(1)))
        .isInstanceOf(CacheException.class).hasMessageContaining("no such file");
    assertThatThrownBy(() -> CacheFiles.export(dir, "../x", dir.resolve("o.json"), StoreSpec.chronicleMap(1_024, 64),
        Duration.ofSeconds(1))).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> StoreSpec.chronicleMap(0, 64)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("entries=0");
    assertThatThrownBy(() -> CacheFiles.compact(dir, "../x", Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
