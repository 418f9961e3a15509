package io.tiercache.stress.faults;

import io.tiercache.CacheException;
import io.tiercache.CacheFiles;
import io.tiercache.Durability;
import io.tiercache.TieredCache;
import io.tiercache.stress.Cli;
import io.tiercache.stress.Record;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Writer A (WRITE) on a size-limited tmpfs: a ballast file leaves room for small appends but not
 * for a new snapshot, and A alternates {@code put} and {@code flush()} (which fails: ENOSPC). Then
 * the disk fills completely and A's puts throw: such a put must not be served afterwards, and must
 * not be written later when space is back (the space comes back while A still runs). A is killed
 * (SIGKILL) and the space freed. Process B, which only {@code sync()}s, every 10 ms from before the
 * disk filled until then, and then closes (a close compacts), must log no damaged journal line;
 * {@code CacheFiles.verify} must pass and a reopen must serve every put that returned normally.
 *
 * Every failed put or flush must say so with a {@code CacheException} ({@code unclearFailures}
 * counts anything else, such as the {@code InternalError} of a SIGBUS on a mapped file), and no put
 * may fail while its append fits ({@code thrownWithRoom}: failed compactions must give their space back).
 *
 * <p>Broken variant: A counts a put as acknowledged even when it threw.
 */
@Command(name = "disk-full", sortOptions = false,
    description = "A full disk under put/flush, then kill -9: nothing acknowledged lost, nothing failed served.")
public final class DiskFull extends Scenario {
  static final String THROWN_SERVED = "thrownServed";
  static final String THROWN_WRITTEN_LATER = "thrownWrittenLater";
  static final String DAMAGED_WARNINGS = "damagedWarnings";
  static final String VERIFY_PROBLEMS = "verifyProblems";
  static final String UNCLEAR_FAILURES = "unclearFailures";
  static final String THROWN_WITH_ROOM = "thrownWithRoom";

  @Option(names = "--rounds", defaultValue = "1", description = "kill rounds, each on a new disk (default ${DEFAULT-VALUE})")
  int rounds;
  @Option(names = "--preload", defaultValue = "4000", description = "entries in the snapshot before the disk fills (default ${DEFAULT-VALUE})")
  int preload;
  @Option(names = "--puts", defaultValue = "300",
      description = "put+flush pairs while only appends fit, for 30 s at most (default ${DEFAULT-VALUE})")
  int puts;
  @Option(names = "--full-puts", defaultValue = "30", description = "puts on the full disk, and after it (default ${DEFAULT-VALUE})")
  int fullPuts;

  @Override
  Tally run(Path base) throws Exception {
    Tally t = tally("thrown puts counted as acknowledged",
        THROWN_SERVED, THROWN_WRITTEN_LATER, DAMAGED_WARNINGS, VERIFY_PROBLEMS, UNCLEAR_FAILURES, THROWN_WITH_ROOM);
    Path work = Files.createDirectories(base.resolve("work"));
    for (int round = 0; round < rounds; round++) {
      round(base.resolve("disk-" + round), work.resolve("round-" + round), round, t);
    }
    return t;
  }

