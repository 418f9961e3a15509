package io.tiercache.stress;

import io.tiercache.CacheException;
import io.tiercache.CacheFiles;
import io.tiercache.Durability;
import io.tiercache.TieredCache;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A child JVM adds in a loop and prints each id once {@code put} has returned; the harness
 * SIGKILLs it at a random moment, then opens the cache and checks that the files are valid (no
 * damaged file moved aside, no temporary file left) and that every acknowledged id is there.
 * Each round adds to the same cache, so kills land in appends, lock leases and compactions.
 *
 * <pre>rounds=100 corrupt=0 lostAcked=0 acked=123456</pre>
 *
 * With {@code --durability ASYNC --async-delay-ms 5000} the child acknowledges writes that are
 * still in memory: the harness must then report lost acknowledged ids.
 */
public final class Crash {
  public record Result(int rounds, long corrupt, long lostAcked, long acked) {
    public String line() {
      return "rounds=" + rounds + " corrupt=" + corrupt + " lostAcked=" + lostAcked + " acked=" + acked;
    }
  }

  public static void main(String[] args) {
    System.exit(Cli.execute(new Arguments(), args));
  }

  @Command(name = "Crash", sortOptions = false,
      description = "SIGKILLs a writer JVM at random moments; exits 1 when an acknowledged id was lost or a file damaged.")
  static final class Arguments implements Callable<Integer> {
    @Mixin Cli.Help help;
    enum Mode { HARNESS, VICTIM }

    @Option(names = "--rounds", defaultValue = "100", description = "kill rounds (default ${DEFAULT-VALUE})")
    int rounds;
    @Option(names = "--durability", defaultValue = "WRITE", description = "${COMPLETION-CANDIDATES} (default ${DEFAULT-VALUE})")
    Durability durability;
    @Option(names = "--async-delay-ms", defaultValue = "50", description = "ASYNC flush delay (default ${DEFAULT-VALUE})")
    long asyncDelay;
    @Option(names = "--store", defaultValue = "json", description = "json or chronicle (default ${DEFAULT-VALUE})")
    Args.Store store;
    @Option(names = "--seed", defaultValue = "1", description = "random seed of the kill times")
    long seed;
    @Option(names = "--dir", description = "the cache directory (default: a new temporary directory)")
    Path dir;
    @Option(names = "--mode", defaultValue = "harness", hidden = true)
    Mode mode;
    @Option(names = "--prefix", hidden = true)
    String prefix;

    @Override
    public Integer call() throws Exception {
      if (mode == Mode.VICTIM) {
        victim(dir, store, prefix, durability, asyncDelay);
        return 0;
      }
      Path d = dir != null ? dir : Files.createTempDirectory("tiercache-crash");
      Result r = run(d, store, rounds, durability, asyncDelay, new Random(seed));
      System.out.println(r.line());
      return r.corrupt() == 0 && r.lostAcked() == 0 ? 0 : Cli.BROKEN;
    }
  }

  static TieredCache<String, Record> open(Path dir, Args.Store store, Durability durability, long asyncDelayMillis) {
    return store.select(TieredCache.builder(String.class, Record.class).directory(dir).name("crash")
        .expireAfter(Duration.ofDays(1)).durability(durability).asyncFlushDelay(Duration.ofMillis(asyncDelayMillis))
        .lockTimeout(Duration.ofSeconds(30))).build();
  }

