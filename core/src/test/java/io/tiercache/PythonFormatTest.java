package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.tiercache.Assets.Model;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The snapshot format against the real Python json module (python3 is on every machine here; CI installs it). */
class PythonFormatTest {
  @TempDir Path dir;

  static String python(String script, String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("python3", "-c", script));
    command.addAll(Arrays.asList(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    try {
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        throw new AssertionError("python3 did not finish in 30 s");
      }
      String out = new String(p.getInputStream().readAllBytes(), UTF_8);
      assertThat(p.exitValue()).as(out).isZero();
      return out.strip();
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void whatTiercacheWritesIsWhatPythonsJsonDumpWrites() throws Exception {
    Map<String, Object> meta = new LinkedHashMap<>();
    meta.put("size", 7L);
    meta.put("ratio", 0.1);
    meta.put("big", 1e20);
    meta.put("small", 1.5e-7);
    meta.put("nan", Double.NaN);
    meta.put("empty", Map.of());
    meta.put("list", Arrays.asList(1L, "x", null, true, 2.5));
    try (AssetCache<Model> models = AssetCache.builder(Model.class).configure(b -> b.directory(dir)).build()) {
      models.add(new Model("m1", "caf\u00e9 \u2615 \uD83D\uDE00 \"q\"\n\t", Assets.Function.TRANSLATION, meta,
          List.of(), null, new java.math.BigDecimal("0.0015")));
      models.add(Model.of("m2"));
    }
    String verdict = python("import json,sys\n"
        + "raw = open(sys.argv[1], encoding='utf-8').read()\n"
        + "data = json.loads(raw)\n"
        + "print(raw == json.dumps(data, indent=4), sorted(data['data']), json.dumps(data['data']['m1']['name']))",
        dir.resolve("model.json").toString());
    assertThat(verdict).isEqualTo("True ['m1', 'm2'] \"caf\\u00e9 \\u2615 \\ud83d\\ude00 \\\"q\\\"\\n\\t\"");
  }

  /** With a TTL of "forever", the file's expiry is still a date Python reads: it overflowed before. */
  @Test
  void aTtlOfForeverWritesAnExpiryPythonReads() throws Exception {
    try (AssetCache<Model> models = AssetCache.builder(Model.class)
        .configure(b -> b.directory(dir).expireAfter(Duration.ofMillis(Long.MAX_VALUE))).build()) {
      models.add(Model.of("m1"));
    }
    String year = python("import json,sys,datetime\n"
        + "print(datetime.datetime.fromtimestamp(json.load(open(sys.argv[1]))['expiry']).year)",
        dir.resolve("model.json").toString());
    assertThat(Integer.parseInt(year)).isBetween(2300, 9999);
  }

  @Test
  void whatPythonWritesTiercacheReads() throws Exception {
    python("import json,sys,time\n"
        + "store = {'expiry': time.time() + 3600, 'data': {\n"
        + "  '1': {'id': '1', 'name': 'Jos\u00e9', 'function': 'translation',"
        + " 'meta': {'n': 3, 'f': 0.5, 'deep': [[{'x': None}]]}, 'tags': ['a']}}}\n"
        + "with open(sys.argv[1], 'w') as f:\n"
        + "    json.dump(store, f, indent=4)\n", dir.resolve("model.json").toString());
    try (AssetCache<Model> models = AssetCache.builder(Model.class)
        .configure(b -> b.directory(dir).expireAfter(Duration.ofHours(1))).build()) {
      Model m = models.get("1");
      assertThat(m.name()).isEqualTo("Jos\u00e9");
      assertThat(m.function()).isEqualTo(Assets.Function.TRANSLATION);
      Map<String, Object> innermost = new LinkedHashMap<>();
      innermost.put("x", null);
      assertThat(m.meta()).containsEntry("n", 3L).containsEntry("f", 0.5)
          .containsEntry("deep", List.of(List.of(innermost)));
      assertThat(models.hasValidCache()).isTrue();
    }
    assertThat(Files.readString(dir.resolve("model.json"), UTF_8)).contains("\"Jos\\u00e9\"");
  }
}
