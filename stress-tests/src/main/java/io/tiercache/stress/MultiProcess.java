package io.tiercache.stress;

import com.jsoniter.JsonIterator;
import com.jsoniter.output.JsonStream;
import io.tiercache.CacheFiles;
import io.tiercache.TieredCache;
import java.io.IOException;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * N writer JVMs add M distinct ids each to one cache directory while a reader JVM checks that
 * the snapshot file is never torn and that the content it sees never shrinks. Afterwards every id
 * must be present. Prints one line and exits non-zero when anything was lost or torn:
 *
 * <pre>processes=4 adds=8000 lost=0 torn=0 seconds=3.1</pre>
 *
 * {@code --broken} runs writers that do what the Python SDK does (read the whole file, add,
 * rewrite it in place, no lock) to show that the harness catches lost updates.
 *
 * <pre>java -cp ... io.tiercache.stress.MultiProcess [--processes 4] [--adds 2000] [--readers 1] [--dir D]
 *     [--broken] [--no-reader] [--store json] [--timeout-minutes 10] [--json FILE]</pre>
 *
 * Every child is bounded in time (writers by the timeout, readers by 60 s after the writers) and
 * killed in {@code finally}.
 *
 * <p>Throughput is timed inside the writers: each opens the cache, waits at a start barrier (a file
 * the harness creates once every writer is ready), and reports the wall-clock time of the barrier
 * and of its last add's return; {@code seconds} spans the first start to the last end, so JVM
 * start-up, open and close are outside it.
 */
public final class MultiProcess {
  static final String NAME = "stress";

  public record Result(int processes, long adds, long lost, long torn, double seconds) {
    public String line() {
      return String.format(java.util.Locale.ROOT, "processes=%d adds=%d lost=%d torn=%d seconds=%.1f",
          processes, adds, lost, torn, seconds);
    }

    /**
     * The result as a JMH JSON result file, so the benchmark report reads it like the others: one
     * run is one "fork"; the report merges the runs of one configuration.
     */
    public String jmhJson(String store) {
      return String.format(java.util.Locale.ROOT, "[{\"benchmark\":\"io.tiercache.stress.MultiProcess.add\","
          + "\"mode\":\"thrpt\",\"threads\":1,\"forks\":1,\"params\":{\"processes\":\"%d\",\"store\":\"%s\"},"
          + "\"primaryMetric\":{\"score\":%.1f,\"scoreError\":\"NaN\",\"scoreUnit\":\"ops/s\",\"rawData\":[[%.1f]]},"
          + "\"secondaryMetrics\":{\"lost\":{\"score\":%d,\"scoreUnit\":\"ids\",\"rawData\":[[%d]]}}}]%n",
          processes, store, adds / seconds, adds / seconds, lost, lost);
    }
  }

  public static void main(String[] args) {
    System.exit(Cli.execute(new Arguments(), args));
  }

  @Command(name = "MultiProcess", sortOptions = false,
      description = "Writer JVMs add distinct ids to one cache while readers watch; exits 1 when an id was lost or a file torn.")
  static final class Arguments implements Callable<Integer> {
    @Mixin Cli.Help help;
    enum Mode { HARNESS, WRITER, READER }

    @Option(names = "--processes", defaultValue = "4", description = "writer JVMs (default ${DEFAULT-VALUE})")
    int processes;
    @Option(names = "--adds", defaultValue = "2000", description = "distinct ids per writer (default ${DEFAULT-VALUE})")
    int adds;
    @Option(names = "--warmup-adds", defaultValue = "0",
        description = "before the start barrier, each writer adds this many ids to a warm-up cache beside the timed"
            + " one, and again until a round passes without the JIT compiling (default ${DEFAULT-VALUE})")
    int warmupAdds;
    @Option(names = "--readers", defaultValue = "1", description = "reader JVMs (default ${DEFAULT-VALUE})")
    int readers;
    @Option(names = "--no-reader", description = "no reader JVM (throughput only)")
    boolean noReader;
    @Option(names = "--broken", description = "writers that do what the Python SDK does: the harness must catch them")
    boolean broken;
    @Option(names = "--store", defaultValue = "json", description = "json or chronicle (default ${DEFAULT-VALUE})")
    Args.Store store;
    @Option(names = "--dir", description = "the cache directory (default: a new temporary directory)")
    Path dir;
    @Option(names = "--timeout-minutes", defaultValue = "10", description = "bound on the writers (default ${DEFAULT-VALUE})")
    long timeoutMinutes;
    @Option(names = "--json", description = "also write the result as a JMH result file")
    Path json;
    @Option(names = "--mode", defaultValue = "harness", hidden = true)
    Mode mode;
    @Option(names = "--writer", hidden = true)
    String writer;

