package io.tiercache.jmh;

import io.tiercache.Codec;
import io.tiercache.Durability;
import io.tiercache.TieredCache;
import io.tiercache.TieredCacheBuilder;
import io.tiercache.jmh.Fixtures.Asset;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;
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
 * Durable writes: replacing one asset in a cache of {@code entries} assets with another (the size
 * stays constant), as {@code AssetCache.add} does. SampleTime gives the mean and the percentiles; every
 * thread takes the next key of one shared round-robin stream, so every target sees the same keys.
 *
 * <h2>Targets and their floors</h2>
 * <ul>
 *   <li>{@code tiercache-ASYNC|WRITE|FSYNC}: {@code TieredCache.put} under that durability, with
 *       compaction amortized in (the user's cost).
 *   <li>{@code tiercache-WRITE-append}: WRITE with compaction deferred: the append path alone.
 *   <li>{@code raw-append}: the floor of the append path: the same checksummed journal line for the
 *       same key, one {@code FileChannel} append; the file starts empty, as tiercache's journal after
 *       its fill, and never compacts. No lock, no index, no front tier.
 *   <li>{@code raw-append-compacting}: the floor with compaction amortized in: the same append under
 *       one lock, an index of the encoded values by key, and, when the journal outgrows
 *       max(1 MiB, the snapshot) as tiercache's does, a rewrite of the snapshot from the pre-encoded
 *       values (temp file, force, rename, directory force), inline, then an empty journal.
 *   <li>{@code raw-append-fsync}: one append and one {@code force}: "one fsync", FSYNC's floor.
 *   <li>{@code encode}: encoding the value and nothing else: the step every target takes first, so
 *       the floor under any ratio of two targets (the {@code ASYNC} goals ask for ratios near it).
 *   <li>{@code ehcache-disk}: Ehcache 3's persistent disk tier {@code put}; never fsyncs, not
 *       crash-safe: below WRITE.
 *   <li>{@code chronicle}: raw Chronicle Map {@code put} into a persisted file: survives a killed
 *       process like WRITE.
 *   <li>{@code lmdb} / {@code lmdb-sync}: LMDB, one write transaction per put, {@code MDB_NOSYNC}
 *       (WRITE's equivalent) / synced commits (FSYNC's).
 *   <li>{@code sqlite-NORMAL} / {@code sqlite-FULL}: SQLite in WAL mode, one autocommit upsert per
 *       put, {@code synchronous=NORMAL} (WRITE's equivalent) / {@code FULL} (FSYNC's).
 * </ul>
 *
 * Every target encodes the same {@link Asset} with the same codec on each operation. {@code shape}
 * {@code small} is ~200 bytes of JSON, {@code large} ~5 KB.
 *
 * <p>The heap is touched before the fill ({@code -XX:+AlwaysPreTouch}, as in {@link StoreBenchmark}),
 * and is 2 GB (enough at 1M entries) so that touching it takes about 5 s per fork. Without it, every
 * target paid the kernel's first touch of the pages G1 grew its young generation into, in proportion to
 * what it allocates: an {@code ASYNC} put at 1k entries (4 GB heap) took 5.0-8.4 us on average and 1.2-1.4
 * at the median, with 46,600 page faults a second and 36% of the process's samples in the kernel;
 * touched first, 1.1-2.2 us and 0.67, with 480 faults a second and 13%.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 3, jvmArgsAppend = {"-Xms2g", "-Xmx2g", "-XX:+AlwaysPreTouch",
    "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED", "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "-Dchronicle.analytics.disable=true", "-Dchronicle.announcer.disable=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class WriteBenchmark {
  @Param({"tiercache-ASYNC", "tiercache-WRITE", "tiercache-FSYNC", "tiercache-WRITE-append", "raw-append",
      "raw-append-compacting", "raw-append-fsync", "encode", "ehcache-disk", "chronicle", "lmdb", "lmdb-sync",
      "sqlite-NORMAL", "sqlite-FULL"})
  public String target;

  @Param({"1000", "100000", "1000000"})
  public int entries;

  @Param({"small", "large"})
  public String shape;

  Path dir;
  String[] keys;
  Asset[] values;
  final Codec<Asset> codec = Codec.json(Asset.class);
  final AtomicLong next = new AtomicLong();

  TieredCache<String, Asset> tiered;
  FileChannel raw;
  CompactingLog compacting;
  PersistentCacheManager ehcacheManager;
  org.ehcache.Cache<String, byte[]> ehcache;
  ChronicleMap<String, byte[]> chronicle;
  Peers.Lmdb lmdb;
  Peers.Sqlite sqlite;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    dir = Files.createTempDirectory("tiercache-write");
    keys = Fixtures.keys(entries);
    values = Fixtures.assets(keys, shape);
    byte[][] encoded = Fixtures.encode(values);
    if (target.startsWith("tiercache-")) {
      String durability = target.substring("tiercache-".length()).replace("-append", "");
      TieredCacheBuilder<String, Asset> builder = TieredCache.builder(String.class, Asset.class).directory(dir)
          .name("writes").expireAfter(Duration.ofDays(1)).maximumSize(10_000)
          .durability(Durability.valueOf(durability));
      if (target.endsWith("-append")) {
        Fixtures.deferCompaction(builder);
      }
      tiered = builder.build();
      tiered.replaceAll(Fixtures.content(keys, values));
      tiered.flush();
      return;
    }
    switch (target) {
      case "raw-append":
      case "raw-append-fsync":
        raw = FileChannel.open(dir.resolve("raw.journal"), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.APPEND);
        break;
      case "raw-append-compacting":
        compacting = new CompactingLog(dir, keys, encoded);
        break;
      case "encode":
        break;
      case "ehcache-disk":
        ehcacheManager = Peers.ehcache(dir.resolve("ehcache"));
        ehcache = Peers.assets(ehcacheManager);
        for (int i = 0; i < entries; i++) {
          ehcache.put(keys[i], encoded[i % encoded.length]);
        }
        break;
      case "chronicle":
        chronicle = ChronicleMap.of(String.class, byte[].class).name("writes")
            .entries((long) (entries * 1.2) + 1000).averageKey(keys[keys.length - 1])
            .averageValueSize(encoded[0].length).createPersistedTo(dir.resolve("writes.cmap").toFile());
        for (int i = 0; i < entries; i++) {
          chronicle.put(keys[i], encoded[i % encoded.length]);
        }
        break;
      case "lmdb":
      case "lmdb-sync":
        lmdb = new Peers.Lmdb(dir.resolve("lmdb"), Peers.Lmdb.mapBytes(entries, encoded[0].length),
            target.equals("lmdb-sync"));
        lmdb.putAll(keys, encoded);
        break;
      case "sqlite-NORMAL":
      case "sqlite-FULL":
        sqlite = new Peers.Sqlite(dir.resolve("assets.db"), target.substring("sqlite-".length()));
        sqlite.putAll(keys, encoded);
        break;
      default:
        throw new IllegalArgumentException(target);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {tiered, raw, compacting, ehcacheManager, chronicle, lmdb, sqlite}) {
      if (c != null) {
        c.close();
      }
    }
    Cleanup.delete(dir);
  }

  @Benchmark
  public Object put() throws Exception {
    long n = next.getAndIncrement();
    int i = (int) (n % entries);
    String key = keys[i];
    Asset value = values[valueIndex(n, entries, values.length)];
    if (tiered != null) {
      tiered.put(key, value);
      return value;
    }
    byte[] encoded = codec.encode(value);
    switch (target) {
      case "raw-append":
        raw.write(ByteBuffer.wrap(line(key, encoded)));
        break;
      case "raw-append-fsync":
        raw.write(ByteBuffer.wrap(line(key, encoded)));
        raw.force(false);
        break;
      case "raw-append-compacting":
        compacting.append(key, encoded);
        break;
      case "encode":
        break;
      case "ehcache-disk":
        ehcache.put(key, encoded);
        break;
      case "chronicle":
        chronicle.put(key, encoded);
        break;
      case "lmdb":
      case "lmdb-sync":
        lmdb.put(key, encoded);
        break;
      default:
        sqlite.put(key, encoded);
    }
    return encoded;
  }

  /**
   * The value the {@code n}-th put writes: never the one its key holds (the fill left key i with
   * value {@code i % values}, each round shifts by one), so that a put replaces an asset. A peer may
   * skip a write that changes nothing: SQLite's upsert of the bytes a row already holds wrote and
   * synced nothing, and took 5.9 us under {@code synchronous=FULL} against 180 us for one fsync.
   */
  static int valueIndex(long n, int entries, int values) {
    return (int) ((n % entries + n / entries + 1) % values);
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

  /**
   * The floor of a journal with compaction: an index of the encoded values, an append per write,
   * and a durable snapshot of the pre-encoded values whenever the journal outgrows it.
   */
  static final class CompactingLog implements AutoCloseable {
    private final Path dir;
    private final Map<String, byte[]> index = new LinkedHashMap<>();
    private FileChannel journal;
    private long journalBytes;
    private long snapshotBytes;

    CompactingLog(Path dir, String[] keys, byte[][] encoded) throws IOException {
      this.dir = dir;
      for (int i = 0; i < keys.length; i++) {
        index.put(keys[i], encoded[i % encoded.length]);
      }
      snapshot();
    }

    synchronized void append(String key, byte[] encoded) throws IOException {
      index.put(key, encoded);
      byte[] line = line(key, encoded);
      journal.write(ByteBuffer.wrap(line));
      journalBytes += line.length;
      if (journalBytes > Math.max(1 << 20, snapshotBytes)) {
        snapshot();
      }
    }

    /** Temp file, force, rename, directory force; then a new, empty journal. */
    private void snapshot() throws IOException {
      Path temp = dir.resolve("raw.json.tmp");
      long written = 0;
      try (FileChannel out = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING)) {
        ByteBuffer buffer = ByteBuffer.allocate(1 << 20);
        buffer.put("{\"data\": {".getBytes(StandardCharsets.US_ASCII));
        boolean first = true;
        for (Map.Entry<String, byte[]> e : index.entrySet()) {
          byte[] name = e.getKey().getBytes(StandardCharsets.UTF_8);
          if (buffer.remaining() < name.length + e.getValue().length + 8) {
            written += drain(out, buffer);
          }
          if (!first) {
            buffer.put((byte) ',');
          }
          first = false;
          buffer.put((byte) '"').put(name).put((byte) '"').put((byte) ':');
          if (e.getValue().length > buffer.remaining()) {
            written += drain(out, buffer);
            written += out.write(ByteBuffer.wrap(e.getValue()));
          } else {
            buffer.put(e.getValue());
          }
        }
        buffer.put("}}".getBytes(StandardCharsets.US_ASCII));
        written += drain(out, buffer);
        out.force(true);
      }
      Files.move(temp, dir.resolve("raw.json"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
        d.force(true);
      }
      if (journal != null) {
        journal.close();
      }
      journal = FileChannel.open(dir.resolve("raw.journal"), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING);
      journalBytes = 0;
      snapshotBytes = written;
    }

    private static long drain(FileChannel out, ByteBuffer buffer) throws IOException {
      buffer.flip();
      long n = 0;
      while (buffer.hasRemaining()) {
        n += out.write(buffer);
      }
      buffer.clear();
      return n;
    }

    @Override
    public synchronized void close() throws IOException {
      journal.close();
    }
  }
}
