package io.tiercache.jmh;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.jsoniter.JsonIterator;
import com.jsoniter.any.Any;
import io.tiercache.Codec;
import io.tiercache.TieredCache;
import io.tiercache.StoreSpec;
import io.tiercache.TieredCacheBuilder;
import io.tiercache.jmh.Fixtures.Asset;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.ehcache.PersistentCacheManager;

/**
 * A true cold start: each sample is a fresh JVM that opens a store of N assets on disk and gets
 * one value, timed from starting the process to the value printed ({@code process}) and, inside
 * the child, from just before the open to the value in hand ({@code open}: class loading and an
 * unwarmed JIT included, as a restarted application sees them); the child then closes and opens
 * again ({@code reopen}: the store's own work with its classes loaded, what an index and a mapping
 * should make cheap). With {@code --drop-caches}, the
 * kernel's page cache is dropped before each {@code cold} sample; {@code warm} samples read the
 * reader's files just before. Readers take turns within each round, in a rotating order.
 *
 * <p>Readers: {@code tiercache} (JSON store), {@code tiercache-chronicle}, {@code ehcache} (Ehcache 3
 * reopening its persistent disk tier), {@code lmdb} (opening the environment), {@code sqlite}
 * (opening the WAL database), {@code jsoniter} and {@code jackson} (parsing the snapshot whole),
 * and {@code jvm} (a JVM that prints at once: the start-up floor of {@code process}).
 *
 * <p>Writes JMH's JSON shape ({@code ColdStart.open}, {@code .process} and {@code .reopen}, ms, one "fork"
 * per sample) so that the report reads it like the rest.
 *
 * <pre>{@code java -cp benchmarks.jar io.tiercache.jmh.ColdStart --entries 100000,1000000 --samples 5
 *     [--readers tiercache,lmdb] [--drop-caches] --json cold.json}</pre>
 */
public final class ColdStart {
  static final List<String> READERS = List.of("jvm", "tiercache", "tiercache-chronicle", "ehcache", "lmdb", "sqlite",
      "jsoniter", "jackson");
  static final String NAME = "assets";
  static final List<String> PARSERS = List.of("jvm", "jsoniter", "jackson");

