package io.tiercache.stress;

import io.tiercache.Durability;
import io.tiercache.TieredCache;
import java.io.IOException;
import java.io.InputStream;
import java.lang.ref.Reference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A cache far larger than the heap that serves it. A child JVM with a large heap fills a JSON-store
 * cache with N records and closes it (a snapshot of several GB at 10M); another, with a small heap,
 * opens it, times the open to the first value (the first open in a JVM, which loads the classes, and a
 * second one), reads random keys and checks every value, and reports the heap it used: the snapshot is
 * mapped, not read into the heap, so the heap does not grow with the file. The broken variant,
 * {@code --hold-file}, serves the same way while holding the cache's JSON file in its heap, as the Python
 * SDK's {@code json.load} does: the same report must show its heap growing with the file.
 *
 * <pre>entries=10000000 snapshotBytes=4123456789 openMillis=3.1 reads=100000 wrong=0 heapUsedMb=41 maxHeapMb=256</pre>
 */
public final class LargeCache {
  public static void main(String[] args) {
    System.exit(Cli.execute(new Arguments(), args));
  }

  enum Mode { HARNESS, FILL, SERVE }

  @Command(name = "LargeCache", sortOptions = false,
      description = "Fills a cache in one JVM, serves it from another with a small heap; exits 1 when a value is wrong.")
  static final class Arguments implements Callable<Integer> {
    @Mixin Cli.Help help;

    @Option(names = "--entries", defaultValue = "1000000", description = "records (default ${DEFAULT-VALUE})")
    long entries;
    @Option(names = "--reads", defaultValue = "100000", description = "random reads when serving (default ${DEFAULT-VALUE})")
    int reads;
    @Option(names = "--fill-heap", defaultValue = "6g", description = "the filling JVM's heap (default ${DEFAULT-VALUE})")
    String fillHeap;
    @Option(names = "--serve-heap", defaultValue = "256m", description = "the serving JVM's heap (default ${DEFAULT-VALUE})")
    String serveHeap;
    @Option(names = "--dir", description = "the cache directory (default: a new temporary directory, removed after)")
    Path dir;
    @Option(names = "--timeout-minutes", defaultValue = "60", description = "bound on each child (default ${DEFAULT-VALUE})")
    long timeoutMinutes;
    @Option(names = "--mode", defaultValue = "harness", hidden = true)
    Mode mode;
    @Option(names = "--hold-file", hidden = true,
        description = "broken variant: hold the cache's JSON file in the heap while serving")
    boolean holdFile;

    @Override
    public Integer call() throws Exception {
      switch (mode) {
        case FILL:
          fill(dir, entries);
          return 0;
        case SERVE:
          System.out.println(serve(dir, entries, reads, holdFile));
          return 0;
        default:
          Path d = dir != null ? dir : Files.createTempDirectory("tiercache-large");
          try {
            String report = run(d, entries, reads, fillHeap, serveHeap, Duration.ofMinutes(timeoutMinutes));
            System.out.println(report);
            return Cli.field(report, "wrong") == 0 ? 0 : Cli.BROKEN;
          } finally {
            if (dir == null) {
              Children.deleteTree(d);
            }
          }
      }
    }
  }

  static TieredCache<String, Record> open(Path dir, Durability durability) {
    return TieredCache.builder(String.class, Record.class).directory(dir).name("large")
        .expireAfter(Duration.ofDays(1)).durability(durability).maximumSize(10_000).build();
  }

  static String key(long i) {
    return "asset-" + i;
  }

  /** The record of key {@code i}: ~200 bytes of JSON that a reader can check from the key alone. */
  static Record record(long i) {
    return new Record(key(i), "w" + (i % 7), i, Long.toHexString(i * 0x9e3779b97f4a7c15L).repeat(8));
  }

