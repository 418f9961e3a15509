package io.tiercache.stress.faults;

import io.tiercache.AssetCache;
import io.tiercache.Durability;
import io.tiercache.TieredCache;
import io.tiercache.stress.Cli;
import io.tiercache.stress.Record;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * SIGKILL during a {@code replaceAll} / {@code AssetCache.addList} of {@code --entries} entries,
 * and during compactions. After each kill a new process opens the cache: it must see the old
 * content or the new, whole, never a mix ({@code partialStates}); after a compaction kill, the old
 * content and every acknowledged put. Two of every three replace kills land within 10 ms after the
 * cache's files (temporaries included) start to grow, so that they hit the writes themselves (a
 * 40 MB write takes tens of milliseconds of a replace's seconds); the third at a uniformly random
 * moment of the replace (its length measured on an uncrashed first replace).
 *
 * <p>Broken variant: a replace done as {@code invalidateAll()} and individual puts (one kill round).
 */
@Command(name = "replace-crash", sortOptions = false,
    description = "kill -9 during replaceAll/addList and compaction: the reopened content is old or new, never a mix.")
public final class ReplaceCrash extends Scenario {
  @Option(names = "--entries", defaultValue = "200000", description = "entries per replace (default ${DEFAULT-VALUE})")
  int entries;
  @Option(names = "--replace-rounds", defaultValue = "2", description = "kills during replaceAll (default ${DEFAULT-VALUE})")
  int replaceRounds;
  @Option(names = "--add-list-rounds", defaultValue = "1", description = "kills during addList (default ${DEFAULT-VALUE})")
  int addListRounds;
  @Option(names = "--compaction-rounds", defaultValue = "2", description = "kills during compactions (default ${DEFAULT-VALUE})")
  int compactionRounds;
  @Option(names = "--seed", defaultValue = "1", description = "random seed of the kill moments")
  long seed;

  @Override
  Tally run(Path base) throws Exception {
    Tally t = tally("replace as invalidateAll + puts");
    Path root = base.resolve("sandbox");
    Path cache = Files.createDirectories(root.resolve("cache"));
    Path work = base.resolve("work");
    Outside outside = Outside.create(root, cache);
    Random random = new Random(seed);
    String how = broken ? "puts" : "replaceAll";

    // An uncrashed replace: the content every later round starts from, and how long a replace takes.
    long millis;
    try (Child first = replacer(cache, work, "base", "replaceAll", "first")) {
      first.await("start", CHILD_TIMEOUT);
      millis = Cli.field(first.await("done", CHILD_TIMEOUT), "millis");
      first.finish(CHILD_TIMEOUT);
    }
    t.fact("replaceMillis", millis);
    Map<String, Long> content = Check.run(work, "first", cache, "--prefixes").prefixes();
    if (!content.equals(Map.of("base", (long) entries))) {
      t.violation(Tally.PARTIAL_STATES, 1, "an uncrashed replace left " + content);
    }
    List<String> kinds = new ArrayList<>();
    for (int i = 0; i < (broken ? 1 : replaceRounds); i++) {
      kinds.add(how);
    }
    for (int i = 0; i < (broken ? 0 : addListRounds); i++) {
      kinds.add("addList");
    }
    for (int round = 0; round < kinds.size(); round++) {
      String prefix = "r" + round;
      try (Child victim = replacer(cache, work, prefix, kinds.get(round), prefix)) {
        victim.await("start", CHILD_TIMEOUT);
        if (round % 3 == 2) {
          Thread.sleep((long) (random.nextDouble() * millis));
        } else {
          awaitGrowth(cache, Duration.ofMillis(Math.max(10_000, 3 * millis)));
          TimeUnit.MICROSECONDS.sleep(random.nextInt(10_000));
        }
        t.fact("killedDone", victim.said("done") ? 1 : 0);
        victim.kill();
      }
      Map<String, Long> after = Check.run(work, prefix, cache, "--prefixes").prefixes();
      if (!after.equals(content) && !after.equals(Map.of(prefix, (long) entries))) {
        t.violation(Tally.PARTIAL_STATES, 1, kinds.get(round) + " killed: reopened with " + after + ", neither "
            + content + " nor " + Map.of(prefix, entries));
      }
      content = after;
      t.fact("kills", 1);
    }
    for (int round = 0; round < (broken ? 0 : compactionRounds); round++) {
      String marks = "m" + round;
      List<String> acked;
      try (Child victim = child("compactor-" + round, List.of("compactor", "--dir",
          cache.toString(), "--prefix", marks), "1g", work)) {
        victim.await("start", CHILD_TIMEOUT);
        Thread.sleep((long) (random.nextDouble() * Math.max(1_000, 2 * millis)));
        victim.kill();
        acked = new ArrayList<>(victim.ids("ack"));
        t.fact("compactions", victim.count("compacted"));
      }
      Check.Report r = Check.run(work, marks, cache, "--prefixes", "--present",
          Check.ids(work.resolve(marks), acked).toString());
      Map<String, Long> after = new LinkedHashMap<>(r.prefixes());
      after.remove(marks);
      if (!after.equals(content)) {
        t.violation(Tally.PARTIAL_STATES, 1, "compaction killed: reopened with " + after + ", not " + content);
      }
      content = r.prefixes(); // the marks are part of the content from now on
      t.violation(Tally.LOST_ACKED, r.get("missing"), "compaction killed: acknowledged marks lost: " + r.ids("missing-id"));
      t.fact("kills", 1);
    }
    t.outside(outside.changes());
    return t;
  }

