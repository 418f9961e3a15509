package io.tiercache.stress.faults;

import io.tiercache.AssetCache;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A writer JVM replaces the whole content ({@code replaceAll}, {@code --entries} entries, a new
 * key prefix each generation) back to back for {@code --seconds}, while reader JVMs call {@code sync()} in a loop and
 * look at what they serve: the size and keys of {@code asMap()}, and {@code AssetCache.getAll()}
 * whenever {@code hasValidCache()} says true, must always be one generation, whole
 * ({@code partialStates}). The readers also read the files without the lock, as
 * {@code CacheFiles.contents} (a debugging tool) does, now and then: partial reads there are
 * reported as a fact.
 *
 * <p>Broken variant: the writer replaces with {@code invalidateAll()} and individual puts.
 */
@Command(name = "replace-readers", sortOptions = false,
    description = "Readers in other processes during replaceAll: never a partial content.")
public final class ReplaceReaders extends Scenario {
  @Option(names = "--entries", defaultValue = "20000", description = "entries per generation (default ${DEFAULT-VALUE})")
  int entries;
  @Option(names = "--seconds", defaultValue = "8", description = "how long the writer replaces, back to back (default ${DEFAULT-VALUE})")
  int seconds;
  @Option(names = "--readers", defaultValue = "2", description = "reader JVMs (default ${DEFAULT-VALUE})")
  int readers;

  @Override
  Tally run(Path base) throws Exception {
    Tally t = tally("replace as invalidateAll + puts");
    Path work = base.resolve("work");
    // On tmpfs (where /tmp often is) another process sees an append's bytes as they are copied; on ext4
    // a 4 MB append almost never shows half-done. The readers must cope with the former.
    Tmpfs tmpfs = null;
    try {
      tmpfs = Tmpfs.mount(base.resolve("tmpfs"), 512L << 20);
      t.fact("onTmpfs", 1);
    } catch (Unavailable e) {
      t.detail("not on a tmpfs (" + e.getMessage() + "): appends are seen whole more often than on one");
    }
    try {
      readers(tmpfs != null ? tmpfs.path() : base.resolve("sandbox"), work, t);
    } finally {
      if (tmpfs != null) {
        tmpfs.close();
      }
    }
    return t;
  }

  private void readers(Path root, Path work, Tally t) throws Exception {
    Path cache = Files.createDirectories(root.resolve("cache"));
    Outside outside = Outside.create(root, cache);
    List<Child> children = new ArrayList<>();
    try {
      Child writer = child("writer", List.of("writer", "--dir", cache.toString(),
          "--entries", Integer.toString(entries), "--seconds", Integer.toString(seconds),
          "--how", broken ? "puts" : "replaceAll"), "512m", work);
      children.add(writer);
      writer.await("ready", CHILD_TIMEOUT); // the first generation is in place
      List<Child> readerChildren = new ArrayList<>();
      for (int i = 0; i < readers; i++) {
        Child r = child("reader-" + i, List.of("reader", "--dir", cache.toString(),
            "--entries", Integer.toString(entries)), "512m", work);
        children.add(r);
        readerChildren.add(r);
      }
      for (Child r : readerChildren) {
        r.await("ready", CHILD_TIMEOUT);
      }
      writer.send("go");
      writer.finish(CHILD_TIMEOUT.plusSeconds(seconds));
      for (Child r : readerChildren) {
        r.send("stop");
        String report = r.await("reads=", CHILD_TIMEOUT);
        r.finish(CHILD_TIMEOUT);
        t.fact("reads", Cli.field(report, "reads")).fact("toolPartialReads", Cli.field(report, "toolPartial"));
        t.violation(Tally.PARTIAL_STATES, Cli.field(report, "partial"), r + ": "
            + r.lines().stream().filter(l -> l.startsWith("partial ")).limit(3).toList());
      }
      t.fact("generations", writer.count("replaced ")).fact("replacesFailedForSpace", writer.count("replacefailed"));
    } finally {
      for (Child c : children) {
        c.close();
      }
    }
    t.outside(outside.changes());
  }

