package io.tiercache.jmh;

import io.tiercache.Codec;
import io.tiercache.TieredCache;
import io.tiercache.StoreSpec;
import io.tiercache.TieredCacheBuilder;
import io.tiercache.jmh.Fixtures.Asset;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import net.openhft.chronicle.map.ChronicleMap;
import org.ehcache.PersistentCacheManager;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One get (and, for the Chronicle comparison, one put) of an asset among N, keys uniform over N:
 * the persistent store and its peers, each reading the same encoded JSON and decoding it into the
 * same record.
 *
 * <p>Fair floor: tiercache's front tier is bounded at N/100 on both tiercache targets, so at every
 * N about 99% of gets read the store and compare with peers that have no front tier (a smoke run at
 * 10k entries reads the store too, not Caffeine). A miss also inserts into the front tier; that is
 * part of tiercache's get.
 *
 * <ul>
 *   <li>{@code tiercache-chronicle} / {@code tiercache-json}: {@code TieredCache} over the
 *       Chronicle Map store / the JSON store, WRITE.
 *   <li>{@code raw-chronicle}: {@code ChronicleMap<String, byte[]>}, forced to disk after its fill as
 *       tiercache's {@code flush()} does, so both start on clean pages: get + decode, encode + put.
 *   <li>{@code ehcache-disk}: Ehcache 3, 10-entry heap tier over its persistent disk tier.
 *   <li>{@code lmdb}: one read transaction per get, the value copied out and decoded.
 *   <li>{@code sqlite}: a prepared SELECT on a WAL database.
 * </ul>
 *
 * <p>The heap is touched before the fill ({@code -XX:+AlwaysPreTouch}, about 6 s per fork here).
 * Without it, G1 grew the young generation into never-touched parts of the 4 GB heap during the
 * measurement: a Chronicle store get slowed from 7 to 25 us per op within a fork, with 48% of its
 * samples in the kernel zeroing fresh pages ({@code clear_page_erms}), and raw Chronicle Map
 * slowed too. A running service pays that once; the benchmark measures the steady state.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Benchmark)
@Fork(value = 3, jvmArgsAppend = {"-Xms4g", "-Xmx4g", "-XX:+AlwaysPreTouch",
    "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED", "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "-Dchronicle.analytics.disable=true", "-Dchronicle.announcer.disable=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class StoreBenchmark {
  @Param({"tiercache-chronicle", "raw-chronicle", "tiercache-json", "ehcache-disk", "lmdb", "sqlite"})
  public String target;

  @Param({"100000", "1000000"})
  public int entries;

  Path dir;
  String[] keys;
  Asset[] values;
  final Codec<Asset> codec = Codec.json(Asset.class);
  TieredCache<String, Asset> tiered;
  ChronicleMap<String, byte[]> chronicle;
  PersistentCacheManager ehcacheManager;
  org.ehcache.Cache<String, byte[]> ehcache;
  Peers.Lmdb lmdb;
  Peers.Sqlite sqlite;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    dir = Files.createTempDirectory("tiercache-store");
    keys = Fixtures.keys(entries);
    values = Fixtures.assets(keys, "small");
    byte[][] encoded = Fixtures.encode(values);
    int valueBytes = encoded[0].length;
    long capacity = (long) (entries * 2.2) + 1_000; // the initial replace holds old and new content briefly
    switch (target) {
      case "raw-chronicle":
        chronicle = ChronicleMap.of(String.class, byte[].class).name("assets").entries(capacity)
            .averageKeySize(40).averageValueSize(valueBytes + 8).createPersistedTo(dir.resolve("raw.cmap").toFile());
        for (int i = 0; i < entries; i++) {
          chronicle.put(keys[i], encoded[i % encoded.length]);
        }
        try (FileChannel file = FileChannel.open(dir.resolve("raw.cmap"), StandardOpenOption.READ)) {
          file.force(false);
        }
        return;
      case "ehcache-disk":
        ehcacheManager = Peers.ehcache(dir.resolve("ehcache"));
        ehcache = Peers.assets(ehcacheManager);
        for (int i = 0; i < entries; i++) {
          ehcache.put(keys[i], encoded[i % encoded.length]);
        }
        return;
      case "lmdb":
        lmdb = new Peers.Lmdb(dir.resolve("lmdb"), Peers.Lmdb.mapBytes(entries, valueBytes), false);
        lmdb.putAll(keys, encoded);
        return;
      case "sqlite":
        sqlite = new Peers.Sqlite(dir.resolve("assets.db"), "NORMAL");
        sqlite.putAll(keys, encoded);
        return;
      default:
        TieredCacheBuilder<String, Asset> builder = TieredCache.builder(String.class, Asset.class).directory(dir)
            .name("assets").expireAfter(Duration.ofDays(1)).maximumSize(entries / 100);
        if (target.equals("tiercache-chronicle")) {
          builder.store(StoreSpec.chronicleMap(capacity, valueBytes));
        } else if (!target.equals("tiercache-json")) {
          throw new IllegalArgumentException(target);
        }
        tiered = builder.build();
        tiered.replaceAll(Fixtures.content(keys, values));
        tiered.flush();
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {tiered, chronicle, ehcacheManager, lmdb, sqlite}) {
      if (c != null) {
        c.close();
      }
    }
    Cleanup.delete(dir);
  }

  @Benchmark
  public Object get() throws Exception {
    String key = keys[ThreadLocalRandom.current().nextInt(entries)];
    if (tiered != null) {
      return tiered.getIfPresent(key);
    }
    byte[] json;
    switch (target) {
      case "raw-chronicle":
        json = chronicle.get(key);
        break;
      case "ehcache-disk":
        json = ehcache.get(key);
        break;
      case "lmdb":
        json = lmdb.get(key);
        break;
      default:
        json = sqlite.get(key);
    }
    return codec.decode(json, 0, json.length);
  }

  /** Put, for the Chronicle comparison (the peers' durable puts are in {@link WriteBenchmark}). */
  @Benchmark
  public Object put() throws Exception {
    int i = ThreadLocalRandom.current().nextInt(entries);
    Asset value = values[i % values.length];
    if (tiered != null) {
      tiered.put(keys[i], value);
      return value;
    }
    if (chronicle == null) {
      throw new IllegalStateException("put compares the Chronicle targets only; run it with -p target=...chronicle");
    }
    return chronicle.put(keys[i], codec.encode(value));
  }
}