  private Child replacer(Path cache, Path work, String prefix, String how, String label) throws IOException {
    return child("replacer-" + label, List.of("replacer", "--dir", cache.toString(),
        "--prefix", prefix, "--entries", Integer.toString(entries), "--how", how), "1g", work);
  }

  /** Waits until the files in {@code cache} (temporaries included) hold 64 KB more than now. */
  private static void awaitGrowth(Path cache, Duration timeout) throws IOException, InterruptedException {
    long start = bytes(cache);
    long deadline = System.nanoTime() + timeout.toNanos();
    while (bytes(cache) < start + (64 << 10) && System.nanoTime() < deadline) {
      TimeUnit.MICROSECONDS.sleep(200);
    }
  }

  /** The bytes of the files in {@code dir}. */
  static long bytes(Path dir) throws IOException {
    long sum = 0;
    try (Stream<Path> files = Files.list(dir)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        try {
          sum += Files.size(p);
        } catch (IOException gone) {
          // renamed or removed meanwhile
        }
      }
    }
    return sum;
  }

  /** Builds the new content, says {@code start}, replaces (or, broken, invalidates and puts), says {@code done millis=}. */
  @Command(name = "replacer", hidden = true)
  int replacer(@Option(names = "--dir") Path dir, @Option(names = "--prefix") String prefix,
      @Option(names = "--entries") int entries, @Option(names = "--how") String how) {
    Map<String, Record> next = new LinkedHashMap<>();
    for (int i = 0; i < entries; i++) {
      String id = prefix + "-" + i;
      next.put(id, Record.of(id, prefix, i));
    }
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.US_ASCII);
    long start;
    switch (how) {
      case "addList" -> {
        AssetCache<Record> assets = AssetCache.builder(Record.class).cacheFilename(NAME)
            .configure(b -> b.directory(dir).expireAfter(Duration.ofDays(1)).lockTimeout(Duration.ofMinutes(2)))
            .build();
        out.println("start");
        start = System.nanoTime();
        assets.addList(next.values());
      }
      case "replaceAll", "puts" -> {
        TieredCache<String, Record> cache = cache(dir).durability(Durability.WRITE).build();
        out.println("start");
        start = System.nanoTime();
        if (how.equals("puts")) {
          cache.invalidateAll();
          next.forEach(cache::put);
        } else {
          cache.replaceAll(next);
        }
      }
      default -> throw new IllegalArgumentException("--how " + how);
    }
    out.println("done millis=" + (System.nanoTime() - start) / 1_000_000);
    Runtime.getRuntime().halt(0); // no close: the harness reads the files the replace left
    return 0;
  }

  /** Puts one mark and compacts ({@code flush()}), over and over until killed. */
  @Command(name = "compactor", hidden = true)
  int compactor(@Option(names = "--dir") Path dir, @Option(names = "--prefix") String prefix) {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.US_ASCII);
    TieredCache<String, Record> cache = cache(dir).durability(Durability.WRITE).build();
    out.println("start");
    for (int i = 0; ; i++) {
      String id = prefix + "-" + i;
      cache.put(id, Record.of(id, prefix, i));
      out.println("ack " + id);
      cache.flush();
      out.println("compacted");
    }
  }
}
