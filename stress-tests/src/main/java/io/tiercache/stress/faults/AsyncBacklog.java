package io.tiercache.stress.faults;

import io.tiercache.Durability;
import io.tiercache.TieredCache;
import io.tiercache.stress.Children;
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
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * An {@code ASYNC} writer builds a backlog of {@code --backlog-mb} on a full tmpfs (every
 * background flush fails). Then part of the space comes back, less than the backlog: a store that
 * flushes in bounded chunks makes progress (the journal grows); one that writes the backlog as one
 * all-or-nothing write never does ({@code backlogStalled}). Then all the space comes back and the
 * writer closes normally: nothing it acknowledged in memory may be lost.
 *
 * <p>Broken variant: a writer that never flushes in time (a one-hour flush delay) and exits
 * without closing.
 */
@Command(name = "async-backlog", sortOptions = false,
    description = "An ASYNC backlog on a full disk drains in bounded chunks once space frees; nothing acknowledged lost.")
public final class AsyncBacklog extends Scenario {
  static final String BACKLOG_STALLED = "backlogStalled";

  @Option(names = "--backlog-mb", defaultValue = "10", description = "the backlog built on the full disk (default ${DEFAULT-VALUE})")
  int backlogMb;
  @Option(names = "--freed-mb", defaultValue = "4", description = "space given back first, less than the backlog (default ${DEFAULT-VALUE})")
  int freedMb;
  @Option(names = "--progress-kb", defaultValue = "1024", description = "journal growth that counts as progress (default ${DEFAULT-VALUE})")
  int progressKb;
  @Option(names = "--wait-seconds", defaultValue = "3", description = "how long draining may take (default ${DEFAULT-VALUE})")
  int waitSeconds;

  @Override
  Tally run(Path base) throws Exception {
    Tally t = tally("no timely flush, exits without close",
        BACKLOG_STALLED);
    Path work = Files.createDirectories(base.resolve("work"));
    // room for the journal and the snapshot the close writes, each as large as the backlog
    try (Tmpfs disk = Tmpfs.mount(base.resolve("disk"), (3L * backlogMb + 8) << 20)) {
      Path cache = disk.path().resolve("cache");
      Path ballast = Files.createDirectories(disk.path().resolve("ballast"));
      Outside outside = Outside.create(disk.path(), cache, ballast);
      List<String> args = new ArrayList<>(List.of("writer", "--dir", cache.toString(), "--backlog-mb",
          Integer.toString(backlogMb)));
      if (broken) {
        args.add("--broken");
      }
      try (Child w = child("async-writer", args, "512m", work)) {
        w.await("ready", CHILD_TIMEOUT);
        List<Path> megabytes = new ArrayList<>();
        for (int i = 0; ; i++) { // 1 MB files (the last up to 2 MB), so that space can come back in parts
          Path mb = ballast.resolve("mb-" + i);
          long free = disk.free();
          disk.fill(mb, free > (2 << 20) ? free - (1 << 20) : 0);
          megabytes.add(mb);
          if (free <= (2 << 20)) {
            break;
          }
        }
        w.send("fill");
        w.await("filled", CHILD_TIMEOUT);
        Thread.sleep(500); // background flushes meet the full disk
        Path journal = cache.resolve(NAME + ".journal");
        long before = Files.size(journal);
        for (int i = 0; i < freedMb && i < megabytes.size(); i++) {
          Files.delete(megabytes.get(i));
        }
        // An all-or-nothing flush writes what fits, fails, and truncates it away again, over and over:
        // progress is the journal's smallest size over a second, after the writer had time to drain.
        Thread.sleep(Duration.ofSeconds(waitSeconds).toMillis());
        long kept = Long.MAX_VALUE;
        for (int i = 0; i < 100; i++) {
          kept = Math.min(kept, Files.size(journal));
          Thread.sleep(10);
        }
        long grown = kept - before;
        t.fact("grownWithPartialSpaceKb", grown / 1024);
        t.violation(BACKLOG_STALLED, grown < progressKb * 1024L ? 1 : 0, "with " + freedMb + " MB free the journal kept "
            + grown + " more bytes after " + waitSeconds + " s; the backlog is " + backlogMb + " MB");
        Children.deleteTree(ballast);
        w.send("close");
        w.finish(CHILD_TIMEOUT);
        t.fact("acked", w.ids("ack").size());
        Check.Report r = Check.run(work, "reopen", cache, "--present",
            Check.ids(work.resolve("acked"), w.ids("ack")).toString());
        t.violation(Tally.LOST_ACKED, r.get("missing"), "acknowledged in memory, not served after the close: "
            + r.ids("missing-id"));
      }
      t.outside(outside.changes());
    }
    return t;
  }

  /** The ASYNC writer: on "fill" puts the backlog (acknowledged: put returned), on "close" closes and exits. */
  @Command(name = "writer", hidden = true)
  int writer(@Option(names = "--dir") Path dir, @Option(names = "--backlog-mb") int backlogMb,
      @Option(names = "--broken") boolean broken) throws Exception {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.US_ASCII);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
    TieredCache<String, Record> cache = cache(dir).durability(Durability.ASYNC)
        .asyncFlushDelay(broken ? Duration.ofHours(1) : Duration.ofMillis(50)).build();
    out.println("ready");
    nextStep(in, "fill");
    int entries = backlogMb * 1024; // ~1 KB of JSON each
    for (int i = 0; i < entries; i++) {
      String id = "a-" + i;
      cache.put(id, record(id, 950));
      out.println("ack " + id);
    }
    out.println("filled");
    nextStep(in, "close");
    if (broken) {
      Runtime.getRuntime().halt(0); // exits with the backlog in memory
    }
    cache.close();
    return 0;
  }
}
