package io.tiercache.jmh;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.tiercache.Durability;
import io.tiercache.TieredCache;
import io.tiercache.TieredCacheBuilder;
import io.tiercache.jmh.Fixtures.Asset;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.openjdk.jmh.annotations.AuxCounters;
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
 * Loads, as an SDK that fetches assets from a remote service uses the cache. All tiercache caches
 * here use the JSON store with WRITE durability and a 10k front tier.
 *
 * <ul>
 *   <li>{@code missThenLoad}: {@code get(key, loader)} on a key neither tier has: the front-tier
 *       and store misses, the loader (returns a prebuilt asset at once), the durable append and the
 *       front-tier insert. {@code target=caffeine}: Caffeine's {@code get(key, mappingFunction)},
 *       the in-memory floor.
 *   <li>{@code loadOnce}: every thread asks for the same missing key at once; the loader takes
 *       50 us (a fast remote call) and then moves all threads on to the next key. The auxiliary
 *       counter {@code duplicateLoads} counts loader calls for a key already loaded: it must stay 0.
 *   <li>{@code singleLoads} / {@code bulkLoad}: 1,000 missing keys, one {@code get(key, loader)} at a
 *       time (1,000 loader calls, 1,000 journal writes) / one {@code getAll(keys, bulkLoader)} (one
 *       loader call, one journal write).
 *   <li>{@code bulkRead} / {@code loopRead}: 100 stored keys (100k entries, front tier 1k, so most
 *       reads reach the store) with one {@code getAllPresent} / one {@code getIfPresent} each.
 *   <li>{@code hit} with {@code refresh=off} / {@code on}: {@code get(key, loader)} on 100,000 stored
 *       keys in turn, all in the front tier. {@code off}: a plain hit. {@code on}: a
 *       {@code refreshAfterWrite} of 1 ms (the clock's grain), and a key comes back milliseconds after
 *       its last read, so every read finds its value due: it returns the value and starts a reload of
 *       that key on the executor (the common pool) unless one is pending. The reloads (loader, journal
 *       write, front-tier insert) compete with the reader for the cores, as they would in a user's
 *       process.
 * </ul>
 *
 * <p>The heap is touched before the measurement ({@code -XX:+AlwaysPreTouch}): see {@link StoreBenchmark}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 3, jvmArgsAppend = {"-Xms2g", "-Xmx2g", "-XX:+AlwaysPreTouch"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class LoadBenchmark {
  static final Asset VALUE = Fixtures.asset("remote", "small");

  static TieredCacheBuilder<String, Asset> builder(Path dir, long frontTier) {
    return TieredCache.builder(String.class, Asset.class).directory(dir).name("loads")
        .expireAfter(Duration.ofDays(1)).maximumSize(frontTier).durability(Durability.WRITE);
  }

  /** A tiercache cache in a temporary directory of its own, closed and deleted after the trial. */
  public abstract static class TempCache {
    Path dir;
    TieredCache<String, Asset> tiered;

    void open(String prefix, long frontTier) throws IOException {
      dir = Files.createTempDirectory(prefix);
      tiered = builder(dir, frontTier).build();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      tiered.close();
      Cleanup.delete(dir);
    }
  }

  /** A cache to miss in: tiercache or raw Caffeine. */
  @State(Scope.Benchmark)
  public static class Misses {
    @Param({"tiercache", "caffeine"})
    public String target;

    final AtomicLong next = new AtomicLong();
    Path dir;
    TieredCache<String, Asset> tiered;
    Cache<String, Asset> caffeine;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
      if (target.equals("tiercache")) {
        dir = Files.createTempDirectory("tiercache-load");
        tiered = builder(dir, 10_000).build();
      } else {
        caffeine = Caffeine.newBuilder().maximumSize(10_000).build();
      }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      if (tiered != null) {
        tiered.close();
        Cleanup.delete(dir);
      }
    }
  }

  @Benchmark
  public Asset missThenLoad(Misses m) {
    String key = "miss-" + m.next.getAndIncrement();
    return m.tiered != null ? m.tiered.get(key, k -> VALUE) : m.caffeine.get(key, k -> VALUE);
  }

  /** One shared round of keys for all threads. */
  @State(Scope.Benchmark)
  public static class Once extends TempCache {
    final AtomicLong round = new AtomicLong();
    final AtomicLong lastLoaded = new AtomicLong(-1);

    @Setup(Level.Trial)
    public void setUp() throws Exception {
      open("tiercache-once", 10_000);
    }
  }

  /** Per-thread counts, summed over threads by JMH. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.EVENTS)
  public static class LoadCounts {
    public long duplicateLoads;
    public long keysLoaded;

    @Setup(Level.Iteration)
    public void reset() {
      duplicateLoads = 0;
      keysLoaded = 0;
    }
  }

  @Benchmark
  public Asset loadOnce(Once o, LoadCounts counts) {
    long r = o.round.get();
    return o.tiered.get("once-" + r, k -> {
      if (o.lastLoaded.getAndSet(r) == r) {
        counts.duplicateLoads++;
      }
      LockSupport.parkNanos(50_000);
      counts.keysLoaded++;
      o.round.compareAndSet(r, r + 1);
      return VALUE;
    });
  }

  /** A fresh set of 1,000 missing keys for each invocation. */
  @State(Scope.Benchmark)
  public static class Bulk extends TempCache {
    final AtomicLong batch = new AtomicLong();

    @Setup(Level.Trial)
    public void setUp() throws Exception {
      open("tiercache-bulk", 10_000);
    }

    List<String> keys() {
      long b = batch.getAndIncrement();
      List<String> keys = new ArrayList<>(1_000);
      for (int i = 0; i < 1_000; i++) {
        keys.add("bulk-" + b + "-" + i);
      }
      return keys;
    }
  }

  @Benchmark
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  public int singleLoads(Bulk b) {
    int loaded = 0;
    for (String key : b.keys()) {
      loaded += b.tiered.get(key, k -> VALUE) == null ? 0 : 1;
    }
    return loaded;
  }

  @Benchmark
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  public int bulkLoad(Bulk b) {
    return b.tiered.getAll(b.keys(), missing -> { // one remote call for all the missing keys
      Map<String, Asset> loaded = new HashMap<>();
      missing.forEach(key -> loaded.put(key, VALUE));
      return loaded;
    }).size();
  }

  /**
   * 100,000 keys, every one in the front tier before the first measurement (a put writes around the
   * front tier, so each is read once); {@code refresh=on} finds every one of them due for a reload.
   */
  @State(Scope.Benchmark)
  public static class Refresh extends TempCache {
    static final int KEYS = 100_000;
    @Param({"off", "on"})
    public String refresh;

    final AtomicLong next = new AtomicLong();
    String[] keys;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
      dir = Files.createTempDirectory("tiercache-refresh");
      TieredCacheBuilder<String, Asset> builder = builder(dir, 2 * KEYS);
      if (refresh.equals("on")) {
        builder.refreshAfterWrite(Duration.ofMillis(1));
      }
      tiered = builder.build();
      keys = Fixtures.keys(KEYS);
      tiered.replaceAll(Fixtures.content(keys, Fixtures.assets(keys, "small")));
      for (String key : keys) {
        tiered.getIfPresent(key); // into the front tier; getIfPresent starts no refresh
      }
    }
  }

  @Benchmark
  public Asset hit(Refresh r) {
    String key = r.keys[(int) (r.next.getAndIncrement() % Refresh.KEYS)];
    return r.tiered.get(key, k -> VALUE);
  }

  /** 100k stored entries, a 1k front tier: bulk reads mostly reach the store. */
  @State(Scope.Benchmark)
  public static class Stored extends TempCache {
    static final int ENTRIES = 100_000;
    String[] keys;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
      open("tiercache-bulkread", 1_000);
      keys = Fixtures.keys(ENTRIES);
      Asset[] values = Fixtures.assets(keys, "small");
      tiered.replaceAll(Fixtures.content(keys, values));
      tiered.flush();
    }

    List<String> hundred() {
      int start = ThreadLocalRandom.current().nextInt(ENTRIES - 100);
      return List.of(keys).subList(start, start + 100);
    }
  }

  @Benchmark
  public Map<String, Asset> bulkRead(Stored s) {
    return s.tiered.getAllPresent(s.hundred());
  }

  @Benchmark
  public int loopRead(Stored s) {
    int found = 0;
    for (String key : s.hundred()) {
      found += s.tiered.getIfPresent(key) == null ? 0 : 1;
    }
    return found;
  }
}
