package io.tiercache.stress.faults;

import io.tiercache.AssetCache;
import io.tiercache.Durability;
import io.tiercache.stress.Record;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The Python SDK's algorithm (real python3, {@code seed_asset_cache.py}) racing a Java process
 * ({@link AssetCache}, {@code WRITE}) on one cache. The Python process loads its view when it is
 * constructed (on a cache tiercache has not compacted yet, that construction unlinks the lock file
 * and writes an empty snapshot) and every {@code add} rewrites the whole file from that view. Cases,
 * each on a new cache:
 * <ul>
 *   <li>{@code race}: Java adds {@code --java-assets} while Python adds {@code --python-assets};
 *   <li>{@code race-save}: the same, Java calling {@code save()} every 10 adds;
 *   <li>{@code java-exits}: as {@code race-save}, and the Java process closes and exits before Python's last add;
 *   <li>{@code add-list}: Python's {@code add_list} replaces the content halfway through Java's adds;
 *   <li>{@code invalidate}: Python's {@code invalidate()} deletes the files halfway through Java's adds, then Python adds.
 * </ul>
 * A fresh process must then serve every asset Java acknowledged (tiercache's rule: a rewrite by
 * another program adds and changes entries, it deletes none) and every asset Python's add returned
 * for. Broken variant: the Java side is a second Python SDK process (the {@code race} case).
 */
@Command(name = "python-race", sortOptions = false,
    description = "The Python SDK's algorithm racing Java writers: no acknowledged write of either side lost.")
public final class PythonRace extends Scenario {
  static final String PYTHON_LOST = "pythonLost";

  @Option(names = "--java-assets", defaultValue = "300", description = "Java's adds per case (default ${DEFAULT-VALUE})")
  int javaAssets;
  @Option(names = "--python-assets", defaultValue = "150", description = "Python's adds per case (default ${DEFAULT-VALUE})")
  int pythonAssets;
  @Option(names = "--rounds", defaultValue = "1", description = "times each case runs (default ${DEFAULT-VALUE})")
  int rounds;
  @Option(names = "--cases", split = ",", defaultValue = "race,race-save,java-exits,add-list,invalidate",
      description = "which cases (default ${DEFAULT-VALUE})")
  List<String> cases;

  @Override
  Tally run(Path base) throws Exception {
    Tally t = tally("the Java side runs the Python SDK's algorithm",
        PYTHON_LOST);
    List<String> which = broken ? List.of("race") : cases;
    for (int round = 0; round < rounds; round++) {
      for (String c : which) {
        Path root = base.resolve(c + "-" + round);
        Path cache = root.resolve("cache");
        Path work = root.resolve("work");
        Files.createDirectories(cache);
        Outside outside = Outside.create(root, cache, work);
        raceCase(c, cache, work, t);
        t.outside(outside.changes());
      }
    }
    return t;
  }

