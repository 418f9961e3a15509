package io.tiercache.stress;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.tiercache.AssetCache;
import io.tiercache.CacheFiles;
import io.tiercache.LockTimeoutException;
import io.tiercache.StoreSpec;
import io.tiercache.TieredCache;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The files against the machine's python3 (standard library only): Python's json reads what Java
 * wrote, Java reads what Python's json.dump(indent=4) wrote, and a Python flock holder blocks the
 * tooling's writers too.
 */
class PythonInteropTest {
  @TempDir Path dir;

  public record Asset(String id, String name, double score, List<String> tags) {}

  static String python(String script, String... args) throws Exception {
    List<String> command = new java.util.ArrayList<>(List.of("python3", "-c", script));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    try {
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("python3 finished").isTrue();
      String out = new String(p.getInputStream().readAllBytes(), UTF_8).strip();
      assertThat(p.exitValue()).as(out).isZero();
      return out;
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void pythonJsonLoadReadsTheSnapshotJavaWroteWithTheSameIds() throws Exception {
    TreeSet<String> ids = new TreeSet<>();
    try (TieredCache<String, Asset> cache = TieredCache.builder(String.class, Asset.class).directory(dir)
        .name("asset").expireAfter(Duration.ofHours(1)).build()) {
      for (int i = 0; i < 300; i++) {
        String id = "asset-" + i + (i % 7 == 0 ? "-\u00e9\u4e2d\ud83d\ude00" : "");
        cache.put(id, new Asset(id, "n\u00e4me \"" + i + "\"\n", i / 3.0, List.of("t" + i)));
        ids.add(id);
      }
    } // close() compacts: the snapshot holds everything
    String out = python("import json,sys\n"
        + "d = json.load(open(sys.argv[1], encoding='utf-8'))\n"
        + "assert isinstance(d['expiry'], float), d['expiry']\n"
        + "print(json.dumps(sorted(d['data'].keys())))\n"
        + "print(d['data']['asset-3']['score'])\n", dir.resolve("asset.json").toString());
    String[] lines = out.split("\n");
    @SuppressWarnings("unchecked")
    List<String> pythonIds = (List<String>) com.jsoniter.JsonIterator.deserialize(lines[0], List.class);
    assertThat(new TreeSet<>(pythonIds)).isEqualTo(ids);
    assertThat(lines[1]).isEqualTo("1.0");
  }

  @Test
  void javaReadsWhatPythonJsonDumpWroteIncludingNonAsciiAndAFloatExpiry() throws Exception {
    double expiry = Instant.now().getEpochSecond() + 3600.625;
    python("import json,sys\n"
        + "data = {'m\u00e9t\u00e9o': {'id': 'm\u00e9t\u00e9o', 'name': 'caf\u00e9 \u4e2d\u6587 \ud83d\ude00', 'score': 0.1, 'tags': ['a']},\n"
        + "        'plain': {'id': 'plain', 'name': 'x', 'score': 1e-7, 'tags': []}}\n"
        + "json.dump({'expiry': float(sys.argv[2]), 'data': data}, open(sys.argv[1], 'w'), indent=4)\n",
        dir.resolve("asset.json").toString(), Double.toString(expiry));
    assertThat(CacheFiles.verify(dir.resolve("asset.json")).valid()).isTrue();
    try (AssetCache<Asset> cache = AssetCache.builder(Asset.class).configure(b -> b.directory(dir)).cacheFilename("asset").build()) {
      Asset a = cache.get("m\u00e9t\u00e9o");
      assertThat(a).isEqualTo(new Asset("m\u00e9t\u00e9o", "caf\u00e9 \u4e2d\u6587 \ud83d\ude00", 0.1, List.of("a")));
      assertThat(cache.get("plain").score()).isEqualTo(1e-7);
      assertThat(cache.store().expiry().toEpochMilli()).isEqualTo(Math.round(expiry * 1000));
      assertThat(CacheFiles.inspect(dir.resolve("asset.json")).expiry().toEpochMilli()).isEqualTo(Math.round(expiry * 1000));
    }
  }

  /** A Python process that takes flock on the file, says "locked", and releases when told. */
  static final String HOLDER = "import fcntl,sys\n"
      + "f = open(sys.argv[1], 'a')\n"
      + "fcntl.flock(f, fcntl.LOCK_EX)\n"
      + "print('locked', flush=True)\n"
      + "sys.stdin.readline()\n"
      + "fcntl.flock(f, fcntl.LOCK_UN)\n";

  @Test
  void aPythonHolderBlocksTheToolsCompactionAndImportUntilItReleases() throws Exception {
    TieredCache<String, Asset> cache = TieredCache.builder(String.class, Asset.class).directory(dir)
        .name("asset").expireAfter(Duration.ofHours(1)).build();
    cache.put("a", new Asset("a", "x", 1, List.of()));
    cache.flush();
    cache.put("b", new Asset("b", "x", 2, List.of())); // in the journal: something to fold and export
    Path lock = dir.resolve("asset.lock");
    Process python = new ProcessBuilder("python3", "-c", HOLDER, lock.toString()).start();
    try (cache) {
      BufferedReader out = new BufferedReader(new InputStreamReader(python.getInputStream(), UTF_8));
      assertThat(out.readLine()).isEqualTo("locked");
      long start = System.nanoTime();
      try {
        CacheFiles.compact(dir, "asset", Duration.ofMillis(300));
        throw new AssertionError("compacted while Python held the lock");
      } catch (LockTimeoutException expected) {
        assertThat(expected.getMessage()).contains(lock.toString());
        assertThat(expected.file()).contains(lock);
      }
      // The lock-timeout contract: it waited out (most of) the 300 ms before failing. A lower bound on
      // a wait, which slowness cannot break; not a performance figure.
      assertThat((System.nanoTime() - start) / 1e6).isGreaterThanOrEqualTo(250);
      try (Writer in = new OutputStreamWriter(python.getOutputStream(), UTF_8)) {
        in.write("\n");
      }
      assertThat(python.waitFor(10, TimeUnit.SECONDS)).isTrue();
      assertThat(CacheFiles.compact(dir, "asset", Duration.ofSeconds(5)).entries()).isEqualTo(2);
    } finally {
      python.destroyForcibly();
    }
  }

  @Test
  void exportedFilesAreWhatPythonsAssetCacheLoads() throws Exception {
    try (TieredCache<String, Asset> cache = TieredCache.builder(String.class, Asset.class).directory(dir)
        .name("asset").expireAfter(Duration.ofHours(1)).build()) {
      cache.put("a", new Asset("a", "\u00e9", 0.5, List.of("x")));
      cache.put("b", new Asset("b", "y", 2, List.of()));
      Path export = dir.resolve("export.json");
      CacheFiles.export(dir, "asset", export, StoreSpec.jsonFiles(), Duration.ofSeconds(5));
      String out = python("import json,sys,time\n"
          + "d = json.load(open(sys.argv[1]))\n"
          + "assert d['expiry'] > time.time()\n"
          + "print(sorted(d['data']), d['data']['a']['name'] == '\\u00e9')\n", export.toString());
      assertThat(out).isEqualTo("['a', 'b'] True");
      Map<String, String> entries = CacheFiles.contents(export).entries();
      assertThat(entries).containsOnlyKeys("a", "b");
    }
  }
}
