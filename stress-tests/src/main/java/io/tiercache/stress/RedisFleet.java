package io.tiercache.stress;

import io.tiercache.StoreSpec;
import io.tiercache.TieredCache;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * N JVMs on one Redis, each with its own front tier: every JVM writes its own keys (a rising
 * sequence number per key) and reads every JVM's keys. A read is stale after the bound when it
 * returned sequence {@code s} although {@code s + 1} had been acknowledged to its writer more than
 * {@code --bound-ms} before the read began (times from the host's clock, shared by the JVMs).
 * Prints the largest staleness seen, then one line, and exits 1 when a read was stale:
 *
 * <pre>maxStalenessMillis=0.9 boundMillis=250 reads=91234
 * jvms=4 writes=9000 staleReadsAfterBound=0</pre>
 *
 * {@code --no-tracking} runs the JVMs with client tracking off
 * ({@code -Dtiercache.redis.tracking=false}), to show that the harness catches incoherent front tiers.
 *
 * <pre>java -cp ... io.tiercache.stress.RedisFleet --store redis --redis-uri redis://127.0.0.1:6379 [--jvms 4]
 *     [--seconds 5] [--keys 16] [--bound-ms 250] [--no-tracking]</pre>
 *
 * Children are bounded by {@code --seconds} plus a minute and killed in {@code finally}.
 */
public final class RedisFleet {
  static final String NAME = "fleet";

  public record Result(int jvms, long writes, long reads, long staleReadsAfterBound, double maxStalenessMillis,
      long boundMillis) {
    public String line() {
      return "jvms=" + jvms + " writes=" + writes + " staleReadsAfterBound=" + staleReadsAfterBound;
    }

    public String measurement() {
      return String.format(Locale.ROOT, "maxStalenessMillis=%.1f boundMillis=%d reads=%d",
          maxStalenessMillis, boundMillis, reads);
    }
  }

  public static void main(String[] args) {
    System.exit(Cli.execute(new Arguments(), args));
  }

  @Command(name = "RedisFleet", sortOptions = false,
      description = "JVMs sharing one Redis; exits 1 when a read was stale past the bound.")
  static final class Arguments implements Callable<Integer> {
    @Mixin Cli.Help help;
    enum Mode { HARNESS, MEMBER }

    /** Accepted for symmetry with the other harnesses, whose --store chooses; here it can only be redis. */
    enum Store { REDIS }

    @Option(names = "--store", defaultValue = "redis", description = "redis (the only store this harness runs)")
    Store store;
    @Option(names = "--redis-uri", required = true, description = "the server, redis://host:port")
    URI uri;
    @Option(names = "--jvms", defaultValue = "4", description = "member JVMs (default ${DEFAULT-VALUE})")
    int jvms;
    @Option(names = "--seconds", defaultValue = "5", description = "how long they run (default ${DEFAULT-VALUE})")
    int seconds;
    @Option(names = "--keys", defaultValue = "16", description = "keys per member (default ${DEFAULT-VALUE})")
    int keys;
    @Option(names = "--bound-ms", defaultValue = "250", description = "staleness bound (default ${DEFAULT-VALUE})")
    long boundMillis;
    @Option(names = "--no-tracking", description = "members without client tracking: the harness must catch them")
    boolean noTracking;
    @Option(names = "--mode", defaultValue = "harness", hidden = true)
    Mode mode;
    @Option(names = "--index", hidden = true)
    int index;
    @Option(names = "--out", hidden = true)
    Path out;

    @Override
    public Integer call() throws Exception {
      if (mode == Mode.MEMBER) {
        member(this);
        return 0;
      }
      Result r = run(uri, jvms, seconds, keys, boundMillis, noTracking);
      System.out.println(r.measurement());
      System.out.println(r.line());
      return r.staleReadsAfterBound() == 0 ? 0 : Cli.BROKEN;
    }
  }

  static TieredCache<String, Record> open(URI uri) {
    return TieredCache.builder(String.class, Record.class).store(StoreSpec.redis(uri)).name(NAME).expireAfter(Duration.ofDays(1))
        .build();
  }

  public static Result run(URI uri, int jvms, int seconds, int keys, long boundMillis, boolean noTracking)
      throws Exception {
    try (TieredCache<String, Record> cache = open(uri)) {
      cache.invalidateAll(); // sequences start again at 1
    }
    Path dir = Files.createTempDirectory("tiercache-fleet");
    List<Process> children = new ArrayList<>();
    try {
      for (int i = 0; i < jvms; i++) {
        List<String> args = new ArrayList<>(List.of("--mode", "member", "--redis-uri", uri.toString(),
            "--index", Integer.toString(i), "--jvms", Integer.toString(jvms), "--keys", Integer.toString(keys),
            "--seconds", Integer.toString(seconds), "--out", dir.resolve("member-" + i + ".log").toString()));
        if (noTracking) {
          args.add("--no-tracking");
        }
        children.add(Children.start(RedisFleet.class, args));
      }
      // Every member has opened the cache before any starts: then all run the same interval.
      for (Process p : children) {
        String ready = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)).readLine();
        if (!"ready".equals(ready)) {
          throw new IllegalStateException("a fleet member did not start (exit code " + p.waitFor() + ")");
        }
      }
      String startAt = (System.currentTimeMillis() + 50) + "\n";
      for (Process p : children) {
        p.getOutputStream().write(startAt.getBytes(StandardCharsets.US_ASCII));
        p.getOutputStream().flush();
      }
      for (Process p : children) {
        if (!p.waitFor(seconds + 60L, TimeUnit.SECONDS)) {
          throw new IllegalStateException("a fleet member did not finish within " + (seconds + 60) + " s");
        }
        if (p.exitValue() != 0) {
          throw new IllegalStateException("a fleet member failed with exit code " + p.exitValue());
        }
      }
      return judge(dir, jvms, boundMillis);
    } finally {
      Children.killAll(children);
      Children.deleteTree(dir);
    }
  }

  /** Merges the members' logs: acknowledgements by (writer, key, sequence), then every read against them. */
  static Result judge(Path dir, int jvms, long boundMillis) throws IOException {
    Map<String, Long> acks = new HashMap<>();
    List<String[]> reads = new ArrayList<>();
    long writes = 0;
    long readCount = 0;
    for (int i = 0; i < jvms; i++) {
      for (String line : Files.readAllLines(dir.resolve("member-" + i + ".log"))) {
        String[] f = line.split(" ");
        switch (f[0]) {
          case "W" -> { // W id sequence ackMicros
            acks.put(f[1] + " " + f[2], Long.parseLong(f[3]));
            writes++;
          }
          case "R" -> reads.add(f); // R id sequence lastReadStartMicros
          case "N" -> readCount += Long.parseLong(f[1]);
          default -> throw new IllegalStateException("bad log line: " + line);
        }
      }
    }
    long stale = 0;
    long maxLagMicros = 0;
    for (String[] r : reads) {
      Long next = acks.get(r[1] + " " + (Long.parseLong(r[2]) + 1));
      if (next != null) {
        long lag = Long.parseLong(r[3]) - next;
        maxLagMicros = Math.max(maxLagMicros, lag);
        if (lag > boundMillis * 1000) {
          stale++;
        }
      }
    }
    return new Result(jvms, writes, readCount, stale, maxLagMicros / 1000.0, boundMillis);
  }

  static long nowMicros() {
    Instant now = Instant.now();
    return now.getEpochSecond() * 1_000_000 + now.getNano() / 1_000;
  }

  /**
   * One JVM of the fleet: a writer thread (one put per millisecond, round robin over its keys) and
   * two readers (random keys of every member, a read every 20 µs or so). Logs each acknowledged write, and for each run of
   * reads that returned the same sequence of a key, the start time of the run's last read.
   */
  static void member(Arguments a) throws Exception {
    if (a.noTracking) {
      System.setProperty("tiercache.redis.tracking", "false");
    }
    int index = a.index;
    int jvms = a.jvms;
    int keys = a.keys;
    List<String> log = new ArrayList<>();
    try (TieredCache<String, Record> cache = open(a.uri)) {
      System.out.println("ready");
      System.out.flush();
      long startAt = Long.parseLong(new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII)).readLine());
      long end = startAt + a.seconds * 1000L;
      Thread.sleep(Math.max(0, startAt - System.currentTimeMillis()));
      List<Thread> readers = new ArrayList<>();
      for (int t = 0; t < 2; t++) {
        Thread reader = new Thread(() -> read(cache, jvms, keys, end, log));
        reader.start();
        readers.add(reader);
      }
      long[] sequences = new long[keys];
      List<String> written = new ArrayList<>();
      for (int k = 0; System.currentTimeMillis() < end; k = (k + 1) % keys) {
        String id = "w" + index + "-" + k;
        long sequence = ++sequences[k];
        cache.put(id, Record.of(id, "w" + index, sequence));
        written.add("W " + id + " " + sequence + " " + nowMicros());
        Thread.sleep(1);
      }
      for (Thread reader : readers) {
        reader.join();
      }
      synchronized (log) {
        log.addAll(written);
      }
    }
    try (BufferedWriter out = Files.newBufferedWriter(a.out)) {
      for (String line : log) {
        out.write(line);
        out.newLine();
      }
    }
  }

  private static void read(TieredCache<String, Record> cache, int jvms, int keys, long end, List<String> log) {
    long[] lastSequence = new long[jvms * keys];
    long[] lastStart = new long[jvms * keys];
    List<String> runs = new ArrayList<>();
    ThreadLocalRandom random = ThreadLocalRandom.current();
    long count = 0;
    while (System.currentTimeMillis() < end) {
      int slot = random.nextInt(jvms * keys);
      String id = "w" + slot / keys + "-" + slot % keys;
      long start = nowMicros();
      Record r = cache.getIfPresent(id);
      long sequence = r == null ? 0 : r.sequence();
      if (sequence != lastSequence[slot] && lastStart[slot] != 0) {
        runs.add("R " + id + " " + lastSequence[slot] + " " + lastStart[slot]);
      }
      lastSequence[slot] = sequence;
      lastStart[slot] = start;
      count++;
      LockSupport.parkNanos(20_000); // an application between reads; spinning readers would starve the I/O threads
    }
    for (int slot = 0; slot < lastStart.length; slot++) {
      if (lastStart[slot] != 0) {
        runs.add("R w" + slot / keys + "-" + slot % keys + " " + lastSequence[slot] + " " + lastStart[slot]);
      }
    }
    runs.add("N " + count);
    synchronized (log) {
      log.addAll(runs);
    }
  }
}
