package io.tiercache.jmh;

import com.jsoniter.output.JsonStream;
import io.tiercache.TieredCache;
import io.tiercache.jmh.Fixtures.Asset;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
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
 * Compaction: writing a snapshot of {@code entries} assets durably.
 *
 * <ul>
 *   <li>{@code tiercache}: {@code flush()} with one change pending: the whole snapshot is
 *       rewritten from the entries' stored bytes (re-indented, not re-encoded), temp file, force,
 *       rename, directory force.
 *   <li>{@code jsoniter}: encode the same assets (as maps: jsoniter 0.9 cannot encode records)
 *       with jsoniter, write the bytes, force. No rename: a floor, not a safe write.
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms4g", "-Xmx4g"})
@Warmup(iterations = 3, batchSize = 1)
@Measurement(iterations = 8, batchSize = 1)
public class CompactionBenchmark {
  @Param({"tiercache", "jsoniter"})
  public String writer;

  @Param({"10000", "100000"})
  public int entries;

  Path dir;
  TieredCache<String, Asset> cache;
  Map<String, Object> asMaps;
  int round;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    dir = Files.createTempDirectory("tiercache-compaction");
    Map<String, Asset> all = new LinkedHashMap<>();
    asMaps = new LinkedHashMap<>();
    for (int i = 0; i < entries; i++) {
      Asset a = Fixtures.asset(Fixtures.key(i), "small");
      all.put(a.id(), a);
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("id", a.id());
      m.put("name", a.name());
      m.put("function", a.function());
      m.put("supplier", a.supplier());
      m.put("pricePerCall", a.pricePerCall());
      m.put("tags", a.tags());
      m.put("meta", a.meta());
      asMaps.put(a.id(), m);
    }
    cache = TieredCache.builder(String.class, Asset.class).directory(dir).name("assets")
        .expireAfter(Duration.ofDays(365)).refreshInterval(Duration.ZERO).build();
    cache.replaceAll(all);
    cache.flush();
  }

  @Setup(Level.Invocation)
  public void dirty() {
    // One pending change, so that flush() has something to fold and rewrites the snapshot.
    Asset a = Fixtures.asset(Fixtures.key(round++ % entries), "small");
    cache.put(a.id(), a);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    cache.close();
    Cleanup.delete(dir);
  }

  @Benchmark
  public Object compact() throws Exception {
    if (writer.equals("tiercache")) {
      cache.flush();
      return cache;
    }
    Map<String, Object> store = new LinkedHashMap<>();
    store.put("expiry", 1.7e9);
    store.put("data", asMaps);
    ByteArrayOutputStream out = new ByteArrayOutputStream(entries * 256);
    JsonStream.serialize(store, out);
    try (FileChannel ch = FileChannel.open(dir.resolve("raw.json"), StandardOpenOption.CREATE,
        StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer buf = ByteBuffer.wrap(out.toByteArray());
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
      ch.force(true);
    }
    return out;
  }
}
