package io.tiercache.stress;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.tiercache.CacheException;
import io.tiercache.CacheFiles;
import io.tiercache.TieredCache;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged files (seeded, so a failure reproduces): truncations, bit flips, random bytes, huge
 * values, deep nesting, wrong types, in the snapshot ({@code <name>.snapshot}), the export
 * ({@code <name>.json}) or the journal. For every input:
 * <ul>
 *   <li>opening, reading every entry and closing throws nothing but {@link CacheException} (which
 *       includes the codec's refusals);</li>
 *   <li>nothing is deleted and nothing is lost: a damaged snapshot is moved to
 *       {@code <name>.snapshot.corrupt-<timestamp>} with exactly the input's bytes and the content is
 *       rebuilt from the export and the journal; an export that does not parse is moved to
 *       {@code <name>.json.corrupt-<timestamp>} and exported again; a journal with damaged lines is
 *       kept as {@code <name>.journal.corrupt-<timestamp>}; every entry the intact files held is there
 *       after, with its value (but for an export that parses as another program's rewrite: its entries
 *       are taken as writes, so only their keys are checked).</li>
 * </ul>
 */
class BadInputFuzzTest {
  static final int CASES = Boolean.getBoolean("stress.long") ? 400 : 60;

  @TempDir Path root;

  /** A valid cache: a snapshot of 20 records, its export, and a journal of 10 more puts and a remove. */
  static byte[][] validFiles(Path dir) throws IOException {
    try (TieredCache<String, Record> c = open(dir, Record.class)) {
      for (int i = 0; i < 20; i++) {
        c.put("s" + i, new Record("s" + i, "w", i, "caf\u00e9 \"quoted\" \n line"));
      }
      c.flush();
      for (int i = 0; i < 10; i++) {
        c.put("j" + i, Record.of("j" + i, "w", i));
      }
      c.invalidate("s3");
      // copied before close(): the journal stays as it is
      return new byte[][] {Files.readAllBytes(dir.resolve("f.snapshot")), Files.readAllBytes(dir.resolve("f.json")),
          Files.readAllBytes(dir.resolve("f.journal"))};
    }
  }

  static <V> TieredCache<String, V> open(Path dir, Class<V> type) {
    return TieredCache.builder(String.class, type).directory(dir).name("f").expireAfter(Duration.ofDays(1))
        .refreshInterval(Duration.ZERO).lockTimeout(Duration.ofSeconds(10)).build();
  }

  static String journalLine(String body) {
    CRC32C crc = new CRC32C();
    byte[] b = body.getBytes(UTF_8);
    crc.update(b, 0, b.length);
    return String.format("%08x %s%n", crc.getValue(), body);
  }

  enum Target { SNAPSHOT, EXPORT, JOURNAL }

  @Test
  void damagedFilesNeverThrowAnythingButCacheExceptionAndLoseNothing() throws Exception {
    Path template = Files.createDirectory(root.resolve("template"));
    byte[][] valid = validFiles(template);
    Map<String, String> validContent = minified(CacheFiles.contents(template.resolve("f.json")).entries());
    assertThat(validContent).hasSize(29);
    Random random = new Random(20261125);
    List<String> failures = new ArrayList<>();
    int moved = 0;
    for (int n = 0; n < CASES; n++) {
      Target target = Target.values()[random.nextInt(3)];
      byte[] original = valid[target.ordinal()];
      String kind = pick(random);
      byte[] damaged = mutate(kind, target, original, random);
      Path dir = Files.createDirectory(root.resolve("case" + n));
      String[] names = {"f.snapshot", "f.json", "f.journal"};
      for (Target t : Target.values()) {
        Path file = dir.resolve(names[t.ordinal()]);
        Files.write(file, t == target ? damaged : valid[t.ordinal()]);
        Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
      }
      String label = "case " + n + " (" + kind + " of the " + target.name().toLowerCase() + ")";
      try {
        moved += check(dir, target, damaged, validContent, Record.class);
      } catch (AssertionError | CacheException e) { // the latter: the files left behind do not read
        failures.add(label + ": " + e);
      }
    }
    System.out.println("fuzz: " + CASES + " cases, " + moved + " damaged files moved aside, "
        + failures.size() + " failures");
    assertThat(failures).isEmpty();
  }

  static final String[] KINDS = {"truncate", "bitflip", "random", "huge", "deep", "wrongtype"};

  static String pick(Random random) {
    return KINDS[random.nextInt(KINDS.length)];
  }

  static byte[] mutate(String kind, Target target, byte[] original, Random random) {
    switch (kind) {
      case "truncate":
        return Arrays.copyOf(original, random.nextInt(original.length));
      case "bitflip": {
        byte[] b = original.clone();
        for (int i = 1 + random.nextInt(8); i > 0; i--) {
          b[random.nextInt(b.length)] ^= (byte) (1 << random.nextInt(8));
        }
        return b;
      }
      case "random": {
        byte[] b = new byte[random.nextInt(4096)];
        random.nextBytes(b);
        return b;
      }
      case "huge": {
        String big = "x".repeat(3_000_000 + random.nextInt(1000));
        return target != Target.JOURNAL
            ? ("{\"expiry\": 4102444800.5, \"data\": {\"big\": {\"id\": \"big\", \"payload\": \"" + big + "\"}}}").getBytes(US_ASCII)
            : concat(original, journalLine("[\"p\",\"big\",{\"id\":\"big\",\"payload\":\"" + big + "\"}]").getBytes(US_ASCII));
      }
      case "deep": {
        int depth = 1_000 + random.nextInt(3_000); // deeper: see deeplyNestedValuesMakeCompactionQuadratic
        String deep = "[".repeat(depth) + "]".repeat(depth);
        return target != Target.JOURNAL
            ? ("{\"expiry\": 4102444800.5, \"data\": {\"deep\": " + deep + ", \"ok\": {\"id\": \"ok\"}}}").getBytes(US_ASCII)
            : concat(original, journalLine("[\"p\",\"deep\"," + deep + "]").getBytes(US_ASCII));
      }
      default: { // wrong types, each well-formed JSON (and, in the journal, correctly checksummed)
        String[] snapshots = {
            "[]", "null", "{}", "{\"expiry\": \"soon\", \"data\": {}}", "{\"expiry\": 4102444800, \"data\": []}",
            "{\"expiry\": 4102444800, \"data\": {\"a\": 5, \"b\": \"s\", \"c\": [1], \"d\": null}}",
            "{\"data\": {}}", "{\"expiry\": 4102444800}", "{\"expiry\": NaN, \"data\": {}}",
            "{\"expiry\": 1e999, \"data\": {}}", "{\"expiry\": 4102444800, \"data\": {\"a\": {\"id\": 5, \"sequence\": \"x\"}}}",
            "{\"expiry\": 4102444800, \"data\": {}, \"tiercache\": {\"generation\": \"x\"}}",
            "{\"expiry\": 4102444800, \"data\": {}, \"tiercache\": {\"generation\": 1e300}}",
            "{\"expiry\": 4102444800, \"data\": {}, \"tiercache\": []}"};
        String[] journals = {
            "[\"p\",5,{}]", "[\"p\",\"k\"]", "[\"p\",\"k\",{\"id\":[]}]", "[\"r\",null]", "[\"c\",\"x\"]", "[\"c\",NaN]",
            "[\"h\",1,\"g\"]", "[\"h\",2,0]", "[\"s\",\"x\"]", "[\"z\",1]", "[]", "{}", "\"p\"", "[\"p\",\"k\",{}]junk",
            "[\"h\",1,99999999999999999999]", "[\"c\",1e999]"};
        if (target != Target.JOURNAL) {
          return snapshots[random.nextInt(snapshots.length)].getBytes(US_ASCII);
        }
        StringBuilder s = new StringBuilder(new String(original, US_ASCII));
        for (int i = 1 + random.nextInt(3); i > 0; i--) {
          s.append(journalLine(journals[random.nextInt(journals.length)]));
        }
        return s.toString().getBytes(US_ASCII);
      }
    }
  }

  static byte[] concat(byte[] a, byte[] b) {
    byte[] c = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }

  /** Opens, reads every entry, closes; checks the rules. Returns 1 when a damaged file was moved aside. */
  static <V> int check(Path dir, Target target, byte[] damaged, Map<String, String> validContent, Class<V> type)
      throws IOException {
    CacheFiles.Inspection before = CacheFiles.inspect(dir.resolve("f.json"));
    // What the intact files hold: with a damaged snapshot, what its export and the journal hold.
    Map<String, String> keptBefore;
    if (target == Target.SNAPSHOT) {
      keptBefore = validContent;
    } else if (target == Target.EXPORT) {
      keptBefore = keysOnly(validContent);
    } else {
      keptBefore = before.expired() ? Map.of() : minified(CacheFiles.contents(dir.resolve("f.json")).entries());
    }
    try (TieredCache<String, V> cache = open(dir, type)) {
      for (String key : new ArrayList<>(keptBefore.keySet())) {
        try {
          cache.getIfPresent(key);
        } catch (CacheException refused) {
          // a value the codec cannot bind: refused with the documented exception
        }
      }
      try {
        cache.asMap().forEach((k, v) -> { });
      } catch (CacheException refused) {
        // as above
      }
    } catch (CacheException documented) {
      // allowed: the documented exception
    } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
      throw new AssertionError("threw " + e, e);
    }
    // Nothing deleted: what was set aside is the input, byte for byte.
    int moved = 0;
    for (String file : new String[] {"f.snapshot", "f.json"}) {
      Path aside = single(dir, file + ".corrupt-");
      boolean damagedHere = file.equals(target == Target.SNAPSHOT ? "f.snapshot" : target == Target.EXPORT ? "f.json" : "");
      if (aside != null) {
        if (!damagedHere) {
          fail("the intact " + file + " was moved aside");
        }
        assertThat(Files.readAllBytes(aside)).as("bytes of the moved-aside " + file).isEqualTo(damaged);
        moved = 1;
      }
    }
    if (target == Target.EXPORT && before.exportProblem() != null && single(dir, "f.json.corrupt-") == null) {
      fail("the export that does not parse was not moved aside (" + before.exportProblem() + ")");
    }
    if (!before.damagedLines().isEmpty()) {
      Path aside = single(dir, "f.journal.corrupt-");
      if (aside == null) {
        fail("the journal with " + before.damagedLines().size() + " damaged line(s) was not kept aside: "
            + before.damagedLines());
      }
      byte[] kept = Files.readAllBytes(aside);
      int complete = lastNewline(damaged) + 1;
      if (target == Target.JOURNAL) {
        assertThat(Arrays.copyOf(kept, Math.min(kept.length, complete))).as("the kept journal starts with the input's lines")
            .isEqualTo(Arrays.copyOf(damaged, complete));
      }
    }
    // Nothing lost.
    if (!keptBefore.isEmpty()) {
      Map<String, String> after = minified(CacheFiles.contents(dir.resolve("f.json")).entries());
      for (Map.Entry<String, String> e : keptBefore.entrySet()) {
        if (e.getValue() == null) {
          assertThat(after).as("entry " + e.getKey() + " after open/close").containsKey(e.getKey());
        } else {
          assertThat(after.get(e.getKey())).as("entry " + e.getKey() + " after open/close").isEqualTo(e.getValue());
        }
      }
    }
    return moved;
  }

  static Map<String, String> keysOnly(Map<String, String> content) {
    Map<String, String> keys = new HashMap<>();
    content.keySet().forEach(k -> keys.put(k, null));
    return keys;
  }

  static int lastNewline(byte[] b) {
    for (int i = b.length - 1; i >= 0; i--) {
      if (b[i] == '\n') {
        return i;
      }
    }
    return -1;
  }

  static Map<String, String> minified(Map<String, String> entries) {
    Map<String, String> out = new HashMap<>();
    entries.forEach((k, v) -> {
      StringBuilder s = new StringBuilder();
      boolean inString = false;
      for (int i = 0; i < v.length(); i++) {
        char c = v.charAt(i);
        if (inString) {
          s.append(c);
          if (c == '\\') {
            s.append(v.charAt(++i));
          } else if (c == '"') {
            inString = false;
          }
        } else if (c == '"') {
          inString = true;
          s.append(c);
        } else if (c != ' ' && c != '\n' && c != '\t' && c != '\r') {
          s.append(c);
        }
      }
      out.put(k, s.toString());
    });
    return out;
  }

  static Path single(Path dir, String prefix) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.getFileName().toString().startsWith(prefix)).findFirst().orElse(null);
    }
  }

  /** Free-form values (maps, lists) are where a recursive decoder would overflow the stack on deep nesting. */
  @Test
  void deeplyNestedFreeFormValuesAreRefusedWithTheDocumentedException() throws Exception {
    Path dir = Files.createDirectory(root.resolve("deep"));
    int depth = 100_000;
    String deep = "[".repeat(depth) + "]".repeat(depth);
    Files.writeString(dir.resolve("f.json"), "{\"expiry\": 4102444800.5, \"data\": {\"deep\": {\"v\": " + deep
        + "}, \"ok\": {\"v\": 1}}}");
    @SuppressWarnings({"rawtypes", "unchecked"})
    TieredCache<String, Map<String, Object>> cache = (TieredCache) open(dir, Map.class);
    try (cache) {
      assertThat(cache.getIfPresent("ok")).containsEntry("v", 1L);
      try {
        cache.getIfPresent("deep");
      } catch (CacheException refused) {
        // fine: refused with the documented exception
      } catch (StackOverflowError e) {
        fail("decoding a value nested " + depth + " deep overflowed the stack instead of throwing CodecException");
      }
    }
  }
}
