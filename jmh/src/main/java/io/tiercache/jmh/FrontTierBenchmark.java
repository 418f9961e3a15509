package io.tiercache.jmh;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.tiercache.Durability;
import io.tiercache.FrontTierMaintenance;
import io.tiercache.TieredCache;
import io.tiercache.jmh.Fixtures.Asset;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
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
 * The front tier, modelled on Caffeine's own {@code GetPutBenchmark}: Zipfian keys over 10,000
 * entries that all fit, so every read is a hit. {@code read} is read-only with the threads of
 * {@code -t}; {@code readwrite} is a JMH group of reader and writer threads ({@code -tg readers,writers}).
 *
 * <h2>Floors</h2>
 * <ul>
 *   <li>{@code caffeine}: raw Caffeine as a user builds it with tiercache's bound: a maximum size
 *       and nothing else (tiercache checks each entry's deadline itself, without Caffeine's expiry).
 *       This is the floor the goal compares with.
 *   <li>{@code caffeineClock}: the same with tiercache's maintenance (the drains reads schedule run
 *       by the first hit of a later millisecond, see {@link FrontTierMaintenance}) and one
 *       {@code System.currentTimeMillis()} per hit: the floor of any hit that checks a deadline.
 *   <li>{@code caffeineExpiry}: the same with {@code expireAfterWrite}, what a user of raw Caffeine
 *       with a TTL would build.
 *   <li>{@code concurrentHashMap}: no policy at all (the ceiling of a hash-table read).
 *   <li>{@code ehcache}: Ehcache 3's heap tier with a TTL.
 * </ul>
 * Every implementation holds the same value objects under the same keys. tiercache's writes also
 * reach its persistent tier: they run with {@link Durability#ASYNC}, the cheapest, and the
 * read/write group reports readers and writers apart so that the read side is not hidden by the
 * journal's cost (the peers persist nothing).
 *
 * <p>The heap is touched before the measurement ({@code -XX:+AlwaysPreTouch}): see {@link StoreBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 3, jvmArgsAppend = {"-Xms2g", "-Xmx2g", "-XX:+AlwaysPreTouch"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class FrontTierBenchmark {
  static final int SIZE = 10_000;

  @Param({"tiercache", "caffeine", "caffeineClock", "caffeineExpiry", "concurrentHashMap", "ehcache"})
  public String cache;

  /** Never reached: read per hit, as a deadline is. */
  long deadline = Long.MAX_VALUE;
  String[] keys;
  Asset[] values;
  Function<String, Object> get;
  BiConsumer<String, Asset> put;
  AutoCloseable resource;
  Path dir;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    keys = Fixtures.keys(SIZE);
    values = Fixtures.assets(keys, "small");
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
        Cache<String, Asset> c = Caffeine.newBuilder().maximumSize(2 * SIZE).build();
        get = c::getIfPresent;
        put = c::put;
        break;
      }
      case "caffeineClock": {
        FrontTierMaintenance drains = new FrontTierMaintenance();
        Cache<String, Asset> c = Caffeine.newBuilder().maximumSize(2 * SIZE).executor(drains).build();
        get = k -> {
          Asset value = c.getIfPresent(k);
          long now = System.currentTimeMillis();
          if (value == null || now >= deadline) {
            return null;
          }
          drains.afterHit(now);
          return value;
        };
        put = (k, v) -> drains.put(c.asMap(), k, v);
        break;
      }
      case "caffeineExpiry": {
        Cache<String, Asset> c = Caffeine.newBuilder().maximumSize(2 * SIZE).expireAfterWrite(Duration.ofHours(1))
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
    for (int i = 0; i < SIZE; i++) {
      put.accept(keys[i], values[i]);
    }
    // Twice: once tiercache's bounded front tier is half full, it keeps a key read from the store on its
    // second read (Doorkeeper), and every measured read must be a hit.
    for (int read = 0; read < 2; read++) {
      for (String k : keys) {
        if (get.apply(k) == null) {
          throw new IllegalStateException(cache + " lost " + k + " while warming");
        }
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

  /** Each thread walks its own precomputed Zipfian sequence, as GetPutBenchmark does. */
  @State(Scope.Thread)
  public static class Cursor {
    int[] indexes;
    int position;

    @Setup(Level.Trial)
    public void setUp() {
      indexes = Fixtures.zipfIndexes(SIZE, 1 << 16, Thread.currentThread().getId());
    }

    int next() {
      return indexes[position++ & (indexes.length - 1)];
    }
  }

  @Benchmark
  public Object read(Cursor cursor) {
    return get.apply(keys[cursor.next()]);
  }

  @Benchmark
  @Group("readwrite")
  @GroupThreads(1)
  public Object get(Cursor cursor) {
    return get.apply(keys[cursor.next()]);
  }

  @Benchmark
  @Group("readwrite")
  @GroupThreads(1)
  public void put(Cursor cursor) {
    int i = cursor.next();
    put.accept(keys[i], values[i]);
  }
}
