package io.tiercache.cli;

import io.tiercache.CacheException;
import io.tiercache.CacheFiles;
import io.tiercache.StoreSpec;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code tiercache}: look into and repair cache files.
 *
 * <pre>
 * tiercache inspect .cache/model.json
 * tiercache verify .cache/model.json          # exit 0 valid, 1 damaged, 2 usage error
 * tiercache compact .cache model
 * tiercache export .cache model --to /tmp/model.json
 * tiercache import /tmp/model.json .cache model [--replace] [--expire-after 2h]
 * </pre>
 *
 * Exit codes: 0 success, 1 the files are damaged or the operation failed (the reason is printed),
 * 2 a usage error (an unknown option, store or duration).
 */
@Command(name = "tiercache", mixinStandardHelpOptions = true, version = "tiercache 0.1.0",
    description = "Inspect, verify, compact, export and import tiercache files.",
    subcommands = {Main.Inspect.class, Main.Verify.class, Main.Compact.class, Main.Export.class,
        Main.Import.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
  static final int FAILED = 1;
  static final int USAGE = 2;

  @Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required");
  }

  /** Chronicle Map's start-up notes ("Chronicle core loaded from ...") are noise here; its warnings are not. */
  private static final java.util.logging.Logger CHRONICLE_LOG = java.util.logging.Logger.getLogger("net.openhft");

  public static void main(String[] args) {
    CHRONICLE_LOG.setLevel(java.util.logging.Level.WARNING);
    System.exit(commandLine().execute(args));
  }

  /** The command line with the converters and the error handling the tool uses; for tests. */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main());
    cl.registerConverter(Duration.class, Main::duration);
    cl.registerConverter(Store.class, Store::parse);
    cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
      PrintWriter err = commandLine.getErr();
      if (e instanceof CacheException || e instanceof IllegalArgumentException || e instanceof IllegalStateException) {
        err.println("tiercache: " + e.getMessage() + (e.getCause() == null ? "" : " (" + e.getCause() + ")"));
        return FAILED;
      }
      throw e;
    });
    return cl;
  }

  /** {@code 30s}, {@code 500ms}, {@code 5m}, {@code 2h}, {@code 1d}, a number of seconds, or ISO-8601 {@code PT30S}. */
  static Duration duration(String text) {
    String s = text.trim().toLowerCase(Locale.ROOT);
    try {
      if (s.startsWith("p") || s.startsWith("-p")) {
        return Duration.parse(text.trim());
      }
      if (s.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2)));
      }
      long n = Long.parseLong(s.substring(0, s.length() - (Character.isDigit(s.charAt(s.length() - 1)) ? 0 : 1)));
      switch (s.charAt(s.length() - 1)) {
        case 's': return Duration.ofSeconds(n);
        case 'm': return Duration.ofMinutes(n);
        case 'h': return Duration.ofHours(n);
        case 'd': return Duration.ofDays(n);
        default:
          if (Character.isDigit(s.charAt(s.length() - 1))) {
            return Duration.ofSeconds(n);
          }
      }
    } catch (RuntimeException e) {
      // reported below
    }
    throw new CommandLine.TypeConversionException("'" + text + "' is not a duration (e.g. 500ms, 30s, 5m, 2h, 1d, PT30S)");
  }

  abstract static class Base {
    @Spec CommandLine.Model.CommandSpec spec;

    PrintWriter out() {
      return spec.commandLine().getOut();
    }

    PrintWriter err() {
      return spec.commandLine().getErr();
    }
  }

  @Command(name = "inspect", description = {"Shows what a cache's files hold: entries, expiry, generation,",
      "journal length and lines, sizes, damaged lines. Reads only; takes no lock."})
  static final class Inspect extends Base implements Callable<Integer> {
    @Parameters(paramLabel = "FILE", description = "any of a cache's files (<dir>/<name>.json, .snapshot, .journal), or <dir>/<name>")
    Path file;

    @Override
    public Integer call() {
      CacheFiles.Inspection i = CacheFiles.inspect(file);
      out().print(i.describe());
      out().flush();
      if (!i.snapshotPresent() && !i.journalPresent() && !i.exportPresent()) {
        err().println("tiercache: no cache files at " + i.snapshotFile());
        return FAILED;
      }
      return 0;
    }
  }

  @Command(name = "verify", description = {"Checks a cache's snapshot and journal. Exit 0 when valid,",
      "1 with the reasons when not. Reads only; takes no lock."})
  static final class Verify extends Base implements Callable<Integer> {
    @Parameters(paramLabel = "FILE", description = "any of a cache's files (<dir>/<name>.json, .snapshot, .journal), or <dir>/<name>")
    Path file;

    @Override
    public Integer call() {
      CacheFiles.Verification v = CacheFiles.verify(file);
      CacheFiles.Inspection i = v.inspection();
      for (String note : v.notes()) {
        out().println("note: " + note);
      }
      if (v.valid()) {
        out().println("valid: " + i.snapshotFile() + " (" + i.liveEntries() + " entries, expiry " + i.expiry()
            + ", generation " + i.generation() + ", journal " + i.batches() + " batches)");
        out().flush();
        return 0;
      }
      out().flush();
      for (String problem : v.problems()) {
        err().println("invalid: " + problem);
      }
      err().flush();
      return FAILED;
    }
  }

  @Command(name = "compact", description = {"Folds the journal into a new snapshot, under the cache's lock",
      "(safe while other processes use the cache)."})
  static final class Compact extends Base implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "DIR") Path dir;
    @Parameters(index = "1", paramLabel = "NAME") String name;
    @Option(names = "--lock-timeout", defaultValue = "30s", description = "how long to wait for the lock (default ${DEFAULT-VALUE})")
    Duration lockTimeout;

    @Override
    public Integer call() {
      CacheFiles.Compaction c = CacheFiles.compact(dir, name, lockTimeout);
      out().println("compacted " + dir.resolve(name + ".json") + ": " + c.entries() + " entries; snapshot "
          + c.snapshotBytesBefore() + " -> " + c.snapshotBytesAfter() + " bytes, journal " + c.journalBytesBefore()
          + " -> " + c.journalBytesAfter() + " bytes");
      return 0;
    }
  }

  @Command(name = "export", description = {"Writes a cache's live content (snapshot and journal) as a",
      "snapshot-format JSON file ({\"expiry\": ..., \"data\": {...}}, indent 4), which Python's json.load",
      "and 'tiercache import' read."})
  static final class Export extends Base implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "DIR") Path dir;
    @Parameters(index = "1", paramLabel = "NAME") String name;
    @Option(names = "--to", required = true, paramLabel = "FILE.json", description = "the file to write (replaced atomically)")
    Path to;
    @Option(names = "--store", defaultValue = "json", paramLabel = "json|chronicle",
        description = "the cache's store (default ${DEFAULT-VALUE})")
    Store store;
    @Option(names = "--lock-timeout", defaultValue = "30s") Duration lockTimeout;

    @Override
    public Integer call() {
      CacheFiles.Export e = CacheFiles.export(dir, name, to, store.spec(null), lockTimeout);
      out().println("exported " + e.entries() + " entries (expiry " + e.expiry() + ", " + e.bytes() + " bytes) to " + e.file());
      return 0;
    }
  }

  @Command(name = "import", description = {"Loads a snapshot-format JSON file into a cache through its journal,",
      "under its lock (safe while other processes use the cache)."})
  static final class Import extends Base implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE.json") Path file;
    @Parameters(index = "1", paramLabel = "DIR") Path dir;
    @Parameters(index = "2", paramLabel = "NAME") String name;
    @Option(names = "--replace", description = "replace the cache's whole content (default: add to it)")
    boolean replace;
    @Option(names = "--expire-after", paramLabel = "DURATION",
        description = "time to live of a new content period (default: until the file's expiry)")
    Duration expireAfter;
    @Option(names = "--store", defaultValue = "json", paramLabel = "json|chronicle",
        description = "the cache's store (default ${DEFAULT-VALUE})")
    Store store;
    @Option(names = "--lock-timeout", defaultValue = "30s") Duration lockTimeout;

    @Override
    public Integer call() {
      CacheFiles.Import i = CacheFiles.importFile(file, dir, name, store.spec(file), replace, expireAfter, lockTimeout);
      Path target = i.file();
      out().println((i.replaced() ? "replaced the content of " + target + " with " + i.entries() + " entries"
          : "added " + i.entries() + " entries to " + target) + " (content expiry " + i.expiry() + ")");
      return 0;
    }
  }

  /** The stores the tool reads and writes. */
  enum Store {
    JSON,
    /** A Chronicle Map file an import creates is sized for twice the imported entries (at least 1,024). */
    CHRONICLE;

    static Store parse(String name) {
      try {
        return valueOf(name.trim().toUpperCase(java.util.Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("unknown store '" + name + "'; expected json or chronicle", e);
      }
    }

    /** The store's spec; {@code source}, a file about to be imported, sizes a Chronicle Map file it creates. */
    StoreSpec spec(Path source) {
      if (this == JSON) {
        return StoreSpec.jsonFiles();
      }
      long entries = 0;
      long bytes = 0;
      if (source != null) {
        entries = Math.max(0, CacheFiles.inspect(source).exportEntries()); // a snapshot-format file is read as an export
        try {
          bytes = java.nio.file.Files.size(source);
        } catch (java.io.IOException e) {
          bytes = 0; // the import itself names the file it cannot read
        }
      }
      return StoreSpec.chronicleMap(Math.max(1_024, 2 * entries), (int) Math.max(64, bytes / Math.max(1, entries)));
    }
  }
}