  private void round(Path mountPoint, Path work, int round, Tally t) throws Exception {
    try (Tmpfs disk = Tmpfs.mount(mountPoint, 16L << 20)) {
      Path cache = disk.path().resolve("cache");
      Path ballast = Files.createDirectories(disk.path().resolve("ballast"));
      Outside outside = Outside.create(disk.path(), cache, ballast);
      Path small = ballast.resolve("leave-appends");
      Path rest = ballast.resolve("leave-nothing");
      List<String> args = new ArrayList<>(List.of("writer", "--dir", cache.toString(),
          "--prefix", "r" + round, "--preload", Integer.toString(preload), "--puts", Integer.toString(puts),
          "--full-puts", Integer.toString(fullPuts)));
      if (broken) {
        args.add("--broken");
      }
      try (Child a = child("writer-" + round, args, "256m", work);
          Child b = child("syncer-" + round, List.of("syncer", "--dir", cache.toString()), "256m",
              work)) {
        a.await("ready", CHILD_TIMEOUT);
        b.await("ready", CHILD_TIMEOUT);
        // Room for the appends of every put of stages 1 and 3 (about 320 bytes each with its batch
        // marker), none for a snapshot rewrite (the files hold the preloaded entries twice: a snapshot,
        // an export). Without it a put would throw for want of room the harness promised.
        long room = Math.max(256L << 10, (puts + fullPuts) * 512L);
        long cacheBytes = ReplaceCrash.bytes(cache);
        if (room > cacheBytes / 4) {
          throw new IllegalArgumentException("--preload " + preload + " leaves files of " + cacheBytes + " bytes: too small"
              + " to keep a snapshot rewrite from fitting in the " + room + " bytes the appends of --puts " + puts
              + " need; preload more entries");
        }
        disk.fill(small, room);
        t.fact("freeWhileAppendsFit", disk.free());
        a.send("stage1");
        a.await("done1", CHILD_TIMEOUT);
        disk.fill(rest, 0);
        a.send("stage2");
        a.await("done2", CHILD_TIMEOUT);
        Files.delete(rest); // space for appends again, while A still runs: a failed put must not come back now
        a.send("stage3");
        a.await("done3", CHILD_TIMEOUT);
        a.kill();
        Files.delete(small);
        b.send("stop"); // B syncs once more, then closes: its close compacts, now that there is room
        b.finish(CHILD_TIMEOUT);

        // Puts that threw while there was room for their append: a store that stops taking writes after
        // failed compactions (each kept its temporary file's blocks until a garbage collection).
        List<String> withRoom = a.ids("threw").stream().filter(id -> id.contains("-s1-") || id.contains("-s3-")).toList();
        t.violation(THROWN_WITH_ROOM, withRoom.size(), "threw while their appends fit: " + withRoom);
        t.fact("acked", a.ids("ack").size()).fact("thrown", a.ids("threw").size())
            .fact("flushes", a.count("flush")).fact("flushFailures", a.count("flushfailed")).fact("syncs", Cli.field(b.await("synced", CHILD_TIMEOUT), "syncs"));
        t.violation(THROWN_SERVED, a.ids("served").size(), "served after its put threw: " + a.ids("served"));
        List<String> unclear = a.lines().stream().filter(l -> l.matches("(threw|flushfailed) .*")
            && !l.endsWith(" CacheException")).toList();
        t.violation(UNCLEAR_FAILURES, unclear.size(), "failed with something else than a CacheException: "
            + unclear.stream().limit(3).toList() + "; its standard error: " + firstLine(a.stderr(), "Error"));
        t.violation(DAMAGED_WARNINGS, b.stderrLines("damaged"), "process B logged: " + firstLine(b.stderr(), "damaged"));
        CacheFiles.Verification v = CacheFiles.verify(cache.resolve(NAME + ".json"));
        t.violation(VERIFY_PROBLEMS, v.problems().size(), "verify: " + v.problems());
        Check.Report r = Check.run(work, "reopen-" + round, cache,
            "--present", Check.ids(work.resolve("acked"), a.ids("ack")).toString(),
            "--absent", Check.ids(work.resolve("thrown"), a.ids("threw")).toString());
        t.violation(Tally.LOST_ACKED, r.get("missing"), "acknowledged but not served after the reopen: " + r.ids("missing-id"));
        t.violation(THROWN_WRITTEN_LATER, r.get("unexpected"), "threw, yet served after the reopen: " + r.ids("unexpected-id"));
        t.violation(DAMAGED_WARNINGS, r.warnings("damaged"), "the reopen logged: " + firstLine(r.stderr(), "damaged"));
        try (Stream<Path> files = Files.list(cache)) {
          t.fact("setAside", files.filter(p -> p.getFileName().toString().contains(".corrupt-")).count());
        }
      }
      t.outside(outside.changes());
    }
  }