  private void raceCase(String c, Path cache, Path work, Tally t) throws Exception {
    boolean save = !c.equals("race");
    try (Child java = broken ? SeedPython.start("python-as-java", work, cache, NAME)
            : child("java", List.of("java", "--dir", cache.toString(), "--count",
                Integer.toString(javaAssets), "--save-every", save ? "10" : "0", "--pace-ms", "3"), "256m", work);
        Child python = SeedPython.start("python", work, cache, NAME)) {
      if (broken) {
        java.send("open");
        java.await("opened", CHILD_TIMEOUT);
      } else {
        java.await("ready", CHILD_TIMEOUT); // opened: the journal and lock exist, no snapshot yet
      }
      python.send("open"); // the SDK's constructor: no snapshot, so it unlinks the lock and saves an empty file
      python.await("opened", CHILD_TIMEOUT);
      java.send(broken ? "adds j 0 " + javaAssets + " 3" : "go");
      int half = pythonAssets / 2;
      switch (c) {
        case "race", "race-save" -> {
          python.send("adds p 0 " + pythonAssets + " 2");
          python.await("done adds p 0", CHILD_TIMEOUT);
        }
        case "java-exits" -> {
          python.send("adds p 0 " + (pythonAssets - 1) + " 2");
          python.await("done adds p 0", CHILD_TIMEOUT);
          java.finish(CHILD_TIMEOUT); // Java closed and exited; Python's view still predates all of it
          python.send("adds p " + (pythonAssets - 1) + " 1 0");
          python.await("done adds p " + (pythonAssets - 1), CHILD_TIMEOUT);
        }
        case "add-list" -> {
          awaitAcks(java, javaAssets / 2);
          python.send("add_list p " + pythonAssets);
          python.await("done add_list p", CHILD_TIMEOUT);
        }
        case "invalidate" -> {
          awaitAcks(java, javaAssets / 3);
          python.send("invalidate");
          python.await("done invalidate", CHILD_TIMEOUT);
          python.send("adds p 0 " + half + " 2");
          python.await("done adds p 0", CHILD_TIMEOUT);
        }
        default -> throw new IllegalArgumentException("unknown case " + c);
      }
      if (broken) {
        java.await("done adds j", CHILD_TIMEOUT);
      } else if (!c.equals("java-exits")) {
        java.finish(CHILD_TIMEOUT);
      }
      python.send("quit");
      python.finish(CHILD_TIMEOUT);

      Set<String> javaAcked = java.ids("ack");
      Set<String> pythonAcked = python.ids("ack");
      t.fact("javaAcked", javaAcked.size()).fact("pythonAcked", pythonAcked.size());
      Set<String> acked = new LinkedHashSet<>(javaAcked);
      acked.addAll(pythonAcked);
      Check.Report r = Check.run(work, c, cache, "--present", Check.ids(work.resolve("acked"), acked).toString());
      t.violation(Tally.LOST_ACKED, r.missing("j"), c + ": Java's acknowledged assets not served: " + r.ids("missing-id"));
      t.violation(PYTHON_LOST, r.missing("p"), c + ": assets Python's add returned for, not served: "
          + r.ids("missing-id"));
      t.fact("pythonLogged", python.stderrLines("ERROR") + python.stderrLines("WARNING"));
    }
  }

  private static void awaitAcks(Child java, int n) throws InterruptedException {
    long deadline = System.nanoTime() + CHILD_TIMEOUT.toNanos();
    while (java.count("ack") < n) {
      if (System.nanoTime() > deadline || !java.alive()) {
        throw new IllegalStateException(java + " acknowledged " + java.count("ack") + " of " + n + " assets");
      }
      Thread.sleep(5);
    }
  }

  /**
   * The Java process: opens an {@link AssetCache}, says {@code ready}, and on {@code go} adds its
   * assets ({@code ack <id>} once {@code add} returned), calling {@code save()} every
   * {@code --save-every} adds; then closes and exits.
   */
  @Command(name = "java", hidden = true)
  int java(@Option(names = "--dir") Path dir, @Option(names = "--count") int count,
      @Option(names = "--save-every") int saveEvery, @Option(names = "--pace-ms") long paceMillis) throws Exception {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.US_ASCII);
    Set<String> failed = new LinkedHashSet<>();
    try (AssetCache<Record> assets = AssetCache.builder(Record.class).cacheFilename(NAME)
        .configure(b -> b.directory(dir).durability(Durability.WRITE).expireAfter(Duration.ofDays(1))
            .lockTimeout(Duration.ofMinutes(2)))
        .build()) {
      out.println("ready");
      nextStep(new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII)), "go");
      for (int i = 0; i < count; i++) {
        String id = "j-" + i;
        try {
          assets.add(Record.of(id, "j", i));
          out.println("ack " + id);
        } catch (RuntimeException e) {
          failed.add(id);
          out.println("threw " + id + " " + e);
        }
        if (saveEvery > 0 && (i + 1) % saveEvery == 0) {
          assets.save();
        }
        Thread.sleep(paceMillis);
      }
    }
    out.println("closed failed=" + failed.size());
    return 0;
  }
}