    @Override
    public Integer call() throws Exception {
      switch (mode) {
        case WRITER:
          write(dir, store, writer, adds, warmupAdds, broken);
          return 0;
        case READER:
          read(dir, store);
          return 0;
        default:
          Path d = dir != null ? dir : Files.createTempDirectory("tiercache-mp");
          Result r = run(d, store, processes, adds, warmupAdds, broken, noReader ? 0 : readers,
              Duration.ofMinutes(timeoutMinutes));
          System.out.println(r.line());
          if (json != null) {
            Files.writeString(json, r.jmhJson(store.option()));
          }
          return r.lost() == 0 && r.torn() == 0 ? 0 : Cli.BROKEN;
      }
    }
  }

  static TieredCache<String, Record> open(Path dir, Args.Store store) {
    return store.select(TieredCache.builder(String.class, Record.class).directory(dir).name(NAME)
        .expireAfter(Duration.ofDays(1)).lockTimeout(Duration.ofMinutes(2)).refreshInterval(Duration.ofMillis(50)))
        .build();
  }

  public static Result run(Path dir, int processes, int adds, boolean broken, Duration timeout) throws Exception {
    return run(dir, Args.Store.JSON, processes, adds, 0, broken, 1, timeout);
  }

  /**
   * {@code processes} writer JVMs of {@code adds} distinct ids each, and {@code readers} reader
   * JVMs (0: throughput only), on one cache in {@code dir}; each writer first makes {@code warmupAdds}
   * untimed adds to a cache of its own.
   */
  public static Result run(Path dir, Args.Store store, int processes, int adds, int warmupAdds, boolean broken,
      int readers, Duration timeout) throws Exception {
    Files.createDirectories(dir);
    Files.deleteIfExists(dir.resolve("go")); // a directory used before must not start the writers early
    Path done = dir.resolve("writers-done");
    List<Process> children = new ArrayList<>();
    try {
      List<Process> readerProcesses = new ArrayList<>();
      for (int r = 0; r < readers; r++) {
        readerProcesses.add(Children.start(MultiProcess.class,
            List.of("--mode", "reader", "--dir", dir.toString(), "--store", store.option())));
      }
      children.addAll(readerProcesses);
      List<Process> writers = new ArrayList<>();
      for (int w = 0; w < processes; w++) {
        List<String> args = new ArrayList<>(List.of("--mode", "writer", "--dir", dir.toString(), "--writer", "w" + w,
            "--adds", Integer.toString(adds), "--warmup-adds", Integer.toString(warmupAdds), "--store", store.option()));
        if (broken) {
          args.add("--broken");
        }
        writers.add(Children.start(MultiProcess.class, args));
      }
      children.addAll(writers);
      long deadline = System.nanoTime() + timeout.toNanos();
      for (int w = 0; w < processes; w++) {
        while (!Files.exists(dir.resolve("ready-w" + w))) {
          if (System.nanoTime() > deadline || !writers.get(w).isAlive()) {
            throw new IllegalStateException("writer w" + w + " never reached the start barrier");
          }
          Thread.sleep(1);
        }
      }
      Files.writeString(dir.resolve("go"), "go");
      long first = Long.MAX_VALUE;
      long last = Long.MIN_VALUE;
      for (Process w : writers) {
        if (!w.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
          throw new IllegalStateException("a writer did not finish within " + timeout);
        }
        if (w.exitValue() != 0 && !broken) {
          throw new IllegalStateException("a writer failed with exit code " + w.exitValue());
        }
        String times = new String(w.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        first = Math.min(first, Math.max(0, Cli.field(times, "start_us")));
        last = Math.max(last, Math.max(0, Cli.field(times, "end_us")));
      }
      double seconds = (last - first) / 1e6;
      Files.writeString(done, "done");
      long torn = 0;
      for (Process reader : readerProcesses) {
        if (!reader.waitFor(60, TimeUnit.SECONDS)) {
          throw new IllegalStateException("a reader did not finish");
        }
        String report = new String(reader.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        long t = Cli.field(report, "torn");
        torn += t < 0 ? 1 : t; // no report: the reader failed, which counts
      }
      long lost = 0;
      try (TieredCache<String, Record> cache = open(dir, store)) {
        for (int w = 0; w < processes; w++) {
          for (int i = 0; i < adds; i++) {
            if (cache.getIfPresent("w" + w + "-" + i) == null) {
              lost++;
            }
          }
        }
      }
      return new Result(processes, (long) processes * adds, lost, torn, seconds);
    } finally {
      Children.killAll(children);
    }
  }

  /**
   * A writer: distinct ids through the cache, or, broken, through the Python SDK's algorithm.
   * Prints the wall-clock microseconds of the start barrier and of its last add's return.
   */
  static void write(Path dir, Args.Store store, String writer, int adds, int warmupAdds, boolean broken)
      throws Exception {
    if (broken) {
      long start = await(dir, writer);
      for (int i = 0; i < adds; i++) {
        seedStyleAdd(dir.resolve(NAME + ".json"), Record.of(writer + "-" + i, writer, i));
      }
      System.out.println("start_us=" + start + " end_us=" + micros());
      return;
    }
    if (warmupAdds > 0) {
      warmUp(dir.resolve("warmup"), store, writer, warmupAdds);
    }
    try (TieredCache<String, Record> cache = open(dir, store)) {
      long start = await(dir, writer);
      for (int i = 0; i < adds; i++) {
        cache.put(writer + "-" + i, Record.of(writer + "-" + i, writer, i));
      }
      System.out.println("start_us=" + start + " end_us=" + micros());
    }
  }

  /**
   * Rounds of the same {@code adds} ids to a cache the writers share apart from the timed one (so
   * that reading each other's writes gets compiled too), until a round passes without the JIT
   * compiling anything, at most 20 rounds: C2 takes seconds of CPU here, and a process still
   * compiling takes a core from the others.
   */
  private static void warmUp(Path shared, Args.Store store, String writer, int adds) {
    CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
    try (TieredCache<String, Record> cache = open(shared, store)) {
      for (int round = 0; round < 20; round++) {
        long compiling = jit.getTotalCompilationTime();
        for (int i = 0; i < adds; i++) {
          cache.put(writer + "-" + i, Record.of(writer + "-" + i, writer, round));
        }
        if (jit.getTotalCompilationTime() == compiling) {
          return;
        }
      }
    }
  }

  /** Announces this writer ready and waits for the harness's start signal; returns when it came. */
  private static long await(Path dir, String writer) throws Exception {
    Files.writeString(dir.resolve("ready-" + writer), "ready");
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    while (!Files.exists(dir.resolve("go"))) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(writer + ": no start signal within 5 minutes");
      }
      Thread.sleep(0, 200_000);
    }
    return micros();
  }

