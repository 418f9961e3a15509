package io.tiercache.stress.faults;

import io.tiercache.CacheFiles;
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
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A scenario's judge, run as a JVM of its own after the fault: it opens the cache as a new process
 * would and reports what it serves. It never closes the cache (a close compacts, which would change
 * the files it judges); its standard error holds the warnings the open logged.
 *
 * <pre>size=300 expiry=1764582000000
 * present=290 missing=10 unexpected=0
 * missing-id j-7
 * missing-prefix j 10
 * prefix r1 200000</pre>
 */
@Command(name = "check", hidden = true, sortOptions = false, description = "Opens a cache and reports what it serves.")
final class Check implements Callable<Integer> {
  @Mixin Cli.Help help;
  @Option(names = "--dir", required = true) Path dir;
  @Option(names = "--ttl-seconds", defaultValue = "86400", description = "the opener's TTL (default ${DEFAULT-VALUE})")
  long ttlSeconds;
  @Option(names = "--present", description = "a file of ids (one a line) that must be served")
  Path present;
  @Option(names = "--absent", description = "a file of ids that must not be served")
  Path absent;
  @Option(names = "--prefixes", description = "print how many keys each prefix (up to the last '-') has")
  boolean prefixes;
  @Option(names = "--files-only", description = "read the files without opening the cache, ignoring expiry (a broken reader)")
  boolean filesOnly;

  @Override
  public Integer call() throws IOException {
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    Map<String, ?> served;
    if (filesOnly) {
      served = CacheFiles.contents(dir.resolve(Scenario.NAME + ".json")).entries();
      out.println("size=" + served.size());
    } else {
      TieredCache<String, Record> cache = Scenario.cache(dir).expireAfter(Duration.ofSeconds(ttlSeconds)).build();
      cache.sync();
      served = cache.asMap();
      out.println("size=" + cache.estimatedSize() + " expiry=" + cache.expiry().toEpochMilli());
    }
    StringBuilder line = new StringBuilder();
    if (present != null) {
      List<String> missing = new ArrayList<>();
      List<String> ids = Files.readAllLines(present);
      for (String id : ids) {
        if (served.get(id) == null) {
          missing.add(id);
        }
      }
      line.append("present=").append(ids.size() - missing.size()).append(" missing=").append(missing.size()).append(' ');
      missing.stream().limit(20).forEach(id -> out.println("missing-id " + id));
      prefixes(missing).forEach((p, n) -> out.println("missing-prefix " + p + " " + n));
    }
    if (absent != null) {
      long unexpected = 0;
      for (String id : Files.readAllLines(absent)) {
        if (served.get(id) != null) {
          unexpected++;
          out.println("unexpected-id " + id);
        }
      }
      line.append("unexpected=").append(unexpected);
    }
    out.println(line.toString().strip());
    if (prefixes) {
      prefixes(served.keySet()).forEach((p, n) -> out.println("prefix " + p + " " + n));
    }
    out.flush();
    Runtime.getRuntime().halt(0); // no close: closing compacts, and a judge changes nothing
    return 0;
  }

  static Map<String, Long> prefixes(Collection<String> keys) {
    Map<String, Long> counts = new TreeMap<>();
    for (String k : keys) {
      counts.merge(k.substring(0, Math.max(0, k.lastIndexOf('-'))), 1L, Long::sum);
    }
    return counts;
  }

  /** What a {@link Check} JVM reported. */
  record Report(String output, Map<String, Long> prefixes, String stderr) {
    long get(String field) {
      for (String l : output.lines().toList()) {
        long v = Cli.field(l, field);
        if (v >= 0) {
          return v;
        }
      }
      throw new IllegalStateException("the check reported no " + field + ": " + output);
    }

    /** Missing ids whose prefix (up to the last '-') is {@code prefix}. */
    long missing(String prefix) {
      return ids("missing-prefix").stream().filter(l -> l.startsWith(prefix + " "))
          .mapToLong(l -> Long.parseLong(l.substring(prefix.length() + 1))).sum();
    }

    List<String> ids(String word) {
      return output.lines().filter(l -> l.startsWith(word + " ")).map(l -> l.substring(word.length() + 1)).toList();
    }

    /** Lines of its standard error that contain {@code text} (the warnings its open logged). */
    long warnings(String text) {
      return stderr.lines().filter(l -> l.contains(text)).count();
    }
  }

  /** Runs a check JVM on {@code dir} and waits for its report. */
  static Report run(Path work, String label, Path dir, String... options) throws Exception {
    List<String> args = new ArrayList<>(List.of("check", "--dir", dir.toString()));
    args.addAll(List.of(options));
    try (Child c = Child.java("check-" + label, Faults.class, args, "1g", work)) {
      c.finish(Scenario.CHILD_TIMEOUT);
      Map<String, Long> prefixes = new TreeMap<>();
      StringBuilder output = new StringBuilder();
      for (String l : c.lines()) {
        output.append(l).append('\n');
        if (l.startsWith("prefix ")) {
          String[] f = l.split(" ");
          prefixes.put(f[1], Long.parseLong(f[2]));
        }
      }
      return new Report(output.toString(), prefixes, c.stderr());
    }
  }

  /** Writes ids one a line to {@code file}, for {@code --present}/{@code --absent}. */
  static Path ids(Path file, Collection<String> ids) throws IOException {
    Files.createDirectories(file.getParent());
    Files.write(file, ids, StandardCharsets.UTF_8);
    return file;
  }
}
