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
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A child JVM puts in a loop, cycling over a bounded set of ids of its round, and prints each id
 * and sequence number once {@code put} has returned; the harness SIGKILLs it at a random moment,
 * then opens the cache and checks that the files are valid (no damaged file moved aside, no
 * temporary file left) and that every id holds its last acknowledged write or a later one: an id
 * missing counts as lost, an id holding an earlier write as older. The one id whose put the kill
 * may have cut (the one after the last acknowledged) counts as interrupted when it is missing: its
 * earlier write is lost too, which neither store may do (Chronicle Map overwrites a value in place,
 * then its checksum, and its recovery removes an entry whose checksum does not match: the store
 * keeps a copy of the old entry for the length of the replace). Each round adds to the same
 * cache and overwrites its own ids many times, so kills land in appends, lock leases and
 * compactions while the cache grows by a bounded amount a round, however fast the machine.
 *
 * <pre>rounds=100 corrupt=0 lostAcked=0 older=0 interrupted=0 acked=123456</pre>
 *
 * With {@code --durability ASYNC --async-delay-ms 5000} the child acknowledges writes that are
 * still in memory: the harness must then report lost acknowledged ids; with a delay shorter
 * than the round, older ones.
 *
 * <p>With {@code --power-loss} the cache lives on an ext4 loop device ({@link LoopDisk}) whose power
 * is cut at each kill: the checker opens the disk as a power loss leaves it, so only what was forced
 * counts. {@code FSYNC} must lose nothing acknowledged; {@code WRITE}, which forces nothing but its
 * compactions, is the variant that must lose.
 */
public final class Crash {
  /** Distinct ids a round cycles over: bounds the cache at {@code rounds * IDS_PER_ROUND} entries. */
  public static final int IDS_PER_ROUND = 3_000;

  /**
   * {@code lostAcked}: ids whose acknowledged write is missing; {@code older}: ids holding a write
   * older than their last acknowledged one; {@code interrupted}: ids missing whose put was in flight
   * at a kill (not in {@code lostAcked}); {@code acked}: acknowledged puts.
   */
  public record Result(int rounds, long corrupt, long lostAcked, long older, long interrupted, long acked) {
    public String line() {
      return "rounds=" + rounds + " corrupt=" + corrupt + " lostAcked=" + lostAcked + " older=" + older
          + " interrupted=" + interrupted + " acked=" + acked;
    }

    /** The store kept its promise: no damage, and every id holds its last acknowledged write or a later one. */
    public boolean intact() {
      return corrupt == 0 && lostAcked == 0 && older == 0 && interrupted == 0;
    }
  }

  public static void main(String[] args) {
    System.exit(Cli.execute(new Arguments(), args));
  }

  @Command(name = "Crash", sortOptions = false,
      description = "SIGKILLs a writer JVM at random moments; exits 1 when an acknowledged write was lost or a file damaged.")
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
    @Option(names = "--ids-per-round", defaultValue = "" + IDS_PER_ROUND,
        description = "distinct ids a round cycles over (default ${DEFAULT-VALUE})")
    int idsPerRound;
    @Option(names = "--dir", description = "the cache directory (default: a new temporary directory)")
    Path dir;
    @Option(names = "--power-loss", description = "run the cache on an ext4 loop device and cut its power at each kill (needs root)")
    boolean powerLoss;
    @Option(names = "--writers", defaultValue = "1",
        description = "writing threads in the killed JVM, each with its own ids (default ${DEFAULT-VALUE})")
    int writers;
    @Option(names = "--mode", defaultValue = "harness", hidden = true)
    Mode mode;
    @Option(names = "--prefix", hidden = true)
    String prefix;