  /** Writes generation 0, says {@code ready}, and on {@code go} replaces the content for {@code --seconds}. */
  @Command(name = "writer", hidden = true)
  int writer(@Option(names = "--dir") Path dir, @Option(names = "--entries") int entries,
      @Option(names = "--seconds") int seconds, @Option(names = "--how") String how) throws Exception {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.US_ASCII);
    try (TieredCache<String, Record> cache = cache(dir).durability(Durability.WRITE).build()) {
      cache.replaceAll(generation(0, entries));
      out.println("ready");
      nextStep(new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII)), "go");
      long end = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
      for (int g = 1; System.nanoTime() < end; g++) {
        Map<String, Record> next = generation(g, entries);
        if (how.equals("puts")) {
          cache.invalidateAll();
          next.forEach(cache::put);
        } else {
          try {
            cache.replaceAll(next);
          } catch (CacheException e) {
            // The readers' mappings keep the replaced snapshots' blocks until their garbage collections:
            // back to back, they can fill the tmpfs. A replace that fails so must leave the old content
            // whole, which the readers check; any other failure ends the run.
            if (!String.valueOf(e.getCause()).contains("No space left on device")) {
              throw e;
            }
            out.println("replacefailed g" + g + " " + e.getMessage());
            Thread.sleep(100);
            continue;
          }
        }
        out.println("replaced g" + g);
      }
    }
    return 0;
  }

  private static Map<String, Record> generation(int g, int entries) {
    Map<String, Record> m = new LinkedHashMap<>();
    for (int i = 0; i < entries; i++) {
      String id = "g" + g + "-" + i;
      m.put(id, Record.of(id, "g" + g, i));
    }
    return m;
  }

  /**
   * Syncs and looks, in a loop until {@code stop}: {@code asMap()}'s keys and, when
   * {@code hasValidCache()}, {@code AssetCache.getAll()} must be one whole generation. Prints
   * {@code partial <view> <prefix counts>} for the first few partial states, then
   * {@code reads= partial= toolPartial=}.
   */
  @Command(name = "reader", hidden = true)
  int reader(@Option(names = "--dir") Path dir, @Option(names = "--entries") int entries) throws Exception {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.US_ASCII);
    AtomicReference<String> stop = whenSaid("stop");
    // No background refresh: only this thread's sync() applies changes, so what it iterates is what
    // the store applied, not a refresh running beside the iteration.
    TieredCache<String, Record> cache = cache(dir).refreshInterval(Duration.ZERO).build();
    AssetCache<Record> assets = AssetCache.builder(Record.class).cacheFilename(NAME)
        .configure(b -> b.directory(dir).expireAfter(Duration.ofDays(1)).lockTimeout(Duration.ofMinutes(2))
            .refreshInterval(Duration.ZERO))
        .build();
    long reads = 0;
    long partial = 0;
    long toolPartial = 0;
    for (int i = 0; i < 10; i++) { // warm up (class loading, JIT) before the writer starts
      cache.sync();
      partial += judge("asMap", Check.prefixes(cache.asMap().keySet()), entries, partial, out);
      partial += judge("getAll", Check.prefixes(assets.getAll().stream().map(Record::id).toList()), entries, partial, out);
      toolPartial += judge("CacheFiles.contents",
          Check.prefixes(CacheFiles.contents(dir.resolve(NAME + ".json")).entries().keySet()), entries, partial, out);
    }
    out.println("ready");
    while (stop.get() == null) {
      cache.sync();
      // The size is O(1): every read looks at it, and at the whole content (keys, getAll) when it is off
      // or now and then, so that reads come fast enough to land inside a replace's writes.
      boolean look = cache.estimatedSize() != entries || reads % 100 == 0;
      if (look) {
        partial += judge("asMap", Check.prefixes(cache.asMap().keySet()), entries, partial, out);
        if (assets.hasValidCache()) {
          List<String> ids = assets.getAll().stream().map(Record::id).toList();
          partial += judge("getAll", Check.prefixes(ids), entries, partial, out);
        }
      }
      if (reads % 500 == 0) {
        Map<String, String> files = CacheFiles.contents(dir.resolve(NAME + ".json")).entries();
        toolPartial += judge("CacheFiles.contents", Check.prefixes(files.keySet()), entries, partial, out);
      }
      reads++;
    }
    out.println("reads=" + reads + " partial=" + partial + " toolPartial=" + toolPartial);
    Runtime.getRuntime().halt(0);
    return 0;
  }

  /** 1 when {@code prefixes} is not one whole generation; the first few are printed. */
  private static int judge(String view, Map<String, Long> prefixes, int entries, long seen, PrintStream out) {
    if (prefixes.size() == 1 && prefixes.values().iterator().next() == entries) {
      return 0;
    }
    if (seen < 5) {
      out.println("partial " + view + " " + prefixes);
    }
    return 1;
  }
}