  private ColdStart() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> a = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      boolean value = i + 1 < args.length && !args[i + 1].startsWith("--");
      a.put(args[i].substring(2), value ? args[++i] : "true");
    }
    if (a.containsKey("child")) {
      child(a.get("child"), Path.of(a.get("dir")), Integer.parseInt(a.get("entries")));
      return;
    }
    List<String> readers = a.containsKey("readers") ? List.of(a.get("readers").split(",")) : READERS;
    List<Integer> sizes = Stream.of(a.getOrDefault("entries", "10000").split(",")).map(Integer::valueOf).toList();
    int samples = Integer.parseInt(a.getOrDefault("samples", "5"));
    boolean drop = a.containsKey("drop-caches");
    Path json = Path.of(a.getOrDefault("json", "cold.json"));
    Path root = Files.createTempDirectory("tiercache-cold");
    try {
      Files.writeString(json, run(root, readers, sizes, samples, drop));
    } finally {
      Cleanup.delete(root);
    }
  }

  static String run(Path root, List<String> readers, List<Integer> sizes, int samples, boolean drop) throws Exception {
    Map<String, List<Double>> open = new LinkedHashMap<>();
    Map<String, List<Double>> process = new LinkedHashMap<>();
    Map<String, List<Double>> reopen = new LinkedHashMap<>();
    List<String> states = drop ? List.of("warm", "cold") : List.of("warm");
    for (int n : sizes) {
      Path dir = root.resolve(Integer.toString(n));
      prepare(dir, n, readers);
      for (int s = 0; s < samples; s++) {
        for (int r = 0; r < readers.size(); r++) {
          String reader = readers.get((r + s) % readers.size());
          for (String state : states) {
            if (state.equals("cold")) {
              dropPageCache();
            } else {
              readFiles(dir, reader);
            }
            double[] ms = sample(dir, reader, n);
            String key = reader + "|" + n + "|" + state;
            open.computeIfAbsent(key, k -> new ArrayList<>()).add(ms[0]);
            process.computeIfAbsent(key, k -> new ArrayList<>()).add(ms[1]);
            if (ms[2] >= 0) {
              reopen.computeIfAbsent(key, k -> new ArrayList<>()).add(ms[2]);
            }
            System.out.printf(Locale.ROOT, "cold start: %-20s N=%-8d %s page cache: process %8.1f ms, open %8.1f ms,"
                + " reopen %7.2f ms%n", reader, n, state, ms[1], ms[0], ms[2]);
          }
        }
      }
      Cleanup.delete(dir);
    }
    List<String> rows = new ArrayList<>();
    rows(rows, "open", open);
    rows(rows, "process", process);
    rows(rows, "reopen", reopen);
    return "[" + String.join(",\n", rows) + "]\n";
  }

  private static void rows(List<String> out, String what, Map<String, List<Double>> values) {
    for (Map.Entry<String, List<Double>> e : values.entrySet()) {
      String[] k = e.getKey().split("\\|");
      StringBuilder raw = new StringBuilder();
      double sum = 0;
      for (double v : e.getValue()) {
        raw.append(raw.length() == 0 ? "" : ",").append(String.format(Locale.ROOT, "[%.4f]", v));
        sum += v;
      }
      out.add(String.format(Locale.ROOT, "{\"benchmark\":\"io.tiercache.jmh.ColdStart.%s\",\"mode\":\"ss\","
          + "\"threads\":1,\"forks\":%d,\"params\":{\"reader\":\"%s\",\"entries\":\"%s\",\"pageCache\":\"%s\"},"
          + "\"primaryMetric\":{\"score\":%.4f,\"scoreError\":\"NaN\",\"scoreUnit\":\"ms/op\",\"rawData\":[%s]}}",
          what, e.getValue().size(), k[0], k[1], k[2], sum / e.getValue().size(), raw));
    }
  }

  /** Writes the same N assets into every store a reader needs, closed and on disk. */
  static void prepare(Path dir, int n, List<String> readers) throws Exception {
    Files.createDirectories(dir);
    String[] keys = Fixtures.keys(n);
    Asset[] values = Fixtures.assets(keys, "small");
    byte[][] encoded = Fixtures.encode(values);
    Map<String, Asset> all = Fixtures.content(keys, values);
    if (readers.stream().anyMatch(r -> r.equals("tiercache") || r.equals("jsoniter") || r.equals("jackson"))) {
      try (TieredCache<String, Asset> cache = builder(dir, n, false).build()) {
        cache.replaceAll(all); // closing compacts it into assets.json
      }
    }
    if (readers.contains("tiercache-chronicle")) {
      try (TieredCache<String, Asset> cache = builder(dir, n, true).build()) {
        cache.replaceAll(all);
      }
    }
    if (readers.contains("ehcache")) {
      try (PersistentCacheManager manager = Peers.ehcache(dir.resolve("ehcache"))) {
        org.ehcache.Cache<String, byte[]> cache = Peers.assets(manager);
        for (int i = 0; i < n; i++) {
          cache.put(keys[i], encoded[i % encoded.length]);
        }
      }
    }
    if (readers.contains("lmdb")) {
      try (Peers.Lmdb lmdb = new Peers.Lmdb(dir.resolve("lmdb"), Peers.Lmdb.mapBytes(n, encoded[0].length), false)) {
        lmdb.putAll(keys, encoded);
      }
    }
    if (readers.contains("sqlite")) {
      try (Peers.Sqlite sqlite = new Peers.Sqlite(dir.resolve("assets.db"), "NORMAL")) {
        sqlite.putAll(keys, encoded);
      }
    }
  }

  static TieredCacheBuilder<String, Asset> builder(Path dir, int n, boolean chronicle) {
    TieredCacheBuilder<String, Asset> b = TieredCache.builder(String.class, Asset.class).directory(dir).name(NAME)
        .expireAfter(Duration.ofDays(365)).refreshInterval(Duration.ZERO);
    return chronicle ? b.store(StoreSpec.chronicleMap((long) (n * 2.2) + 1_000, 220)) : b;
  }

  /** One fresh JVM: {open ms, process ms, reopen ms}; process is measured to the line the child prints. */
  static double[] sample(Path dir, String reader, int n) throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> command = new ArrayList<>(List.of(java, "-Xmx4g"));
    command.addAll(List.of(Fixtures.CHRONICLE_FLAGS));
    command.addAll(List.of("--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
        "-cp", System.getProperty("java.class.path"), ColdStart.class.getName(),
        "--child", reader, "--dir", dir.toString(), "--entries", Integer.toString(n)));
    long start = System.nanoTime();
    Process child = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
      String line = out.readLine();
      double processMs = (System.nanoTime() - start) / 1e6;
      if (line == null || !line.startsWith("open_ns=")) {
        throw new IllegalStateException(reader + " at N=" + n + " printed no value: " + line);
      }
      if (!child.waitFor(2, TimeUnit.MINUTES)) {
        throw new IllegalStateException(reader + " at N=" + n + " did not exit within 2 minutes");
      }
      if (child.exitValue() != 0) {
        throw new IllegalStateException(reader + " at N=" + n + " failed with exit code " + child.exitValue());
      }
      Map<String, String> fields = new LinkedHashMap<>();
      for (String field : line.split(" ")) {
        fields.put(field.substring(0, field.indexOf('=')), field.substring(field.indexOf('=') + 1));
      }
      return new double[] {Long.parseLong(fields.get("open_ns")) / 1e6, processMs,
          Math.max(-1, Long.parseLong(fields.get("reopen_ns")) / 1e6)};
    } finally {
      child.destroyForcibly();
    }
  }

  /**
   * The child: open, get one value, close; then the same again (the reopen: classes loaded, the
   * file's pages as the first open left them). Prints both times and the value's id.
   */
  static void child(String reader, Path dir, int n) throws Exception {
    long first = openAndGet(reader, dir, n);
    // A parser has nothing to reopen: parsing again is the same work, which only makes the run longer.
    long again = PARSERS.contains(reader) ? -1 : openAndGet(reader, dir, n);
    System.out.println("open_ns=" + first + " reopen_ns=" + again);
    System.out.flush();
  }

  /** Nanoseconds from just before the open to the value in hand; closes after the clock stops. */
  private static long openAndGet(String reader, Path dir, int n) throws Exception {
    String key = Fixtures.key(n / 2);
    // The stores hold Fixtures.assets, reused round-robin: the value under key i is asset i mod 10,000.
    String expected = Fixtures.key((n / 2) % Math.min(n, 10_000));
    long start = System.nanoTime();
    AutoCloseable resource = null;
    String id;
    switch (reader) {
      case "jvm":
        id = expected;
        break;
      case "tiercache":
      case "tiercache-chronicle": {
        TieredCache<String, Asset> cache = builder(dir, n, reader.equals("tiercache-chronicle")).build();
        resource = cache;
        id = require(cache.getIfPresent(key)).id();
        break;
      }
      case "ehcache": {
        PersistentCacheManager manager = Peers.ehcache(dir.resolve("ehcache"));
        resource = manager;
        id = decode(Peers.assets(manager).get(key)).id();
        break;
      }
      case "lmdb": {
        Peers.Lmdb lmdb = new Peers.Lmdb(dir.resolve("lmdb"), Peers.Lmdb.mapBytes(n, 220), false);
        resource = lmdb;
        id = decode(lmdb.get(key)).id();
        break;
      }
      case "sqlite": {
        Peers.Sqlite sqlite = new Peers.Sqlite(dir.resolve("assets.db"), "NORMAL");
        resource = sqlite;
        id = decode(sqlite.get(key)).id();
        break;
      }
      case "jsoniter": {
        Any all = JsonIterator.deserialize(Files.readAllBytes(dir.resolve(NAME + ".json")));
        id = all.get("data").get(key).get("id").toString();
        break;
      }
      case "jackson": {
        Map<?, ?> all = new ObjectMapper().readValue(Files.readAllBytes(dir.resolve(NAME + ".json")), Map.class);
        id = String.valueOf(((Map<?, ?>) ((Map<?, ?>) all.get("data")).get(key)).get("id"));
        break;
      }
      default:
        throw new IllegalArgumentException("unknown reader " + reader + "; expected one of " + READERS);
    }
    long elapsed = System.nanoTime() - start;
    if (!id.equals(expected)) {
      throw new IllegalStateException(reader + " returned " + id + " for " + key + ", not " + expected);
    }
    if (resource != null) {
      resource.close();
    }
    return elapsed;
  }

  private static Asset decode(byte[] json) {
    return require(Codec.json(Asset.class).decode(require(json), 0, json.length));
  }

  private static <T> T require(T value) {
    if (value == null) {
      throw new IllegalStateException("the entry is missing");
    }
    return value;
  }

  /** Reads every file a reader opens, so that a warm sample finds them in the page cache. */
  static void readFiles(Path dir, String reader) throws IOException {
    Path files = switch (reader) {
      case "ehcache" -> dir.resolve("ehcache");
      case "lmdb" -> dir.resolve("lmdb");
      default -> dir;
    };
    try (Stream<Path> all = Files.walk(files)) {
      for (Path f : all.filter(Files::isRegularFile).toList()) {
        try (InputStream in = Files.newInputStream(f)) {
          in.transferTo(java.io.OutputStream.nullOutputStream());
        }
      }
    }
  }

  /** sync, then drop the kernel's page cache, dentries and inodes; root only. */
  static void dropPageCache() throws IOException, InterruptedException {
    new ProcessBuilder("sync").inheritIO().start().waitFor();
    Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3\n");
  }
}
