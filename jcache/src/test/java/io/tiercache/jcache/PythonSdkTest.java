package io.tiercache.jcache;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.cache.Cache;
import javax.cache.CacheManager;
import javax.cache.configuration.MutableConfiguration;
import javax.cache.expiry.CreatedExpiryPolicy;
import javax.cache.expiry.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a Python SDK process (its json module) reads in the JSON file of a JCache cache. */
class PythonSdkTest {
  record Model(String id, int size) {}

  @TempDir
  Path dir;

  static String python(String script, String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("python3", "-c", script));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    try {
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        throw new AssertionError("python3 did not finish in 30 s");
      }
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      assertThat(p.exitValue()).as(out).isZero();
      return out;
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void pythonSeesEachEntryAsItsEnvelope() throws Exception {
    AtomicLong clock = Fixtures.time();
    CacheManager manager = Fixtures.manager(dir, "json-files", clock::get);
    try {
      Cache<Object, Object> cache = manager.createCache("models", new MutableConfiguration<>()
          .setExpiryPolicyFactory(CreatedExpiryPolicy.factoryOf(new Duration(TimeUnit.HOURS, 1))));
      cache.put("m1", new Model("m1", 3));
      cache.put(42L, new Date(0));
    } finally {
      manager.close(); // the last close folds the journal into models.json, which Python reads
    }
    long deadline = clock.get() + TimeUnit.HOURS.toMillis(1);
    String out = python("import json,sys\n"
        + "with open(sys.argv[1]) as f: doc = json.load(f)\n"
        + "data = doc['data']\n"
        + "print(sorted(data))\n"
        + "print(json.dumps(data['m1'], sort_keys=True))\n"
        + "d = data['~l:42']\n"
        + "print(sorted(d), d['x'], d['j'][:8])\n"
        + "print(doc['expiry'] > 4e9)\n", dir.resolve("models.json").toString());
    assertThat(out.split("\n")).containsExactly(
        "['m1', '~l:42']",
        "{\"t\": \"" + Model.class.getName() + "\", \"v\": {\"id\": \"m1\", \"size\": 3}, \"x\": " + deadline + "}",
        "['j', 'x'] " + deadline + " rO0ABXNy",
        "True");
  }
}
