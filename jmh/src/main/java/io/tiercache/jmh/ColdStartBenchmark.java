package io.tiercache.jmh;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.jsoniter.JsonIterator;
import io.tiercache.Codec;
import io.tiercache.TieredCache;
import io.tiercache.jmh.Fixtures.Asset;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.ehcache.PersistentCacheManager;
import org.ehcache.config.builders.CacheConfigurationBuilder;
import org.ehcache.config.builders.CacheManagerBuilder;
import org.ehcache.config.builders.ResourcePoolsBuilder;
import org.ehcache.config.units.EntryUnit;
import org.ehcache.config.units.MemoryUnit;
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
 * Cold start: from a file on disk to the first asset in hand.
 *
 * <ul>
 *   <li>{@code tiercache}: open the cache on its snapshot (the file is validated and its entries
 *       indexed by byte range, nothing decoded), get one asset, close.
 *   <li>{@code jsoniter} / {@code jackson}: read the same file and parse it whole into maps
 *       (what a cache that decodes on load must at least do).
 *   <li>{@code ehcache}: reopen an Ehcache 3 persistent disk cache holding the same entries, get one.
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms4g", "-Xmx4g"})
@Warmup(iterations = 3, batchSize = 1)
@Measurement(iterations = 8, batchSize = 1)
public class ColdStartBenchmark {
  @Param({"tiercache", "jsoniter", "jackson", "ehcache"})
  public String reader;

  @Param({"10000", "100000", "1000000"})
  public int entries;

  @Param({"small"})
  public String shape;

  Path dir;
  Path snapshot;
  final ObjectMapper jackson = new ObjectMapper();

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    dir = Files.createTempDirectory("tiercache-cold");
    snapshot = dir.resolve("assets.json");
    if (reader.equals("ehcache")) {
      Codec<Asset> codec = Codec.json(Asset.class);
      try (PersistentCacheManager manager = ehcacheManager()) {
        org.ehcache.Cache<String, byte[]> cache = manager.getCache("assets", String.class, byte[].class);
        for (int i = 0; i < entries; i++) {
          cache.put(Fixtures.key(i), codec.encode(Fixtures.asset(Fixtures.key(i), shape)));
        }
      }
      return;
    }
    Map<String, Asset> all = new LinkedHashMap<>();
    for (int i = 0; i < entries; i++) {
      all.put(Fixtures.key(i), Fixtures.asset(Fixtures.key(i), shape));
    }
    try (TieredCache<String, Asset> cache = openCache()) {
      cache.replaceAll(all); // closing compacts it into assets.json
    }
  }

  TieredCache<String, Asset> openCache() {
    return TieredCache.builder(String.class, Asset.class).directory(dir).name("assets")
        .expireAfter(Duration.ofDays(365)).refreshInterval(Duration.ZERO).build();
  }

  PersistentCacheManager ehcacheManager() {
    return CacheManagerBuilder.newCacheManagerBuilder()
        .with(CacheManagerBuilder.persistence(dir.resolve("ehcache").toFile()))
        .withCache("assets", CacheConfigurationBuilder.newCacheConfigurationBuilder(String.class, byte[].class,
            ResourcePoolsBuilder.newResourcePoolsBuilder().heap(10, EntryUnit.ENTRIES).disk(4, MemoryUnit.GB, true)))
        .build(true);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    Cleanup.delete(dir);
  }

  @Benchmark
  public Object open() throws Exception {
    String key = Fixtures.key(entries / 2);
    switch (reader) {
      case "tiercache":
        try (TieredCache<String, Asset> cache = openCache()) {
          return require(cache.getIfPresent(key));
        }
      case "jsoniter":
        return require(JsonIterator.parse(Files.readAllBytes(snapshot)).read());
      case "jackson":
        return require(jackson.readValue(Files.readAllBytes(snapshot), Map.class));
      case "ehcache":
        try (PersistentCacheManager manager = ehcacheManager()) {
          return require(manager.getCache("assets", String.class, byte[].class).get(key));
        }
      default:
        throw new IllegalArgumentException(reader);
    }
  }

  static Object require(Object value) {
    if (value == null) {
      throw new IllegalStateException("the entry is missing");
    }
    return value;
  }
}
