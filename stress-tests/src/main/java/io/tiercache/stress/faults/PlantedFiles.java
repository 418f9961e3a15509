package io.tiercache.stress.faults;

import io.tiercache.CacheException;
import io.tiercache.StoreSpec;
import io.tiercache.TieredCache;
import io.tiercache.TieredCacheBuilder;
import io.tiercache.stress.Record;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;

/**
 * Files planted by another local user in a shared, world-writable (1777, like /tmp) cache
 * directory, one cache name per case: symlinks named {@code <name>.journal}, {@code .json},
 * {@code .snapshot}, {@code .state}, {@code .lock}, {@code .cmap} and {@code .cmap.state}, dangling
 * and pointing at a victim file
 * outside the directory; symlinks with temporary-file names; a hard link to a victim file; a
 * journal owned by another user (uid 65534); a journal pre-created with mode 0666. For each, this
 * JVM opens the cache, puts, flushes and closes. Expected: a refusal ({@link CacheException} naming
 * the planted file; {@code notRefused}, {@code unclearRefusal}), or for the snapshot and the
 * temporary names, no use of the planted file ({@code plantedRead}); and never a file outside the
 * directory created, truncated, grown or changed ({@code outsideTouched}), nor a planted file
 * deleted or changed ({@code plantedTouched}).
 *
 * <p>Broken variant: a naive opener that opens the cache's file names as any program would
 * (following links, creating what is missing) and appends a line to each.
 */
@Command(name = "planted-files", sortOptions = false,
    description = "Planted symlinks, hard links and foreign files: refused with a clear error, nothing outside touched.")
public final class PlantedFiles extends Scenario {
  static final String NOT_REFUSED = "notRefused";
  static final String UNCLEAR_REFUSAL = "unclearRefusal";
  static final String PLANTED_READ = "plantedRead";
  static final String PLANTED_TOUCHED = "plantedTouched";
  static final int OTHER_UID = 65534;

  /** A planted file: the cache file it poses as, what it is, and whether opening must be refused. */
  record Plant(String name, String suffix, String kind, String target, boolean chronicle, boolean mustRefuse) {}

  static final List<Plant> PLANTS = List.of(
      new Plant("journal-link", ".journal", "symlink", "victim-journal", false, true),
      new Plant("journal-dangling", ".journal", "symlink", "absent-journal", false, true),
      new Plant("json-link", ".json", "symlink", "victim-export", false, false),
      new Plant("json-dangling", ".json", "symlink", "absent-export", false, false),
      new Plant("snapshot-link", ".snapshot", "symlink", "victim-snapshot", false, true),
      new Plant("snapshot-dangling", ".snapshot", "symlink", "absent-snapshot", false, true),
      new Plant("state-file-link", ".state", "symlink", "victim-state-file", false, true),
      new Plant("state-file-dangling", ".state", "symlink", "absent-state-file", false, true),
      new Plant("lock-link", ".lock", "symlink", "victim-lock", false, true),
      new Plant("lock-dangling", ".lock", "symlink", "absent-lock", false, true),
      new Plant("json-temp", ".json.k3j9x2.tmp", "symlink", "victim-json-temp", false, false),
      new Plant("journal-temp", ".journal.p0q8z1.tmp", "symlink", "victim-journal-temp", false, false),
      new Plant("snapshot-temp", ".snapshot.w7e4r5.tmp", "symlink", "victim-snapshot-temp", false, false),
      new Plant("cmap-link", ".cmap", "symlink", "victim-cmap", true, true),
      new Plant("cmap-dangling", ".cmap", "symlink", "absent-cmap", true, true),
      new Plant("state-link", ".cmap.state", "symlink", "victim-state", true, true),
      new Plant("state-dangling", ".cmap.state", "symlink", "absent-state", true, true),
      new Plant("journal-hardlink", ".journal", "hardlink", "victim-hardlinked", false, true),
      new Plant("journal-foreign", ".journal", "foreign", null, false, true),
      new Plant("journal-0666", ".journal", "mode0666", null, false, true));

