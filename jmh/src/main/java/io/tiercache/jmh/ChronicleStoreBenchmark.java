package io.tiercache.jmh;

import io.tiercache.Codec;
import io.tiercache.StoreSpec;
import io.tiercache.TieredCache;
import io.tiercache.TieredCacheBuilder;
import io.tiercache.jmh.Fixtures.Asset;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import net.openhft.chronicle.map.ChronicleMap;
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
 * Get and put of one asset on the Chronicle Map store, against raw Chronicle Map holding the same
 * JSON bytes (with the same codec: what a user of raw Chronicle Map with JSON values does) and
 * against the JSON file store. Keys are uniform over N entries, so the front tier (bounded at
 * 10,000) mostly misses at 100k and 1M: {@code get} measures the store, not Caffeine.
 *
 * <ul>
 *   <li>{@code tiercache-chronicle}: {@code TieredCache} over the Chronicle store, WRITE.
 *   <li>{@code raw-chronicle}: {@code ChronicleMap<String, byte[]>}: get + decode, encode + put.
 *   <li>{@code tiercache-json}: {@code TieredCache} over the JSON store, WRITE.
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Benchmark)
@Fork(value = 1, jvmArgsAppend = {"-Xms4g", "-Xmx4g",
    "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED", "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "-Dchronicle.analytics.disable=true", "-Dchronicle.announcer.disable=true"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class ChronicleStoreBenchmark {
  @Param({"tiercache-chronicle", "raw-chronicle", "tiercache-json"})
  public String target;

  @Param({"100000", "1000000"})
  public int entries;

  Path dir;
  String[] keys;
  Asset[] values;
  final Codec<Asset> codec = Codec.json(Asset.class);
  TieredCache<String, Asset> tiered;
  ChronicleMap<String, byte[]> chronicle;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    dir = Files.createTempDirectory("tiercache-chronicle");
    keys = Fixtures.keys(entries);
    values = Fixtures.assets(keys, "small");
    int distinct = values.length;
    int valueBytes = codec.encode(values[0]).length;
    long capacity = (long) (entries * 2.2) + 1_000; // the initial replace holds old and new content briefly
    if (target.equals("raw-chronicle")) {
      chronicle = ChronicleMap.of(String.class, byte[].class).name("assets").entries(capacity)
          .averageKeySize(40).averageValueSize(valueBytes + 8).createPersistedTo(dir.resolve("raw.cmap").toFile());
      for (int i = 0; i < entries; i++) {
        chronicle.put(keys[i], codec.encode(values[i % distinct]));
      }
      // As the tiercache targets' flush() does: the measurement starts on clean pages, so the
      // first write to each page faults alike in both.
      try (FileChannel file = FileChannel.open(dir.resolve("raw.cmap"), StandardOpenOption.READ)) {
        file.force(false);
      }
      return;
    }
    TieredCacheBuilder<String, Asset> builder = TieredCache.builder(String.class, Asset.class).directory(dir)
        .name("assets").expireAfter(Duration.ofDays(1)).maximumSize(10_000);
    if (target.equals("tiercache-chronicle")) {
      builder.store(StoreSpec.chronicleMap(capacity, valueBytes));
    }
    tiered = builder.build();
    Map<String, Asset> initial = new HashMap<>();
    for (int i = 0; i < entries; i++) {
      initial.put(keys[i], values[i % distinct]);
    }
    tiered.replaceAll(initial);
    tiered.flush();
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    if (tiered != null) {
      tiered.close();
    }
    if (chronicle != null) {
      chronicle.close();
    }
    Cleanup.delete(dir);
  }

  @Benchmark
  public Object get() {
    int i = java.util.concurrent.ThreadLocalRandom.current().nextInt(entries);
    if (chronicle != null) {
      byte[] json = chronicle.get(keys[i]);
      return codec.decode(json, 0, json.length);
    }
    return tiered.getIfPresent(keys[i]);
  }

  @Benchmark
  public Object put() {
    int i = java.util.concurrent.ThreadLocalRandom.current().nextInt(entries);
    Asset value = values[i % values.length];
    if (chronicle != null) {
      return chronicle.put(keys[i], codec.encode(value));
    }
    tiered.put(keys[i], value);
    return value;
  }
}
