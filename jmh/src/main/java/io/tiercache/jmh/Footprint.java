package io.tiercache.jmh;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.tiercache.Codec;
import io.tiercache.TieredCache;
import io.tiercache.jmh.Fixtures.Asset;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.ehcache.PersistentCacheManager;
import org.openjdk.jol.info.GraphLayout;

/**
 * Bytes per entry: on the heap, measured with jol's {@code GraphLayout} over everything the cache
 * (or store, or peer) object reaches, and on disk, the files' allocated blocks ({@code du}).
 *
 * <p>Heap is marginal: the graph is measured at N/10 and at N entries and the difference divided by
 * the difference in entries, so fixed costs (threads, buffers, class metadata reachable from a
 * thread) cancel out. {@code -open}: the store opened on its files, no value read; {@code -full}:
 * every entry read once into a front tier large enough to hold all of them (what a warm process
 * holds). {@code caffeine}: raw Caffeine, built like the front tier, holding the same decoded values.
 *
 * <p>Needs {@code -Djdk.attach.allowAttachSelf=true -Djol.magicFieldOffset=true} (jol reads the
 * fields of hidden lambda classes), and the Chronicle and LMDB flags. Writes JMH's JSON shape:
 * {@code Footprint.heap} and {@code Footprint.disk}, in bytes per entry.
 */
public final class Footprint {
  static final List<String> TARGETS = List.of("tiercache-json-open", "tiercache-json-full", "tiercache-chronicle-open",
      "tiercache-chronicle-full", "caffeine", "ehcache-disk", "lmdb", "sqlite");

  private Footprint() {}

  public static void main(String[] args) throws Exception {
    List<Integer> sizes = new ArrayList<>();
    Path json = Path.of("footprint.json");
    List<String> targets = TARGETS;
    for (int i = 0; i < args.length; i += 2) {
      switch (args[i]) {
        case "--entries" -> Stream.of(args[i + 1].split(",")).map(Integer::valueOf).forEach(sizes::add);
        case "--json" -> json = Path.of(args[i + 1]);
        case "--targets" -> targets = List.of(args[i + 1].split(","));
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    List<String> rows = new ArrayList<>();
    Path root = Files.createTempDirectory("tiercache-footprint");
    try {
      for (int n : sizes.isEmpty() ? List.of(100_000) : sizes) {
        for (String target : targets) {
          double[] small = measure(root.resolve(target + "-" + n / 10), target, n / 10);
          double[] large = measure(root.resolve(target + "-" + n), target, n);
          double heap = (large[0] - small[0]) / (n - n / 10);
          double disk = large[1] / n;
          System.out.printf(Locale.ROOT, "footprint: %-26s N=%-8d heap %8.1f B/entry, disk %8.1f B/entry%n",
              target, n, heap, disk);
          rows.add(row("heap", target, n, heap));
          if (large[1] > 0) {
            rows.add(row("disk", target, n, disk));
          }
        }
      }
    } finally {
      Cleanup.delete(root);
    }
    Files.writeString(json, "[" + String.join(",\n", rows) + "]\n");
  }

  private static String row(String what, String target, int n, double value) {
    return String.format(Locale.ROOT, "{\"benchmark\":\"io.tiercache.jmh.Footprint.%s\",\"mode\":\"ss\",\"threads\":1,"
        + "\"forks\":1,\"params\":{\"target\":\"%s\",\"entries\":\"%d\"},\"primaryMetric\":{\"score\":%.2f,"
        + "\"scoreError\":\"NaN\",\"scoreUnit\":\"B/entry\",\"rawData\":[[%.2f]]}}", what, target, n, value, value);
  }

  /** {heap bytes reachable, disk bytes allocated} for {@code target} holding {@code n} entries. */
  static double[] measure(Path dir, String target, int n) throws Exception {
    Files.createDirectories(dir);
    Codec<Asset> codec = Codec.json(Asset.class);
    String[] keys = Fixtures.keys(n);
    Asset[] values = Fixtures.assets(keys, "small");
    byte[][] encoded = Fixtures.encode(values);
    switch (target) {
      case "caffeine": {
        Cache<String, Asset> cache = Caffeine.newBuilder().maximumSize(n).build();
        for (int i = 0; i < n; i++) { // distinct objects, as a front tier decodes each entry it reads
          byte[] e = encoded[i % encoded.length];
          cache.put(keys[i], codec.decode(e, 0, e.length));
        }
        cache.cleanUp();
        return new double[] {GraphLayout.parseInstance(cache).totalSize(), 0};
      }
      case "ehcache-disk": {
        try (PersistentCacheManager manager = Peers.ehcache(dir.resolve("ehcache"))) {
          org.ehcache.Cache<String, byte[]> cache = Peers.assets(manager);
          for (int i = 0; i < n; i++) {
            cache.put(keys[i], encoded[i % encoded.length]);
          }
          return new double[] {GraphLayout.parseInstance(manager).totalSize(), du(dir)};
        }
      }
      case "lmdb": {
        try (Peers.Lmdb lmdb = new Peers.Lmdb(dir.resolve("lmdb"), Peers.Lmdb.mapBytes(n, encoded[0].length), false)) {
          lmdb.putAll(keys, encoded);
          return new double[] {GraphLayout.parseInstance(lmdb).totalSize(), du(dir)};
        }
      }
      case "sqlite": {
        try (Peers.Sqlite sqlite = new Peers.Sqlite(dir.resolve("assets.db"), "NORMAL")) {
          sqlite.putAll(keys, encoded);
          return new double[] {GraphLayout.parseInstance(sqlite).totalSize(), du(dir)};
        }
      }
      default: {
        boolean chronicle = target.startsWith("tiercache-chronicle");
        Map<String, Asset> all = Fixtures.content(keys, values);
        try (TieredCache<String, Asset> cache = ColdStart.builder(dir, n, chronicle).build()) {
          cache.replaceAll(all);
        }
        try (TieredCache<String, Asset> cache = ColdStart.builder(dir, n, chronicle).maximumSize(n).build()) {
          if (target.endsWith("-full")) {
            for (String key : keys) {
              if (cache.getIfPresent(key) == null) {
                throw new IllegalStateException(target + " lost " + key);
              }
            }
          }
          return new double[] {GraphLayout.parseInstance(cache).totalSize(), du(dir)};
        }
      }
    }
  }

  /** Allocated bytes of every file under {@code dir}, as {@code du} counts them (sparse files count what they use). */
  static double du(Path dir) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("du", "-s", "-B1", dir.toString()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    if (p.waitFor() != 0) {
      throw new IOException("du " + dir + ": " + out);
    }
    return Double.parseDouble(out.split("\\s+")[0]);
  }
}