  /** Wall-clock microseconds: comparable across the processes of one machine. */
  private static long micros() {
    java.time.Instant now = java.time.Instant.now();
    return now.getEpochSecond() * 1_000_000 + now.getNano() / 1_000;
  }

  /** What the Python AssetCache.add does: load the whole file, add, truncate and rewrite it, unlocked. */
  @SuppressWarnings("unchecked")
  static void seedStyleAdd(Path file, Record record) throws IOException {
    Map<String, Object> store;
    try {
      store = (Map<String, Object>) JsonIterator.parse(Files.readAllBytes(file)).read();
    } catch (NoSuchFileException | RuntimeException unreadable) {
      store = new LinkedHashMap<>(); // the seed invalidates an unreadable file: everything in it is gone
      store.put("expiry", System.currentTimeMillis() / 1000.0 + 86_400);
      store.put("data", new LinkedHashMap<>());
    }
    Map<String, Object> data = new LinkedHashMap<>((Map<String, Object>) store.get("data"));
    Map<String, Object> fields = new LinkedHashMap<>();
    fields.put("id", record.id());
    fields.put("writer", record.writer());
    fields.put("sequence", record.sequence());
    fields.put("payload", record.payload());
    data.put(record.id(), fields);
    store.put("data", data);
    Files.writeString(file, JsonStream.serialize(store), StandardCharsets.UTF_8);
  }

  /**
   * The reader: until the writers are done, the files must always verify (the snapshot parses, no
   * damaged journal line; CacheFiles reads them without the lock, as any debugging tool would) and
   * the content must never shrink, neither as the files hold it nor as this process's cache sees it.
   * On the Chronicle store, whose file only Chronicle Map reads, every value must decode whole.
   */
  static void read(Path dir, Args.Store store) throws Exception {
    Path done = dir.resolve("writers-done");
    Path snapshot = dir.resolve(NAME + ".json");
    long torn = 0;
    long reads = 0;
    long shrinks = 0;
    long last = 0;
    long lastOnDisk = 0;
    try (TieredCache<String, Record> cache = open(dir, store)) {
      while (!Files.exists(done)) {
        reads++;
        long onDisk;
        if (store == Args.Store.JSON) {
          CacheFiles.Verification v = CacheFiles.verify(snapshot);
          if (!v.valid()) {
            torn++;
            System.err.println("reader: " + v.problems());
          }
          onDisk = v.inspection().liveEntries();
        } else {
          onDisk = 0;
          for (Map.Entry<String, Record> e : cache.asMap().entrySet()) {
            onDisk++;
            if (!e.getKey().equals(e.getValue().id())) {
              torn++;
              System.err.println("reader: " + e.getKey() + " holds " + e.getValue());
            }
          }
        }
        if (onDisk < lastOnDisk) {
          shrinks++;
          System.err.println("reader: the files held " + lastOnDisk + " ids, now " + onDisk);
        }
        lastOnDisk = Math.max(lastOnDisk, onDisk);
        cache.sync();
        long size = cache.estimatedSize();
        if (size < last) {
          shrinks++;
          System.err.println("reader: the cache held " + last + " ids, now " + size);
        }
        last = Math.max(last, size);
        Thread.sleep(5);
      }
    } catch (RuntimeException e) {
      torn++; // the reader could not even open or follow the cache
      System.err.println("reader: " + e);
    }
    System.out.println("torn=" + (torn + shrinks) + " reads=" + reads + " shrinks=" + shrinks);
  }
}
