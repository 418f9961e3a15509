package io.tiercache.stress.faults;

import io.tiercache.TieredCache;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.List;
import java.util.Objects;
import picocli.CommandLine.Command;

/**
 * Free-form values ({@code Map<String, Object>}) holding strings that look like the codec's own
 * placeholders for non-finite numbers ({@code "\u0000NaN"}, {@code "\u0000-Infinity"}, ...) next to
 * real non-finite doubles, written, closed and read back by a new JVM: every value must come back
 * as it went in, strings as strings ({@code valuesChanged}).
 *
 * <p>Broken variant: the writer stores the values as a codec that turns its placeholders into
 * numbers would hand them back.
 */
@Command(name = "codec-placeholders", sortOptions = false,
    description = "Strings that look like the codec's placeholders come back as strings after a reopen.")
public final class CodecPlaceholders extends Scenario {
  static final String VALUES_CHANGED = "valuesChanged";

  static Map<String, Object> values() {
    Map<String, Object> v = new LinkedHashMap<>();
    v.put("nanString", "\u0000NaN");
    v.put("minusInfinityString", "\u0000-Infinity");
    v.put("infinityString", "\u0000Infinity");
    v.put("nul", "\u0000");
    v.put("plainNaN", "NaN");
    v.put("nan", Double.NaN);
    v.put("minusInfinity", Double.NEGATIVE_INFINITY);
    v.put("text", "plain");
    return v;
  }

  @Override
  Tally run(Path base) throws Exception {
    Tally t = tally("placeholders decoded as numbers",
        VALUES_CHANGED);
    Path root = base.resolve("sandbox");
    Path cache = Files.createDirectories(root.resolve("cache"));
    Path work = base.resolve("work");
    Outside outside = Outside.create(root, cache);
    Map<String, Object> written = values();
    Map<String, Object> stored = new LinkedHashMap<>(written);
    if (broken) {
      stored.replaceAll((k, v) -> v instanceof String s && s.startsWith("\u0000") && s.length() > 1
          ? Double.valueOf(s.substring(1)) : v);
    }
    try (TieredCache<String, Map> c = open(cache)) {
      c.put("free-form", stored);
    }
    try (Child reader = child("reader", List.of("reader", "--dir", cache.toString()),
        "256m", work)) {
      reader.finish(CHILD_TIMEOUT);
      Map<String, String> read = new LinkedHashMap<>();
      for (String l : reader.lines()) {
        int space = l.indexOf(' ');
        read.put(l.substring(0, space), l.substring(space + 1));
      }
      written.forEach((k, v) -> {
        String expected = describe(v);
        t.violation(VALUES_CHANGED, expected.equals(read.get(k)) ? 0 : 1, k + ": wrote " + expected + ", read back "
            + read.get(k));
      });
      t.fact("fields", written.size());
    }
    t.outside(outside.changes());
    return t;
  }

  @SuppressWarnings({"rawtypes", "unchecked"})
  private static TieredCache<String, Map> open(Path dir) {
    return TieredCache.builder(String.class, Map.class).directory(dir).name(NAME).expireAfter(Duration.ofHours(1))
        .build();
  }

  /** A value's type and content, with control characters escaped so that it fits a line. */
  static String describe(Object v) {
    String text = String.valueOf(v).replace("\u0000", "\\u0000");
    return (v == null ? "null" : v.getClass().getSimpleName()) + ":" + text;
  }

  /** Reopens the cache and prints each field of the value as {@code <field> <Type>:<value>}. */
  @Command(name = "reader", hidden = true)
  @SuppressWarnings("rawtypes")
  int reader(@picocli.CommandLine.Option(names = "--dir") Path dir) {
    try (TieredCache<String, Map> c = open(dir)) {
      Map<?, ?> value = Objects.requireNonNull(c.getIfPresent("free-form"), "the value is gone");
      value.forEach((k, v) -> System.out.println(k + " " + describe(v)));
    }
    return 0;
  }
}
