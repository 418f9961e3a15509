package io.tiercache.stress;

import static org.assertj.core.api.Assertions.assertThat;

import io.tiercache.CacheFiles;
import io.tiercache.TieredCache;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A snapshot entry nested D deep is re-indented at every compaction to about 4·D² bytes (each
 * level on its own line, indented 4 spaces per level, as json.dump(indent=4) does): a 60 KB value
 * nested 30,000 deep renders to about 3.6 GB. The compaction must not fail, and the cache must stay
 * usable (core now stops breaking lines beyond 64 levels).
 */
class DeepNestingCompactionTest {
  @TempDir Path dir;

  // Found by this suite: JsonText.writeIndented made Snapshot.render quadratic in nesting depth (30,000
  // levels: every compaction failed after ~26 s with "the snapshot would exceed 2 GB"); fixed in 802e503.
  @Test
  void aDeeplyNestedEntryDoesNotBreakCompaction() throws Exception {
    int depth = Integer.getInteger("deep.depth", 30_000);
    String deep = "[".repeat(depth) + "]".repeat(depth);
    Files.writeString(dir.resolve("f.json"), "{\"expiry\": 4102444800.5, \"data\": {\"deep\": {\"v\": " + deep
        + "}, \"ok\": {\"v\": 1}}}");
    long start = System.nanoTime();
    Throwable failure = null;
    @SuppressWarnings({"rawtypes", "unchecked"})
    TieredCache<String, Map<String, Object>> cache = (TieredCache) TieredCache.builder(String.class, Map.class)
        .directory(dir).name("f").expireAfter(Duration.ofDays(1)).refreshInterval(Duration.ZERO).build();
    try {
      cache.put("new", Map.of("v", 2));
      cache.flush(); // folds the journal: re-renders every entry, the deep one included
    } catch (RuntimeException | OutOfMemoryError e) {
      failure = e;
    } finally {
      try {
        cache.close();
      } catch (RuntimeException e) {
        failure = failure == null ? e : failure;
      }
    }
    System.out.printf("deep nesting %d: compaction %s in %.1f s, snapshot %d bytes%n", depth,
        failure == null ? "succeeded" : "failed: " + failure, (System.nanoTime() - start) / 1e9,
        Files.size(dir.resolve("f.json")));
    assertThat(failure).as("compaction of a snapshot holding a value nested " + depth + " deep").isNull();
    assertThat(CacheFiles.contents(dir.resolve("f.json")).entries()).containsKeys("ok", "new", "deep");
  }
}
