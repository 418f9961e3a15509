package io.tiercache.stress.faults;

import io.tiercache.Durability;
import io.tiercache.TieredCache;
import io.tiercache.stress.Record;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Two writer JVMs put distinct keys under {@code WRITE} while another process (this harness)
 * unlinks {@code <name>.lock} in a loop, as the Python SDK's {@code invalidate()} does, and a third
 * JVM opens and closes the cache over and over. For each unlink interval, on a new cache: no put
 * that returned may be lost, and no open or put may fail ({@code NoSuchFileException}, errno 2).
 * An interval of 0 unlinks as fast as it can (every 50 µs), to hit the opens too.
 *
 * <p>Broken variant: the two writers run the Python SDK's algorithm (real python3, each loading its
 * view when constructed and rewriting the whole file from it on every add).
 */
@Command(name = "lock-unlink", sortOptions = false,
    description = "The lock file unlinked in a loop under two writers: nothing acknowledged lost, no call fails.")
public final class LockUnlink extends Scenario {
  static final String FAILED_CALLS = "failedCalls";
  private static final List<String> PREFIXES = List.of("a", "b");

  @Option(names = "--keys", defaultValue = "10000", description = "puts per writer per interval (default ${DEFAULT-VALUE})")
  int keys;
  @Option(names = "--intervals-ms", split = ",", defaultValue = "200,20,0",
      description = "unlink intervals, each on a new cache (default ${DEFAULT-VALUE})")
  List<Integer> intervals;
  @Option(names = "--opens", defaultValue = "30", description = "open/close cycles of the opener JVM (default ${DEFAULT-VALUE})")
  int opens;

  @Override
  Tally run(Path base) throws Exception {
    Tally t = tally("the writers run the Python SDK's algorithm",
        FAILED_CALLS);
    for (int interval : broken ? List.of(0) : intervals) { // broken: unlinked every 50 us, so their races are certain
      Path root = base.resolve("every-" + interval + "ms");
      Path cache = Files.createDirectories(root.resolve("cache"));
      Path work = root.resolve("work");
      Outside outside = Outside.create(root, cache, work);
      once(interval, cache, work, t);
      t.outside(outside.changes());
    }
    return t;
  }

  private void once(int intervalMillis, Path cache, Path work, Tally t) throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong unlinks = new AtomicLong();
    Path lock = cache.resolve(NAME + ".lock");
    Thread unlinker = new Thread(() -> {
      while (!stop.get()) {
        try {
          if (Files.deleteIfExists(lock)) {
            unlinks.incrementAndGet();
          }
        } catch (IOException e) {
          // a directory being listed; try again
        }
        if (intervalMillis > 0) {
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(intervalMillis));
        } else {
          LockSupport.parkNanos(50_000);
        }
      }
    }, "unlinker");
    List<Child> writers = new ArrayList<>();
    Child opener = null;
    try {
      unlinker.start();
      for (String w : PREFIXES) {
        if (broken) {
          Child p = SeedPython.start("writer-" + w, work, cache, NAME);
          writers.add(p);
          p.send("open");
        } else {
          writers.add(child("writer-" + w, List.of("writer", "--dir", cache.toString(),
              "--prefix", w, "--keys", Integer.toString(keys)), "256m", work));
        }
      }
      opener = child("opener", List.of("opener", "--dir", cache.toString(), "--opens",
          Integer.toString(opens)), "256m", work);
      List<Boolean> opened = new ArrayList<>();
      for (Child w : writers) {
        opened.add(!w.await(CHILD_TIMEOUT, broken ? "opened" : "ready", "openfailed").startsWith("openfailed"));
      }
      for (int i = 0; i < writers.size(); i++) { // both are open (broken: both views loaded) before either writes
        if (opened.get(i)) {
          writers.get(i).send(broken ? "adds " + PREFIXES.get(i) + " 0 1000 0" : "go");
        }
      }
      for (int i = 0; i < writers.size(); i++) {
        if (broken && opened.get(i)) {
          writers.get(i).await("done adds", CHILD_TIMEOUT);
          writers.get(i).send("quit");
        }
        writers.get(i).exit(CHILD_TIMEOUT);
      }
      opener.exit(CHILD_TIMEOUT);
    } finally {
      stop.set(true);
      unlinker.join(10_000);
      for (Child w : writers) {
        w.close();
      }
      if (opener != null) {
        opener.close();
      }
    }
    Set<String> acked = new LinkedHashSet<>();
    for (Child w : writers) {
      acked.addAll(w.ids("ack"));
      t.violation(FAILED_CALLS, w.count("threw") + w.count("openfailed"), w + " at " + intervalMillis + " ms: "
          + w.lines().stream().filter(l -> l.startsWith("threw") || l.startsWith("openfailed")).findFirst().orElse(""));
    }
    t.violation(FAILED_CALLS, opener.count("openfailed"), "opener at " + intervalMillis + " ms: "
        + opener.lines().stream().filter(l -> l.startsWith("openfailed")).findFirst().orElse(""));
    t.fact("unlinks", unlinks.get()).fact("acked", acked.size()).fact("opens", opener.count("opened"));
    t.fact("droppedIncompleteLines", writers.stream().mapToLong(w -> w.stderrLines("dropped an incomplete")).sum());
    Check.Report r = Check.run(work, "after", cache, "--present", Check.ids(work.resolve("acked"), acked).toString());
    t.violation(Tally.LOST_ACKED, r.get("missing"), "unlinks every " + intervalMillis + " ms: acknowledged, not served: "
        + r.ids("missing-id"));
  }

  /** A writer: opens ({@code openfailed} if that throws), on {@code go} puts its keys: {@code ack} or {@code threw}. */
  @Command(name = "writer", hidden = true)
  int writer(@Option(names = "--dir") Path dir, @Option(names = "--prefix") String prefix,
      @Option(names = "--keys") int keys) throws Exception {
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.US_ASCII);
    TieredCache<String, Record> cache;
    try {
      cache = cache(dir).durability(Durability.WRITE).build();
    } catch (RuntimeException e) {
      out.println("openfailed " + e);
      out.flush();
      return 1;
    }
    out.println("ready");
    out.flush();
    nextStep(new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII)), "go");
    for (int i = 0; i < keys; i++) {
      String id = prefix + "-" + i;
      try {
        cache.put(id, Record.of(id, prefix, i));
        out.println("ack " + id);
      } catch (RuntimeException e) {
        out.println("threw " + id + " " + e);
      }
      out.flush();
    }
    try {
      cache.close();
    } catch (RuntimeException e) {
      out.println("threw close " + e);
    }
    out.flush();
    return 0;
  }

  /** Opens and closes the cache {@code --opens} times: {@code opened}, or {@code openfailed <exception>}. */
  @Command(name = "opener", hidden = true)
  int opener(@Option(names = "--dir") Path dir, @Option(names = "--opens") int opens) {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.US_ASCII);
    for (int i = 0; i < opens; i++) {
      try (TieredCache<String, Record> cache = cache(dir).build()) {
        cache.getIfPresent("a-0");
        out.println("opened");
      } catch (RuntimeException e) {
        out.println("openfailed " + e);
      }
    }
    return 0;
  }
}