    @Override
    public Integer call() throws Exception {
      if (mode == Mode.VICTIM) {
        victim(dir, store, prefix, idsPerRound, writers, durability, asyncDelay);
        return 0;
      }
      Path d = dir != null ? dir : Files.createTempDirectory("tiercache-crash");
      Result r = run(d, store, rounds, idsPerRound, writers, durability, asyncDelay, powerLoss, new Random(seed));
      System.out.println(r.line());
      return r.intact() ? 0 : Cli.BROKEN;
    }
  }

  static TieredCache<String, Record> open(Path dir, Args.Store store, Durability durability, long asyncDelayMillis) {
    return store.select(TieredCache.builder(String.class, Record.class).directory(dir).name("crash")
        .expireAfter(Duration.ofDays(1)).durability(durability).asyncFlushDelay(Duration.ofMillis(asyncDelayMillis))
        .lockTimeout(Duration.ofSeconds(30))).build();
  }

  /** The ids writer {@code w} of a round puts: {@code <prefix>-<n>}, writer 0 keeping the round's own prefix. */
  static String writerPrefix(String prefix, int w) {
    return w == 0 ? prefix : prefix + "w" + w;
  }

  /** How many ids each writer cycles over. */
  static int idsPerWriter(int idsPerRound, int writers) {
    return Math.max(1, idsPerRound / writers);
  }

  /**
   * Puts until killed, from {@code writers} threads that each cycle over their share of the ids;
   * {@code id sequence} is printed only after its put returned.
   */
  static void victim(Path dir, Args.Store store, String prefix, int idsPerRound, int writers, Durability durability,
      long asyncDelay) throws InterruptedException {
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.US_ASCII);
    TieredCache<String, Record> cache = open(dir, store, durability, asyncDelay);
    int ids = idsPerWriter(idsPerRound, writers);
    List<Thread> threads = new java.util.ArrayList<>();
    for (int w = 0; w < writers; w++) {
      String own = writerPrefix(prefix, w);
      threads.add(new Thread(() -> {
        for (long i = 0; ; i++) {
          String id = own + "-" + (i % ids);
          cache.put(id, Record.of(id, prefix, i));
          synchronized (out) {
            out.println(id + " " + i);
            out.flush();
          }
        }
      }, "writer-" + w));
    }
    threads.forEach(Thread::start);
    for (Thread t : threads) {
      t.join(); // until the kill
    }
  }

  public static Result run(Path dir, int rounds, Durability durability, long asyncDelay, Random random)
      throws Exception {
    return run(dir, Args.Store.JSON, rounds, IDS_PER_ROUND, 1, durability, asyncDelay, false, random);
  }

  public static Result run(Path dir, Args.Store store, int rounds, Durability durability, long asyncDelay,
      Random random) throws Exception {
    return run(dir, store, rounds, IDS_PER_ROUND, 1, durability, asyncDelay, false, random);
  }

  /**
   * As above with {@code idsPerRound} distinct ids a round, shared by {@code writers} threads; with
   * {@code powerLoss}, on a loop device under {@code base} whose power is cut at each kill.
   */
  public static Result run(Path base, Args.Store store, int rounds, int idsPerRound, int writers,
      Durability durability, long asyncDelay, boolean powerLoss, Random random) throws Exception {
    if (idsPerRound <= 0) {
      throw new IllegalArgumentException("idsPerRound must be positive: " + idsPerRound);
    }
    Files.createDirectories(base);
    LoopDisk disk = powerLoss ? LoopDisk.create(base.resolve("power-loss"), 2L << 30) : null;
    try {
      return rounds(disk, disk != null ? disk.path() : base, store, rounds, idsPerRound, writers, durability,
          asyncDelay, random);
    } finally {
      if (disk != null) {
        disk.close();
      }
    }
  }

  private static Result rounds(LoopDisk disk, Path dir, Args.Store store, int rounds, int idsPerRound, int writers,
      Durability durability, long asyncDelay, Random random) throws Exception {
    // id -> the last acknowledged sequence: one victim puts each id in order, so the cache must
    // hold that write or a later, unacknowledged one.
    Map<String, Long> acked = new ConcurrentHashMap<>();
    LongAdder acknowledgedPuts = new LongAdder();
    Set<String> lost = new HashSet<>(); // distinct ids: each round re-checks every earlier one
    Set<String> older = new HashSet<>();
    Set<String> interrupted = new HashSet<>();
    long corrupt = 0;
    for (int round = 0; round < rounds; round++) {
      // The cache grows by at most idsPerRound entries a round: the victim's heap must hold it.
      Path errors = Files.createTempFile("tiercache-victim", ".err");
      Process child = Children.start(Crash.class, List.of("--mode", "victim", "--dir", dir.toString(),
          "--prefix", "r" + round, "--ids-per-round", Integer.toString(idsPerRound), "--writers", Integer.toString(writers),
          "--durability", durability.name(), "--async-delay-ms", Long.toString(asyncDelay),
          "--store", store.option()),
          "2g", errors);
      CountDownLatch firstAck = new CountDownLatch(1);
      Map<String, Long> lastAcked = new ConcurrentHashMap<>(); // a writer's prefix -> its last acknowledged sequence
      Thread collector = new Thread(() -> collect(child.getInputStream(), acked, acknowledgedPuts, lastAcked, firstAck),
          "acks");
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
      if (disk != null) {
        disk.cut(); // the child is gone: nothing is in flight while the image is copied
        dir = disk.path();
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
        // The put after each writer's last acknowledged one is the only one the kill can have cut.
        Set<String> inFlight = new HashSet<>();
        for (int w = 0; w < writers; w++) {
          String own = writerPrefix("r" + round, w);
          inFlight.add(own + "-" + ((lastAcked.getOrDefault(own, -1L) + 1) % idsPerWriter(idsPerRound, writers)));
        }
        for (Map.Entry<String, Long> ack : acked.entrySet()) {
          Record held = cache.getIfPresent(ack.getKey());
          if (held == null) {
            if (!interrupted.contains(ack.getKey()) && !lost.contains(ack.getKey())) {
              boolean cut = inFlight.contains(ack.getKey());
              (cut ? interrupted : lost).add(ack.getKey());
              System.err.println("round " + round + ": " + ack.getKey() + " is missing (its last acknowledged put: "
                  + ack.getValue() + "; the put in flight at the kill: " + inFlight + (cut ? ")" : ", another key)"));
            }
          } else if (held.sequence() < ack.getValue()) {
            older.add(ack.getKey());
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
    return new Result(rounds, corrupt, lost.size(), older.size(), interrupted.size(), acknowledgedPuts.sum());
  }

  /** Counts complete lines only: a line cut by the kill was never acknowledged. */
  static void collect(InputStream in, Map<String, Long> acked, LongAdder acknowledgedPuts, Map<String, Long> lastAcked,
      CountDownLatch firstAck) {
    StringBuilder line = new StringBuilder();
    byte[] buf = new byte[8192];
    try {
      for (int n; (n = in.read(buf)) > 0; ) {
        for (int i = 0; i < n; i++) {
          if (buf[i] == '\n') {
            int space = line.indexOf(" ");
            long sequence = Long.parseLong(line, space + 1, line.length(), 10);
            String id = line.substring(0, space);
            acked.merge(id, sequence, Math::max);
            lastAcked.put(id.substring(0, id.lastIndexOf('-')), sequence); // each writer acknowledges in order
            acknowledgedPuts.increment();
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
