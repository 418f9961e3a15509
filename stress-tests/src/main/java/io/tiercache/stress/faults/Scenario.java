package io.tiercache.stress.faults;

import io.tiercache.TieredCache;
import io.tiercache.TieredCacheBuilder;
import io.tiercache.stress.Children;
import io.tiercache.stress.Cli;
import io.tiercache.stress.Record;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * One fault scenario: it creates a condition for real (a full disk, an unlinked lock, a Python
 * writer, a kill, a planted file, a restarted server), counts what broke in a {@link Tally}, and
 * with {@code --broken} runs a deliberately broken variant, implemented here and never in core,
 * that it must catch. Run alone, it prints the tally line and exits 0 (every violation zero),
 * 1 (a violation), 2 (a usage error, or the condition cannot be created here: the reason is printed)
 * or 3 (the harness itself failed).
 */
abstract class Scenario implements Callable<Integer> {
  /** The cache every scenario works on. */
  static final String NAME = "faults";
  static final Duration CHILD_TIMEOUT = Duration.ofMinutes(3);

  @Mixin Cli.Help help;

  @Option(names = "--broken", description = "run the deliberately broken variant, which must be caught")
  boolean broken;

  @Option(names = "--dir", description = "work in this directory (default: a new temporary one, removed afterwards)")
  Path dir;

  /** The scenario's command name: {@code Faults <name>}. */
  final String name() {
    return getClass().getAnnotation(Command.class).name();
  }

  /** A tally named after this scenario, and after the broken variant when that runs. */
  final Tally tally(String brokenVariant, String... ownViolations) {
    return new Tally(name() + (broken ? " (broken: " + brokenVariant + ")" : ""), ownViolations);
  }

  /** A child JVM running one of this scenario's roles: {@code Faults <name> <role> <args>}. */
  final Child child(String label, List<String> role, String heap, Path work) throws IOException {
    List<String> args = new ArrayList<>();
    args.add(name());
    args.addAll(role);
    return Child.java(label, Faults.class, args, heap, work);
  }

  /** Creates the condition under {@code base} (a directory of its own) and counts. */
  abstract Tally run(Path base) throws Exception;

  @Override
  public final Integer call() throws Exception {
    Path base = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("tiercache-faults");
    try {
      Tally t = run(base);
      System.out.println(t.line());
      t.details().stream().limit(50).forEach(d -> System.err.println("  " + d));
      return t.violations() == 0 ? 0 : Cli.BROKEN;
    } catch (Unavailable e) {
      System.err.println(getClass().getSimpleName() + " skipped: " + e.getMessage());
      return Cli.USAGE;
    } finally {
      if (dir == null) {
        Children.deleteTree(base);
      }
    }
  }

  /** The cache as every process of a scenario opens it: {@code faults}, a day's TTL, a 2-minute lock timeout. */
  static TieredCacheBuilder<String, Record> cache(Path dir) {
    return TieredCache.builder(String.class, Record.class).directory(dir).name(NAME).expireAfter(Duration.ofDays(1))
        .lockTimeout(Duration.ofMinutes(2));
  }

  static Record record(String id, int payloadBytes) {
    return new Record(id, id.substring(0, Math.max(0, id.lastIndexOf('-'))), 0, "x".repeat(payloadBytes));
  }

  /**
   * Starts a daemon thread that waits for the line {@code word ...} on standard input: a child that
   * works in a loop until the harness says stop. The reference holds the line once it came, or just
   * {@code word} when the harness is gone (standard input closed).
   */
  static AtomicReference<String> whenSaid(String word) {
    AtomicReference<String> said = new AtomicReference<>();
    Thread stdin = new Thread(() -> {
      try {
        said.set(nextStep(new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII)), word));
      } catch (IOException | RuntimeException gone) {
        said.set(word);
      }
    }, "stdin");
    stdin.setDaemon(true);
    stdin.start();
    return said;
  }

  /** Reads one line from standard input: a child waits for its next step. */
  static String nextStep(BufferedReader in, String expected) throws IOException {
    String line = in.readLine();
    if (line == null || !line.startsWith(expected)) {
      throw new IllegalStateException("expected '" + expected + "' from the harness, got " + line);
    }
    return line;
  }
}
