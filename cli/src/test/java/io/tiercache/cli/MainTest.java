package io.tiercache.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.tiercache.CacheFiles;
import io.tiercache.StoreSpec;
import io.tiercache.TieredCache;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class MainTest {
  public record Model(String id, String name, double version) {}

  @TempDir Path dir;

  record Run(int code, String out, String err) {}

  static Run run(String... args) {
    CommandLine cl = Main.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  void fill(String name, int n) {
    try (TieredCache<String, Model> c = TieredCache.builder(String.class, Model.class).directory(dir).name(name)
        .expireAfter(Duration.ofHours(1)).build()) {
      for (int i = 0; i < n; i++) {
        c.put("m" + i, new Model("m" + i, "modèle " + i, i + 0.5));
      }
    }
  }

  @Test
  void inspectAndVerifyAValidCache() {
    fill("model", 5);
    Run inspect = run("inspect", dir.resolve("model.json").toString());
    assertThat(inspect.code()).as(inspect.err()).isZero();
    assertThat(inspect.out()).contains("5 entries").contains("generation").contains("journal");
    Run verify = run("verify", dir.resolve("model.json").toString());
    assertThat(verify.code()).as(verify.err()).isZero();
    assertThat(verify.out()).startsWith("valid: ");
  }

  @Test
  void verifyFailsWithTheReasonOnADamagedJournalLine() throws Exception {
    fill("model", 3);
    Path journal = dir.resolve("model.journal");
    Files.writeString(journal, "00000000 [\"p\",\"x\",{}]\n", StandardCharsets.US_ASCII,
        java.nio.file.StandardOpenOption.APPEND);
    Run verify = run("verify", journal.toString());
    assertThat(verify.code()).isEqualTo(1);
    assertThat(verify.err()).contains("damaged line at byte").contains("checksum mismatch");
  }

  @Test
  void verifyFailsOnATruncatedSnapshotAndOnMissingFiles() throws Exception {
    fill("model", 3);
    Path snapshot = dir.resolve("model.snapshot");
    byte[] bytes = Files.readAllBytes(snapshot);
    Files.write(snapshot, java.util.Arrays.copyOf(bytes, bytes.length / 2));
    Run verify = run("verify", dir.resolve("model.json").toString());
    assertThat(verify.code()).isEqualTo(1);
    assertThat(verify.err()).contains("model.snapshot").contains("cannot be used");
    Run missing = run("verify", dir.resolve("nothing.json").toString());
    assertThat(missing.code()).isEqualTo(1);
    assertThat(missing.err()).contains("no cache files");
  }

  @Test
  void compactFoldsTheJournal() {
    try (TieredCache<String, Model> c = TieredCache.builder(String.class, Model.class).directory(dir).name("model")
        .expireAfter(Duration.ofHours(1)).build()) {
      c.put("a", new Model("a", "x", 1));
      Run compact = run("compact", dir.toString(), "model");
      assertThat(compact.code()).as(compact.err()).isZero();
      assertThat(compact.out()).contains("1 entries");
      assertThat(CacheFiles.inspect(dir.resolve("model.json")).snapshotEntries()).isEqualTo(1);
    }
  }

  @Test
  void exportThenImportIntoAnotherCacheKeepsEveryEntry() throws Exception {
    fill("model", 20);
    Path export = dir.resolve("out/export.json");
    Run e = run("export", dir.toString(), "model", "--to", export.toString());
    assertThat(e.code()).as(e.err()).isZero();
    assertThat(e.out()).contains("exported 20 entries");
    String text = Files.readString(export);
    assertThat(text).startsWith("{\n    \"expiry\": ").contains("\"data\": {").contains("mod\\u00e8le");
    Run i = run("import", export.toString(), dir.toString(), "copy");
    assertThat(i.code()).as(i.err()).isZero();
    assertThat(CacheFiles.contents(dir.resolve("copy.json")).entries()).hasSize(20);
    try (TieredCache<String, Model> c = TieredCache.builder(String.class, Model.class).directory(dir).name("copy")
        .expireAfter(Duration.ofHours(1)).build()) {
      assertThat(c.getIfPresent("m7")).isEqualTo(new Model("m7", "modèle 7", 7.5));
    }
  }

  @Test
  void importReplaceAndAnExpiredFile() throws Exception {
    fill("model", 3);
    Path seed = dir.resolve("seed.json");
    Files.writeString(seed, "{\"expiry\": 1.5, \"data\": {\"z\": {\"id\": \"z\", \"name\": \"n\", \"version\": 1.0}}}");
    Run expired = run("import", seed.toString(), dir.toString(), "model");
    assertThat(expired.code()).isEqualTo(1);
    assertThat(expired.err()).contains("expired");
    Run replaced = run("import", seed.toString(), dir.toString(), "model", "--replace", "--expire-after", "2h");
    assertThat(replaced.code()).as(replaced.err()).isZero();
    assertThat(CacheFiles.contents(dir.resolve("model.json")).entries()).containsOnlyKeys("z");
  }

  @Test
  void exportAndImportMoveACacheBetweenTheStores() throws Exception {
    fill("model", 3);
    Path exported = dir.resolve("x.json");
    assertThat(run("export", dir.toString(), "model", "--to", exported.toString()).code()).isZero();
    Run in = run("import", exported.toString(), dir.toString(), "shared", "--store", "chronicle", "--replace",
        "--expire-after", "1h");
    assertThat(in.code()).as(in.err()).isZero();
    assertThat(in.out()).contains("with 3 entries", dir.resolve("shared.cmap").toString());
    try (TieredCache<String, Model> c = TieredCache.builder(String.class, Model.class).directory(dir).name("shared")
        .expireAfter(Duration.ofHours(1)).store(StoreSpec.chronicleMap(1_024, 64)).build()) {
      assertThat(c.getIfPresent("m2")).isEqualTo(new Model("m2", "modèle 2", 2.5));
    }
    Path back = dir.resolve("back.json");
    Run out = run("export", dir.toString(), "shared", "--to", back.toString(), "--store", "chronicle");
    assertThat(out.code()).as(out.err()).isZero();
    assertThat(CacheFiles.contents(back).entries()).containsOnlyKeys("m0", "m1", "m2");

    Run bad = run("export", dir.toString(), "model", "--to", "x.json", "--store", "redis");
    assertThat(bad.code()).isEqualTo(2);
  }

  @Test
  void durations() {
    assertThat(Main.duration("500ms")).isEqualTo(Duration.ofMillis(500));
    assertThat(Main.duration("30s")).isEqualTo(Duration.ofSeconds(30));
    assertThat(Main.duration("90")).isEqualTo(Duration.ofSeconds(90));
    assertThat(Main.duration("2h")).isEqualTo(Duration.ofHours(2));
    assertThat(Main.duration("PT5M")).isEqualTo(Duration.ofMinutes(5));
  }
}