  /** Puts every record (in batches: one journal write each), then closes: the close compacts. */
  static void fill(Path dir, long entries) {
    try (TieredCache<String, Record> cache = open(dir, Durability.ASYNC)) {
      Map<String, Record> batch = new LinkedHashMap<>();
      for (long i = 0; i < entries; i++) {
        batch.put(key(i), record(i));
        if (batch.size() == 10_000 || i == entries - 1) {
          cache.putAll(batch);
          batch.clear();
        }
      }
    }
  }

  /** Opens, reads random keys and checks them; the report line. */
  static String serve(Path dir, long entries, int reads, boolean holdFile) throws IOException {
    List<byte[]> held = holdFile ? readWhole(dir.resolve("large.json")) : List.of();
    long start = System.nanoTime();
    TieredCache<String, Record> cache = open(dir, Durability.WRITE);
    long wrong = 0;
    Record first = cache.getIfPresent(key(entries / 2));
    double openMillis = (System.nanoTime() - start) / 1e6;
    if (!record(entries / 2).equals(first)) {
      wrong++;
    }
    SplittableRandom random = new SplittableRandom(42);
    for (int r = 0; r < reads; r++) {
      long i = random.nextLong(entries);
      if (!record(i).equals(cache.getIfPresent(key(i)))) {
        wrong++;
      }
    }
    if (cache.estimatedSize() != entries) {
      wrong++;
    }
    System.gc();
    Runtime rt = Runtime.getRuntime();
    long heapUsed = rt.totalMemory() - rt.freeMemory();
    Reference.reachabilityFence(held);
    long snapshotBytes = dir.resolve("large.snapshot").toFile().length();
    cache.close();
    // Again in this JVM, its classes loaded: what an open costs a process that already uses tiercache.
    long again = System.nanoTime();
    try (TieredCache<String, Record> reopened = open(dir, Durability.WRITE)) {
      if (!record(7).equals(reopened.getIfPresent(key(7)))) {
        wrong++;
      }
      double reopenMillis = (System.nanoTime() - again) / 1e6;
      return String.format(java.util.Locale.ROOT,
          "entries=%d snapshotBytes=%d openMillis=%.1f reopenMillis=%.2f reads=%d wrong=%d heapUsedMb=%d maxHeapMb=%d",
          entries, snapshotBytes, openMillis, reopenMillis, reads, wrong, heapUsed >> 20, rt.maxMemory() >> 20);
    }
  }

  /** The file in chunks, since a file of several GB does not fit one array. */
  private static List<byte[]> readWhole(Path file) throws IOException {
    List<byte[]> chunks = new ArrayList<>();
    try (InputStream in = Files.newInputStream(file)) {
      for (byte[] chunk = in.readNBytes(1 << 26); chunk.length > 0; chunk = in.readNBytes(1 << 26)) {
        chunks.add(chunk);
      }
    }
    return chunks;
  }

  static String run(Path dir, long entries, int reads, String fillHeap, String serveHeap, Duration timeout)
      throws Exception {
    child(List.of("--mode", "fill", "--dir", dir.toString(), "--entries", Long.toString(entries)), fillHeap,
        timeout);
    return serveIn(dir, entries, reads, serveHeap, false, timeout);
  }

  /** Serves the filled cache in a child JVM with the given heap; its report line. */
  static String serveIn(Path dir, long entries, int reads, String heap, boolean holdFile, Duration timeout)
      throws Exception {
    List<String> args = new ArrayList<>(List.of("--mode", "serve", "--dir", dir.toString(), "--entries",
        Long.toString(entries), "--reads", Integer.toString(reads)));
    if (holdFile) {
      args.add("--hold-file");
    }
    return child(args, heap, timeout);
  }

  private static String child(List<String> args, String heap, Duration timeout) throws Exception {
    Process p = Children.start(LargeCache.class, args, heap, null);
    try {
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException("a LargeCache child did not finish within " + timeout);
      }
      String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
      if (p.exitValue() != 0) {
        throw new IllegalStateException("a LargeCache child failed (exit " + p.exitValue() + "): " + out);
      }
      return out;
    } finally {
      p.destroyForcibly();
    }
  }
}
