package io.tiercache.jmh;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The values and keys every benchmark uses, so that each comparison sees the same bytes.
 * {@code small} encodes to about 200 bytes of JSON, {@code large} to about 5 KB: a model asset
 * with its metadata, and one with a long description and many parameters.
 */
public final class Fixtures {
  private Fixtures() {}

  /** A model asset as the Python SDK caches it. */
  public record Asset(String id, String name, String function, String supplier, double pricePerCall,
      List<String> tags, Map<String, Object> meta) {}

  public static Asset asset(String id, String shape) {
    Map<String, Object> meta = new LinkedHashMap<>();
    meta.put("version", 3L);
    meta.put("latency_ms", 41.5);
    List<String> tags = List.of("text", "en");
    String name = "model " + id;
    if (shape.equals("large")) {
      StringBuilder description = new StringBuilder();
      for (int i = 0; i < 60; i++) {
        description.append("Generates text from a prompt with guard rails, line ").append(i).append(". ");
      }
      meta.put("description", description.toString());
      List<Object> params = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        params.add(Map.of("name", "param" + i, "required", i % 2 == 0, "default", i * 0.25));
      }
      meta.put("parameters", params);
    }
    return new Asset(id, name, "text-generation", "acme", 0.0015, tags, meta);
  }

  public static String key(int i) {
    return "asset-" + i;
  }

  /** Keys {@code 0..n-1} as {@link #key} spells them. */
  public static String[] keys(int n) {
    String[] keys = new String[n];
    for (int i = 0; i < n; i++) {
      keys[i] = key(i);
    }
    return keys;
  }

  /** Distinct assets for the first {@code min(keys, 10,000)} keys, reused round-robin by the benchmarks. */
  public static Asset[] assets(String[] keys, String shape) {
    Asset[] values = new Asset[Math.min(keys.length, 10_000)];
    for (int i = 0; i < values.length; i++) {
      values[i] = asset(keys[i], shape);
    }
    return values;
  }

  /** Zipf-distributed indexes in [0, n) (skew 0.99, as in Caffeine's own benchmarks), precomputed. */
  /** The JSON of each value, encoded with tiercache's codec: what every peer stores. */
  static byte[][] encode(Asset[] values) {
    io.tiercache.Codec<Asset> codec = io.tiercache.Codec.json(Asset.class);
    byte[][] encoded = new byte[values.length][];
    for (int i = 0; i < values.length; i++) {
      encoded[i] = codec.encode(values[i]);
    }
    return encoded;
  }

  /** The content of a cache of all {@code keys}, key i holding {@code values[i % values.length]}. */
  static Map<String, Asset> content(String[] keys, Asset[] values) {
    Map<String, Asset> all = new LinkedHashMap<>();
    for (int i = 0; i < keys.length; i++) {
      all.put(keys[i], values[i % values.length]);
    }
    return all;
  }

  public static int[] zipfIndexes(int n, int count, long seed) {
    double skew = 0.99;
    double[] cumulative = new double[n];
    double sum = 0;
    for (int i = 0; i < n; i++) {
      sum += 1.0 / Math.pow(i + 1, skew);
      cumulative[i] = sum;
    }
    SplittableRandom random = new SplittableRandom(seed);
    int[] indexes = new int[count];
    for (int i = 0; i < count; i++) {
      double u = random.nextDouble() * sum;
      int lo = 0;
      int hi = n - 1;
      while (lo < hi) {
        int mid = (lo + hi) >>> 1;
        if (cumulative[mid] < u) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      indexes[i] = lo;
    }
    // Scatter ranks over the key space so hot keys do not share a hash neighbourhood.
    int[] permutation = new int[n];
    for (int i = 0; i < n; i++) {
      permutation[i] = i;
    }
    for (int i = n - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = permutation[i];
      permutation[i] = permutation[j];
      permutation[j] = t;
    }
    for (int i = 0; i < count; i++) {
      indexes[i] = permutation[indexes[i]];
    }
    return indexes;
  }

  /**
   * Defers compaction of a JSON store built by {@code builder} past any benchmark's length, so that
   * a measurement sees the append path alone. The builder's {@code compactionMinBytes} is
   * package-private (users should not defer compaction), so this calls it by reflection and fails
   * loudly, naming it, if the builder no longer has it.
   */
  static void deferCompaction(io.tiercache.TieredCacheBuilder<?, ?> builder) {
    try {
      java.lang.reflect.Method threshold =
          io.tiercache.TieredCacheBuilder.class.getDeclaredMethod("compactionMinBytes", long.class);
      threshold.setAccessible(true);
      threshold.invoke(builder, Long.MAX_VALUE);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("TieredCacheBuilder.compactionMinBytes(long) is gone: update "
          + "Fixtures.deferCompaction", e);
    }
  }

  /** JVM flags Chronicle Map needs on JDK 17+, plus switching its analytics off. */
  public static final String[] CHRONICLE_FLAGS = {
      "--add-opens=java.base/java.lang=ALL-UNNAMED",
      "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
      "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
      "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
      "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
      "-Dchronicle.analytics.disable=true",
      "-Dchronicle.announcer.disable=true"};
}
