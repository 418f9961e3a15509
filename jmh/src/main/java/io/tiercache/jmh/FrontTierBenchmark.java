package io.tiercache.jmh;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.tiercache.Durability;
import io.tiercache.TieredCache;
import io.tiercache.jmh.Fixtures.Asset;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Function;
import org.ehcache.CacheManager;
import org.ehcache.config.builders.CacheConfigurationBuilder;
import org.ehcache.config.builders.CacheManagerBuilder;
import org.ehcache.config.builders.ExpiryPolicyBuilder;
import org.ehcache.config.builders.ResourcePoolsBuilder;
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
 * The front tier: reads and mixed reads/writes over Zipfian keys, tiercache against raw Caffeine
 * (same size bound and expiry; {@code caffeineVariable}: with a per-entry deadline, the policy
 * tiercache's front tier runs on), a ConcurrentHashMap and Ehcache 3's heap tier. Threads are set
 * with {@code -t} (the bench script runs 1, 2 and 4).
 *
 * <p>Fairness: every implementation holds the same 10,000 value objects under the same keys.
 * tiercache's writes also reach its journal; they run with {@link Durability#ASYNC} here because
 * none of the peers persists anything (the durable write path is WriteBenchmark's subject).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class FrontTierBenchmark {
  static final int SIZE = 10_000;

  @Param({"tiercache", "caffeine", "caffeineVariable", "concurrentHashMap", "ehcache"})
  public String cache;

  @Param({"100", "75", "0"})
  public int readPercent;

  String[] keys;
  Asset[] values;
  Function<String, Object> get;
  BiConsumer<String, Asset> put;
  AutoCloseable resource;
  Path dir;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    keys = new String[SIZE];
    values = new Asset[SIZE];
    for (int i = 0; i < SIZE; i++) {
      keys[i] = Fixtures.key(i);
      values[i] = Fixtures.asset(keys[i], "small");
    }
    switch (cache) {
      case "tiercache": {
        dir = Files.createTempDirectory("tiercache-front");
        TieredCache<String, Asset> c = TieredCache.builder(String.class, Asset.class).directory(dir).name("front")
            .maximumSize(2 * SIZE).expireAfter(Duration.ofHours(1)).durability(Durability.ASYNC).build();
        get = c::getIfPresent;
        put = c::put;
        resource = c;
        break;
      }
      case "caffeine": {
        Cache<String, Asset> c = Caffeine.newBuilder().maximumSize(2 * SIZE)
            .expireAfterWrite(Duration.ofHours(1)).build();
        get = c::getIfPresent;
        put = c::put;
        break;
      }
      case "caffeineVariable": {
        // Raw Caffeine with the expiry policy tiercache's front tier uses: a deadline per entry.
        Cache<String, Asset> c = Caffeine.newBuilder().maximumSize(2 * SIZE)
            .expireAfter(com.github.benmanes.caffeine.cache.Expiry.<String, Asset>writing((k, v) -> Duration.ofHours(1)))
            .build();
        get = c::getIfPresent;
        put = c::put;
        break;
      }
      case "concurrentHashMap": {
        ConcurrentHashMap<String, Asset> c = new ConcurrentHashMap<>();
        get = c::get;
        put = c::put;
        break;
      }
      case "ehcache": {
        CacheManager manager = CacheManagerBuilder.newCacheManagerBuilder().withCache("front",
            CacheConfigurationBuilder.newCacheConfigurationBuilder(String.class, Asset.class,
                    ResourcePoolsBuilder.heap(2 * SIZE))
                .withExpiry(ExpiryPolicyBuilder.timeToLiveExpiration(Duration.ofHours(1)))).build(true);
        org.ehcache.Cache<String, Asset> c = manager.getCache("front", String.class, Asset.class);
        get = c::get;
        put = c::put;
        resource = manager::close;
        break;
      }
      default:
        throw new IllegalArgumentException(cache);
    }
    Map<String, Asset> all = new HashMap<>();
    for (int i = 0; i < SIZE; i++) {
      put.accept(keys[i], values[i]);
      all.put(keys[i], values[i]);
    }
    for (String k : keys) {
      if (get.apply(k) == null) {
        throw new IllegalStateException(cache + " lost " + k + " while warming");
      }
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    if (resource != null) {
      resource.close();
    }
    if (dir != null) {
      Cleanup.delete(dir);
    }
  }

  /** Each thread walks its own precomputed Zipfian sequence and read/write pattern. */
  @State(Scope.Thread)
  public static class Cursor {
    int[] indexes;
    boolean[] reads;
    int position;

    @Setup(Level.Trial)
    public void setUp(FrontTierBenchmark b) {
      long seed = Thread.currentThread().getId();
      indexes = Fixtures.zipfIndexes(SIZE, 1 << 16, seed);
      reads = new boolean[indexes.length];
      java.util.SplittableRandom random = new java.util.SplittableRandom(seed * 31);
      for (int i = 0; i < reads.length; i++) {
        reads[i] = random.nextInt(100) < b.readPercent;
      }
    }
  }

  @Benchmark
  public Object operation(Cursor cursor) {
    int p = cursor.position++ & (cursor.indexes.length - 1);
    int i = cursor.indexes[p];
    if (cursor.reads[p]) {
      return get.apply(keys[i]);
    }
    put.accept(keys[i], values[i]);
    return values[i];
  }
}
