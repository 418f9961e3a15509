package io.tiercache.jmh;

import io.tiercache.stats.CacheStats;
import io.tiercache.TieredCache;
import io.tiercache.StoreSpec;
import io.tiercache.TieredCacheBuilder;
import io.tiercache.jmh.Fixtures.Asset;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
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
 * A mixed workload over a cache larger than its front tier: Zipfian keys (skew 0.99) over
 * {@code entries} assets, 90% reads and 10% writes (WRITE), a front tier of 10,000 entries, so the
 * working set does not fit and reads split between front-tier hits and store reads. The auxiliary
 * counters {@code frontHits} / {@code frontRequests} give the front tier's hit ratio (from its
 * statistics; every thread reports the same totals, so their ratio is unaffected by the sum).
 *
 * <p>The heap is touched before the measurement ({@code -XX:+AlwaysPreTouch}): see {@link StoreBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 3, jvmArgsAppend = {"-Xms4g", "-Xmx4g", "-XX:+AlwaysPreTouch",
    "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED", "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "-Dchronicle.analytics.disable=true", "-Dchronicle.announcer.disable=true"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class MixedWorkloadBenchmark {
  @Param({"json", "chronicle"})
  public String store;

  @Param({"1000000"})
  public int entries;

  Path dir;
  String[] keys;
  Asset[] values;
  TieredCache<String, Asset> cache;
  volatile CacheStats base;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    dir = Files.createTempDirectory("tiercache-mixed");
    keys = Fixtures.keys(entries);
    values = Fixtures.assets(keys, "small");
    TieredCacheBuilder<String, Asset> builder = TieredCache.builder(String.class, Asset.class).directory(dir)
        .name("mixed").expireAfter(Duration.ofDays(1)).maximumSize(10_000).recordStats();
    if (store.equals("chronicle")) {
      builder.store(StoreSpec.chronicleMap((long) (entries * 2.2) + 1_000, 220));
    }
    cache = builder.build();
    cache.replaceAll(Fixtures.content(keys, values));
    cache.flush();
  }

  @Setup(Level.Iteration)
  public void mark() {
    base = cache.stats();
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    cache.close();
    Cleanup.delete(dir);
  }

  /** Each thread's Zipfian sequence and read/write pattern, and the front tier's counts. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.EVENTS)
  public static class Cursor {
    int[] indexes;
    boolean[] writes;
    int position;
    public long frontHits;
    public long frontRequests;

    @Setup(Level.Trial)
    public void setUp(MixedWorkloadBenchmark b) {
      long seed = Thread.currentThread().getId();
      indexes = Fixtures.zipfIndexes(b.entries, 1 << 20, seed);
      writes = new boolean[indexes.length];
      SplittableRandom random = new SplittableRandom(seed * 31);
      for (int i = 0; i < writes.length; i++) {
        writes[i] = random.nextInt(100) < 10;
      }
    }

    @Setup(Level.Iteration)
    public void reset() {
      frontHits = 0;
      frontRequests = 0;
    }
  }

  @Benchmark
  public Object operation(Cursor c) {
    int p = c.position++ & (c.indexes.length - 1);
    if ((p & 1023) == 0) { // the front tier's counts since the iteration began, every 1,024 operations
      CacheStats now = cache.stats().minus(base);
      c.frontHits = now.frontHitCount();
      c.frontRequests = now.requestCount();
    }
    int i = c.indexes[p];
    if (c.writes[p]) {
      Asset value = values[i % values.length];
      cache.put(keys[i], value);
      return value;
    }
    return cache.getIfPresent(keys[i]);
  }
}
