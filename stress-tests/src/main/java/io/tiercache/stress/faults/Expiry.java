package io.tiercache.stress.faults;

import com.jsoniter.JsonIterator;
import com.jsoniter.ValueType;
import com.jsoniter.any.Any;
import io.tiercache.CacheFiles;
import io.tiercache.Durability;
import io.tiercache.StoreSpec;
import io.tiercache.TieredCache;
import io.tiercache.stress.Cli;
import io.tiercache.stress.Record;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The expiry period must be on disk with the first write. Three cases on new caches:
 * <ul>
 *   <li>{@code kill}: a JVM with a TTL of {@code --ttl-seconds} puts, and is killed (SIGKILL, so
 *       nothing is compacted); new JVMs with the same TTL open the cache {@code --reopen-after}
 *       seconds later (6 and 11 s for a 3 s TTL): none may serve an entry ({@code expiredServed});
 *   <li>{@code adopt}: a JVM with a one-hour TTL puts and stays open; a JVM with a 2 s TTL opens
 *       the same cache, must report the on-disk period as its {@code expiry()}
 *       ({@code periodNotAdopted}), waits past its own TTL, puts: a reopen must still serve every
 *       entry of both ({@code lostAcked});
 *   <li>{@code export}: {@code CacheFiles.export} of a never-compacted cache must carry the
 *       writer's expiry ({@code exportWithoutExpiry}).
 * </ul>
 * Broken variant: the {@code kill} case read by a reader that ignores expiry (the files' entries as
 * they are).
 */
@Command(name = "expiry", sortOptions = false,
    description = "Expiry survives kill -9 and other JVMs' TTLs: nothing expired served, no fresh entry wiped.")
public final class Expiry extends Scenario {
  static final String PERIOD_NOT_ADOPTED = "periodNotAdopted";
  static final String EXPORT_WITHOUT_EXPIRY = "exportWithoutExpiry";

  @Option(names = "--ttl-seconds", defaultValue = "3", description = "the killed writer's TTL (default ${DEFAULT-VALUE})")
  int ttlSeconds;
  @Option(names = "--reopen-after", split = ",", defaultValue = "6,11",
      description = "seconds after the writes at which new JVMs open it (default ${DEFAULT-VALUE})")
  List<Integer> reopenAfter;
  @Option(names = "--entries", defaultValue = "100", description = "entries per writer (default ${DEFAULT-VALUE})")
  int entries;

  @Override
  Tally run(Path base) throws Exception {
    Tally t = tally("a reader that ignores expiry", PERIOD_NOT_ADOPTED,
        EXPORT_WITHOUT_EXPIRY);
    Path root = base.resolve("sandbox");
    Path work = base.resolve("work");
    Path killed = root.resolve("killed");
    Path adopted = root.resolve("adopted");
    Path exported = root.resolve("exported");
    Outside outside = Outside.create(root, killed, adopted, exported);
    long written;
    Path acked;
    try (Child writer = writer("killed-writer", killed, ttlSeconds, work)) {
      written = Cli.field(writer.await("done", CHILD_TIMEOUT), "at");
      writer.kill();
      t.fact("written", writer.ids("ack").size());
      acked = Check.ids(work.resolve("killed-acked"), writer.ids("ack"));
    }
    if (!broken) {
      adopt(adopted, work, t);
      export(exported, work, t);
    }
    for (int after : reopenAfter) {
      Thread.sleep(Math.max(0, written + after * 1000L - System.currentTimeMillis()));
      Check.Report r = Check.run(work, "after-" + after, killed, "--present", acked.toString(),
          broken ? "--files-only" : "--ttl-seconds=" + ttlSeconds);
      t.violation(Tally.EXPIRED_SERVED, r.get("present"), "opened " + after + " s after the writes (TTL " + ttlSeconds
          + " s): " + r.get("present") + " entries served");
    }
    t.outside(outside.changes());
    return t;
  }

  private Child writer(String label, Path dir, long ttl, Path work) throws Exception {
    return child(label, List.of("writer", "--dir", dir.toString(), "--ttl-seconds",
        Long.toString(ttl), "--entries", Integer.toString(entries), "--prefix", label), "256m", work);
  }

