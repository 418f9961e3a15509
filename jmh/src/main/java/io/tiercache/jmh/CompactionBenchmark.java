package io.tiercache.jmh;

import io.tiercache.TieredCache;
import io.tiercache.jmh.Fixtures.Asset;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
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
 *   <li>{@code tiercache}: {@code flush()} with one change pending: the whole snapshot is rewritten
 *       from the entries' stored bytes (re-indented, not re-encoded), temp file, force, rename,
 *       directory force, and a new journal.
 *   <li>{@code floor}: the same bytes tiercache's snapshot holds, already encoded and in memory,
 *       written the same safe way: temp file, force, rename, directory force. What any durable
 *       snapshot of this content must at least cost on this disk.
 * </ul>
 *
 * <p>The heap is touched before the measurement ({@code -XX:+AlwaysPreTouch}): see {@link StoreBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 3, jvmArgsAppend = {"-Xms4g", "-Xmx4g", "-XX:+AlwaysPreTouch"})
@Warmup(iterations = 3, batchSize = 1)
@Measurement(iterations = 8, batchSize = 1)
public class CompactionBenchmark {
  @Param({"tiercache", "floor"})
  public String writer;

  @Param({"10000", "100000", "1000000"})
  public int entries;

  Path dir;
  TieredCache<String, Asset> cache;
  byte[] snapshot;
  int round;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    dir = Files.createTempDirectory("tiercache-compaction");
    String[] keys = Fixtures.keys(entries);
    Map<String, Asset> all = Fixtures.content(keys, Fixtures.assets(keys, "small"));
    cache = TieredCache.builder(String.class, Asset.class).directory(dir).name("assets")
        .expireAfter(Duration.ofDays(365)).refreshInterval(Duration.ZERO).build();
    cache.replaceAll(all);
    cache.flush();
    snapshot = Files.readAllBytes(dir.resolve("assets.json"));
  }

  @Setup(Level.Invocation)
  public void dirty() {
    if (writer.equals("tiercache")) {
      // One pending change, so that flush() has something to fold and rewrites the snapshot.
      Asset a = Fixtures.asset(Fixtures.key(round++ % entries), "small");
      cache.put(a.id(), a);
    }
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
    Path temp = dir.resolve("floor.json.tmp");
    try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer buf = ByteBuffer.wrap(snapshot);
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
      ch.force(true);
    }
    Files.move(temp, dir.resolve("floor.json"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    }
    return temp;
  }
}
