package io.tiercache.jmh;

import io.tiercache.Codec;
import io.tiercache.Durability;
import io.tiercache.TieredCache;
import io.tiercache.jmh.Fixtures.Asset;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;
import net.openhft.chronicle.map.ChronicleMap;
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
 * Durable writes: replacing one asset in a cache of {@code entries} assets (the size stays
 * constant), as {@code AssetCache.add} does. SampleTime gives ops/s (1 / mean) and latency
 * percentiles.
 *
 * <ul>
 *   <li>{@code tiercache-ASYNC|WRITE|FSYNC}: {@code TieredCache.put} under that durability.
 *   <li>{@code raw-append}: the floor under WRITE: encode the same value, build the same
 *       checksummed line, one {@code FileChannel} append. No lock, no index, no front tier.
 *   <li>{@code ehcache-disk}: Ehcache 3 persistent disk tier {@code put} of the same encoded bytes.
 *       Not crash-safe and never fsyncs: its durability is below WRITE.
 *   <li>{@code chronicle}: raw Chronicle Map {@code put} of the same encoded bytes into a persisted
 *       file: survives a killed process like WRITE, no fsync.
 * </ul>
 *
 * Every target encodes the same {@link Asset} with the same codec on each operation.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms4g", "-Xmx4g",
    "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED", "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "-Dchronicle.analytics.disable=true", "-Dchronicle.announcer.disable=true"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class WriteBenchmark {
  @Param({"tiercache-ASYNC", "tiercache-WRITE", "tiercache-FSYNC", "raw-append", "ehcache-disk", "chronicle"})
  public String target;

  @Param({"1000", "100000", "1000000"})
  public int entries;

  @Param({"small"})
  public String shape;

  Path dir;
  String[] keys;
  Asset[] values;
  final Codec<Asset> codec = Codec.json(Asset.class);
  final AtomicLong next = new AtomicLong();

  TieredCache<String, Asset> tiered;
  FileChannel raw;
  PersistentCacheManager ehcacheManager;
  org.ehcache.Cache<String, byte[]> ehcache;
  ChronicleMap<String, byte[]> chronicle;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    dir = Files.createTempDirectory("tiercache-write");
    // Distinct value objects for a bounded set of keys, reused round-robin.
    keys = Fixtures.keys(entries);
    values = Fixtures.assets(keys, shape);
    int distinct = values.length;
    byte[] sample = codec.encode(values[0]);
    if (target.startsWith("tiercache-")) {
      Durability durability = Durability.valueOf(target.substring("tiercache-".length()));
      tiered = TieredCache.builder(String.class, Asset.class).directory(dir).name("writes")
          .expireAfter(Duration.ofDays(1)).maximumSize(10_000).durability(durability).build();
      Map<String, Asset> initial = new HashMap<>();
      for (int i = 0; i < entries; i++) {
        initial.put(keys[i], values[i % distinct]);
      }
      tiered.replaceAll(initial);
      tiered.flush();
    } else if (target.equals("raw-append")) {
      raw = FileChannel.open(dir.resolve("raw.journal"), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.APPEND);
    } else if (target.equals("ehcache-disk")) {
      ehcacheManager = CacheManagerBuilder.newCacheManagerBuilder()
          .with(CacheManagerBuilder.persistence(dir.resolve("ehcache").toFile()))
          .withCache("writes", CacheConfigurationBuilder.newCacheConfigurationBuilder(String.class, byte[].class,
              ResourcePoolsBuilder.newResourcePoolsBuilder().heap(10, EntryUnit.ENTRIES)
                  .disk(4, MemoryUnit.GB, true)))
          .build(true);
      ehcache = ehcacheManager.getCache("writes", String.class, byte[].class);
      for (int i = 0; i < entries; i++) {
        ehcache.put(keys[i], codec.encode(values[i % distinct]));
      }
    } else if (target.equals("chronicle")) {
      chronicle = ChronicleMap.of(String.class, byte[].class).name("writes")
          .entries((long) (entries * 1.2) + 1000).averageKey(keys[keys.length - 1])
          .averageValueSize(sample.length).createPersistedTo(dir.resolve("writes.cmap").toFile());
      for (int i = 0; i < entries; i++) {
        chronicle.put(keys[i], codec.encode(values[i % distinct]));
      }
    } else {
      throw new IllegalArgumentException(target);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    if (tiered != null) {
      tiered.close();
    }
    if (raw != null) {
      raw.close();
    }
    if (ehcacheManager != null) {
      ehcacheManager.close();
    }
    if (chronicle != null) {
      chronicle.close();
    }
    Cleanup.delete(dir);
  }

  @Benchmark
  public Object put() throws Exception {
    int i = (int) (next.getAndIncrement() % entries);
    String key = keys[i];
    Asset value = values[i % values.length];
    switch (target) {
      case "raw-append": {
        byte[] encoded = codec.encode(value);
        raw.write(ByteBuffer.wrap(line(key, encoded)));
        return encoded;
      }
      case "ehcache-disk": {
        byte[] encoded = codec.encode(value);
        ehcache.put(key, encoded);
        return encoded;
      }
      case "chronicle": {
        byte[] encoded = codec.encode(value);
        chronicle.put(key, encoded);
        return encoded;
      }
      default:
        tiered.put(key, value);
        return value;
    }
  }

  /** The same line tiercache's journal writes: CRC-32C, then ["p","key",value]. */
  static byte[] line(String key, byte[] value) {
    byte[] prefix = ("[\"p\",\"" + key + "\",").getBytes(StandardCharsets.US_ASCII);
    byte[] body = new byte[prefix.length + value.length + 1];
    System.arraycopy(prefix, 0, body, 0, prefix.length);
    System.arraycopy(value, 0, body, prefix.length, value.length);
    body[body.length - 1] = ']';
    CRC32C crc = new CRC32C();
    crc.update(body);
    byte[] line = new byte[9 + body.length + 1];
    long value32 = crc.getValue();
    for (int d = 7; d >= 0; d--) { // as tiercache does it: String.format would handicap the floor
      line[d] = (byte) "0123456789abcdef".charAt((int) (value32 & 0xf));
      value32 >>>= 4;
    }
    line[8] = ' ';
    System.arraycopy(body, 0, line, 9, body.length);
    line[line.length - 1] = '\n';
    return line;
  }
}