  private void adopt(Path dir, Path work, Tally t) throws Exception {
    try (Child holder = writer("holder", dir, 3600, work)) {
      long holderExpiry = Cli.field(holder.await("done", CHILD_TIMEOUT), "expiry");
      Set<String> acked = new LinkedHashSet<>(holder.ids("ack"));
      try (Child newcomer = child("newcomer", List.of("newcomer", "--dir", dir.toString()),
          "256m", work)) {
        long seen = Cli.field(newcomer.await("opened", CHILD_TIMEOUT), "expiry");
        t.violation(PERIOD_NOT_ADOPTED, Math.abs(seen - holderExpiry) > 1000 ? 1 : 0, "a 2 s TTL opener reports expiry "
            + Instant.ofEpochMilli(seen) + ", the files' period ends " + Instant.ofEpochMilli(holderExpiry));
        newcomer.finish(CHILD_TIMEOUT);
        acked.addAll(newcomer.ids("ack"));
      }
      holder.kill();
      Check.Report r = Check.run(work, "adopted", dir, "--ttl-seconds", "3600", "--present",
          Check.ids(work.resolve("adopted-acked"), acked).toString());
      t.violation(Tally.LOST_ACKED, r.get("missing"), "after a 2 s TTL JVM wrote to a 1 h cache: " + r.ids("missing-id"));
    }
  }

  private void export(Path dir, Path work, Tally t) throws Exception {
    long expiry;
    try (Child writer = writer("exported-writer", dir, 3600, work)) {
      expiry = Cli.field(writer.await("done", CHILD_TIMEOUT), "expiry");
      writer.kill();
    }
    Path target = work.resolve("export.json");
    CacheFiles.export(dir, NAME, target, StoreSpec.jsonFiles(), Duration.ofSeconds(30));
    Any expiryField = JsonIterator.deserialize(Files.readAllBytes(target)).get("expiry");
    Instant exported = expiryField.valueType() == ValueType.NUMBER
        ? Instant.ofEpochMilli(Math.round(expiryField.toDouble() * 1000)) : null;
    t.violation(EXPORT_WITHOUT_EXPIRY, exported == null || Math.abs(exported.toEpochMilli() - expiry) > 1000 ? 1 : 0,
        "the export of a never-compacted cache says expiry " + exported + ", its writer " + Instant.ofEpochMilli(expiry));
  }

  /** Puts {@code --entries} with its TTL ({@code ack <id>}), then says {@code done at=<ms> expiry=<ms>} and waits to be killed. */
  @Command(name = "writer", hidden = true)
  int writer(@Option(names = "--dir") Path dir, @Option(names = "--ttl-seconds") long ttl,
      @Option(names = "--entries") int entries, @Option(names = "--prefix") String prefix) throws Exception {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.US_ASCII);
    TieredCache<String, Record> cache = cache(dir).expireAfter(Duration.ofSeconds(ttl)).durability(Durability.WRITE)
        .build();
    for (int i = 0; i < entries; i++) {
      String id = prefix + "-" + i;
      cache.put(id, Record.of(id, prefix, i));
      out.println("ack " + id);
    }
    out.println("done at=" + System.currentTimeMillis() + " expiry=" + cache.expiry().toEpochMilli());
    Thread.sleep(Long.MAX_VALUE);
    return 0;
  }

  /** A 2 s TTL JVM: opens, says {@code opened expiry=<ms>}, waits past its TTL, puts one entry, closes. */
  @Command(name = "newcomer", hidden = true)
  int newcomer(@Option(names = "--dir") Path dir) throws Exception {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.US_ASCII);
    try (TieredCache<String, Record> cache = cache(dir).expireAfter(Duration.ofSeconds(2))
        .durability(Durability.WRITE).build()) {
      out.println("opened expiry=" + cache.expiry().toEpochMilli());
      Thread.sleep(2_500);
      cache.put("newcomer-0", Record.of("newcomer-0", "newcomer", 0));
      out.println("ack newcomer-0");
    }
    return 0;
  }
}