  static String firstLine(String text, String containing) {
    return text.lines().filter(l -> l.contains(containing)).findFirst().orElse("");
  }

  /**
   * Writer A: preloads and flushes, then on each line from the harness runs a stage and says
   * {@code done<n>}. Prints {@code ack <id>} when a put returned, {@code threw <id>} when it threw
   * (broken: {@code ack} either way), {@code served <id>} when a put that threw is served.
   */
  @Command(name = "writer", hidden = true)
  int writer(@Option(names = "--dir") Path dir, @Option(names = "--prefix") String prefix,
      @Option(names = "--preload") int preload, @Option(names = "--puts") int puts,
      @Option(names = "--full-puts") int fullPuts, @Option(names = "--broken") boolean broken) throws Exception {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.US_ASCII);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
    // A lock wait must not outlast the harness's patience: a store stuck after a failure then throws.
    TieredCache<String, Record> cache = cache(dir).durability(Durability.WRITE).lockTimeout(Duration.ofSeconds(20))
        .build();
    for (int i = 0; i < preload; i++) {
      put(cache, prefix + "-p-" + i, 200, out, false);
    }
    cache.flush();
    out.println("ready");
    nextStep(in, "stage1");
    long stageEnd = System.nanoTime() + Duration.ofSeconds(30).toNanos(); // failing flushes may be slow
    for (int i = 0; i < puts && System.nanoTime() < stageEnd; i++) {
      put(cache, prefix + "-s1-" + i, 200, out, broken);
      flush(cache, out);
    }
    out.println("done1");
    nextStep(in, "stage2");
    for (int i = 0; i < fullPuts; i++) {
      String id = prefix + "-s2-" + i;
      if (!put(cache, id, 3000, out, broken) && cache.getIfPresent(id) != null) {
        out.println("served " + id);
      }
    }
    out.println("done2");
    nextStep(in, "stage3");
    for (int i = 0; i < fullPuts; i++) {
      put(cache, prefix + "-s3-" + i, 200, out, broken);
    }
    flush(cache, out);
    out.println("done3");
    Thread.sleep(Long.MAX_VALUE); // until killed
    return 0;
  }

  /** Returns whether the put returned normally. */
  private static boolean put(TieredCache<String, Record> cache, String id, int payload, PrintStream out, boolean broken) {
    try {
      cache.put(id, record(id, payload));
      out.println("ack " + id);
      return true;
    } catch (RuntimeException | Error e) { // an Error too: the process goes on, and reports what it got
      out.println(broken ? "ack " + id : "threw " + id + " " + e.getClass().getSimpleName());
      report(e);
      return false;
    }
  }

  private static void flush(TieredCache<String, Record> cache, PrintStream out) {
    try {
      cache.flush();
      out.println("flushed");
    } catch (RuntimeException | Error e) {
      out.println("flushfailed " + e.getClass().getSimpleName());
      report(e);
    }
  }

  /** What failed, on standard error: a CacheException's message (and its cause's), anything else's stack. */
  private static void report(Throwable e) {
    if (e instanceof CacheException) {
      System.err.println("failed: " + e.getMessage() + (e.getCause() == null ? "" : " <- " + e.getCause()));
    } else {
      e.printStackTrace();
    }
  }

  /** Process B: opens, applies what the files hold every 10 ms until told to stop, then closes. */
  @Command(name = "syncer", hidden = true)
  int syncer(@Option(names = "--dir") Path dir) throws Exception {
    AtomicReference<String> stop = whenSaid("stop");
    long syncs = 0;
    try (TieredCache<String, Record> cache = cache(dir).build()) {
      System.out.println("ready");
      while (stop.get() == null) {
        cache.sync();
        syncs++;
        Thread.sleep(10);
      }
      cache.sync();
      System.out.println("synced syncs=" + syncs + " size=" + cache.estimatedSize());
    }
    return 0;
  }
}