  @Override
  Tally run(Path base) throws Exception {
    Tally t = tally("a naive opener that follows links",
        NOT_REFUSED, UNCLEAR_REFUSAL, PLANTED_READ, PLANTED_TOUCHED);
    boolean root = "root".equals(System.getProperty("user.name"));
    Path sandbox = base.resolve("sandbox");
    Path shared = Files.createDirectories(sandbox.resolve("shared"));
    Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxrwx"));
    Files.setAttribute(shared, "unix:mode", 01777); // world-writable and sticky, like /tmp
    Map<String, byte[]> victims = new LinkedHashMap<>();
    for (Plant p : PLANTS) {
      if (p.target() != null && p.target().startsWith("victim-")) {
        victims.put(p.target(), p.target().equals("victim-export") ? plantedSnapshot()
            : ("a user's file: " + p.target() + "\n").getBytes(StandardCharsets.UTF_8));
      }
    }
    Outside outside = Outside.create(sandbox, victims, shared);
    Map<Path, String> planted = new LinkedHashMap<>();
    for (Plant p : PLANTS) {
      Path file = shared.resolve(p.name() + p.suffix());
      switch (p.kind()) {
        case "symlink" -> Files.createSymbolicLink(file, outside.file(p.target()));
        case "hardlink" -> Files.createLink(file, outside.file(p.target()));
        case "foreign" -> {
          if (!root) {
            t.detail("skipped " + p.name() + ": only root can plant a file owned by uid " + OTHER_UID);
            continue;
          }
          Files.writeString(file, "another user's journal\n");
          Files.setAttribute(file, "unix:uid", OTHER_UID);
          Files.setAttribute(file, "unix:gid", OTHER_UID);
        }
        case "mode0666" -> {
          Files.writeString(file, "");
          Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-rw-rw-"));
        }
        default -> throw new IllegalStateException(p.kind());
      }
      planted.put(file, Tripwire.describe(file));
    }
    outside.rearm(); // a hard link changed its victim's link count
    for (Plant p : PLANTS) {
      if (planted.containsKey(shared.resolve(p.name() + p.suffix()))) {
        t.fact("cases", 1);
        if (broken) {
          naiveOpen(shared, p.name(), p.chronicle(), t);
        } else {
          open(shared, p, t);
        }
      }
    }
    for (Map.Entry<Path, String> e : planted.entrySet()) {
      String now = Tripwire.describe(e.getKey());
      t.violation(PLANTED_TOUCHED, now.equals(e.getValue()) ? 0 : 1, e.getKey().getFileName() + ": " + e.getValue()
          + " -> " + now);
    }
    t.outside(outside.changes());
    return t;
  }

  /** A valid snapshot holding one entry, "planted": whoever serves it read the planted file. */
  private static byte[] plantedSnapshot() {
    double expiry = Instant.now().plus(Duration.ofDays(1)).toEpochMilli() / 1000.0;
    return ("{\"expiry\": " + expiry + ", \"data\": {\"planted\": {\"id\": \"planted\", \"writer\": \"mallory\", "
        + "\"sequence\": 0, \"payload\": \"planted\"}}}").getBytes(StandardCharsets.UTF_8);
  }

  private void open(Path shared, Plant p, Tally t) {
    String file = p.name() + p.suffix();
    TieredCacheBuilder<String, Record> builder = TieredCache.builder(String.class, Record.class).directory(shared)
        .name(p.name()).expireAfter(Duration.ofHours(1)).lockTimeout(Duration.ofSeconds(10));
    if (p.chronicle()) {
      builder.store(StoreSpec.chronicleMap(1_024, 256));
    }
    try (TieredCache<String, Record> cache = builder.build()) {
      t.violation(PLANTED_READ, cache.getIfPresent("planted") != null ? 1 : 0, file + ": served its planted entry");
      cache.put("k", Record.of("k", "victim", 0));
      cache.flush();
      t.violation(NOT_REFUSED, p.mustRefuse() ? 1 : 0, file + " (" + p.kind() + "): opened, written and flushed");
    } catch (CacheException e) {
      t.fact("refused", 1);
      boolean named = e.getMessage().contains(file) || e.file().map(f -> f.endsWith(file)).orElse(false);
      t.violation(UNCLEAR_REFUSAL, named ? 0 : 1, file + ": the refusal does not name it: " + e.getMessage());
      t.detail("refused " + file + ": " + e.getMessage());
    } catch (RuntimeException e) {
      t.violation(UNCLEAR_REFUSAL, 1, file + ": failed with " + e + " instead of a CacheException naming it");
    }
  }

  /** What a careless program does with the cache's file names: open following links, create, append. */
  private static void naiveOpen(Path shared, String name, boolean chronicle, Tally t) throws IOException {
    List<String> suffixes = chronicle ? List.of(".cmap", ".cmap.state")
        : List.of(".json", ".snapshot", ".state", ".journal", ".lock");
    for (String suffix : suffixes) {
      Path file = shared.resolve(name + suffix);
      try {
        if (suffix.equals(".json") && Files.exists(file)) {
          t.violation(PLANTED_READ, Files.readString(file).contains("\"planted\"") ? 1 : 0, file + ": read its entry");
        }
        Files.writeString(file, "naive line\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
      } catch (IOException e) {
        t.detail("naive opener could not write " + file + ": " + e);
      }
    }
    for (String suffix : List.of(".json.k3j9x2.tmp", ".journal.p0q8z1.tmp", ".snapshot.w7e4r5.tmp")) { // "stale"
      Files.deleteIfExists(shared.resolve(name + suffix));
    }
  }
}