  /** Adds until killed; an id is printed only after its put returned. */
  static void victim(Path dir, Args.Store store, String prefix, Durability durability, long asyncDelay) {
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.US_ASCII);
    TieredCache<String, Record> cache = open(dir, store, durability, asyncDelay);
    for (long i = 0; ; i++) {
      String id = prefix + "-" + i;
      cache.put(id, Record.of(id, prefix, i));
      out.println(id);
      out.flush();
    }
  }

  public static Result run(Path dir, int rounds, Durability durability, long asyncDelay, Random random)
      throws Exception {
    return run(dir, Args.Store.JSON, rounds, durability, asyncDelay, random);
  }

  /** As above on the given store. */
  public static Result run(Path dir, Args.Store store, int rounds, Durability durability, long asyncDelay,
      Random random) throws Exception {
    Files.createDirectories(dir);
    Set<String> acked = ConcurrentHashMap.newKeySet();
    Set<String> lost = new java.util.HashSet<>(); // distinct ids: each round re-checks every earlier one
    long corrupt = 0;
    for (int round = 0; round < rounds; round++) {
      // The cache grows every round (200 rounds: ~600k entries): the victim's heap must hold it.
      Path errors = Files.createTempFile("tiercache-victim", ".err");
      Process child = Children.start(Crash.class, List.of("--mode", "victim", "--dir", dir.toString(),
          "--prefix", "r" + round, "--durability", durability.name(), "--async-delay-ms", Long.toString(asyncDelay),
          "--store", store.option()),
          "2g", errors);
      CountDownLatch firstAck = new CountDownLatch(1);
      Thread collector = new Thread(() -> collect(child.getInputStream(), acked, firstAck), "acks");
      collector.start();
      try {
        long waitUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!firstAck.await(100, TimeUnit.MILLISECONDS) && child.isAlive() && System.nanoTime() < waitUntil) {
          // a child that dies before its first acknowledgement fails the round at once
        }
        if (firstAck.getCount() > 0) {
          String err = Files.readString(errors);
          throw new IllegalStateException("round " + round + ": the child acknowledged nothing (alive: "
              + child.isAlive() + "); its standard error ends with: "
              + err.substring(Math.max(0, err.length() - 2000)));
        }
        Thread.sleep(random.nextInt(400));
      } finally {
        child.destroyForcibly(); // SIGKILL on Linux: no shutdown hooks, no flush, no close
        child.waitFor(30, TimeUnit.SECONDS);
        collector.join(30_000);
        Files.deleteIfExists(errors);
      }
      long damagedBefore = damagedFiles(dir);
      // The files as the killed process left them: the snapshot must parse and every complete
      // journal line must be intact (an incomplete last line is the append the kill cut).
      // (Only Chronicle Map reads its file: there, opening it, recovery included, is the check.)
      boolean damaged = false;
      if (store == Args.Store.JSON) {
        CacheFiles.Verification verified = CacheFiles.verify(dir.resolve("crash.json"));
        if (!verified.valid()) {
          System.err.println("round " + round + ": the files do not verify: " + verified.problems());
          damaged = true;
        }
      }
      try (TieredCache<String, Record> cache = open(dir, store, Durability.WRITE, asyncDelay)) {
        for (String id : acked) {
          if (cache.getIfPresent(id) == null) {
            lost.add(id);
          }
        }
      } catch (CacheException e) {
        System.err.println("round " + round + ": the cache did not open: " + e.getMessage());
        damaged = true;
      }
      if (damagedFiles(dir) > damagedBefore || leftoverTemporaries(dir) > 0) {
        System.err.println("round " + round + ": a file was set aside or a temporary file was left");
        damaged = true;
      }
      if (damaged) {
        corrupt++; // rounds that left damage
      }
    }
    return new Result(rounds, corrupt, lost.size(), acked.size());
  }

  /** Counts complete lines only: a line cut by the kill was never acknowledged. */
  static void collect(InputStream in, Set<String> acked, CountDownLatch firstAck) {
    StringBuilder line = new StringBuilder();
    byte[] buf = new byte[8192];
    try {
      for (int n; (n = in.read(buf)) > 0; ) {
        for (int i = 0; i < n; i++) {
          if (buf[i] == '\n') {
            acked.add(line.toString());
            firstAck.countDown();
            line.setLength(0);
          } else {
            line.append((char) buf[i]);
          }
        }
      }
    } catch (IOException closed) {
      // the child is gone
    }
  }

  static long damagedFiles(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.getFileName().toString().contains(".corrupt-")).count();
    }
  }

  static long leftoverTemporaries(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.getFileName().toString().endsWith(".tmp")).count();
    }
  }
}
