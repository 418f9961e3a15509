package io.tiercache.stress.faults;

import io.tiercache.stress.Cli;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** Runs a scenario in-process the way its main parses arguments; a condition this machine cannot create skips, saying why. */
final class Scenarios {
  static final boolean LONG = Boolean.getBoolean("stress.long");

  private Scenarios() {}

  static Tally run(Scenario scenario, Path base, String... args) throws Exception {
    Cli.parse(scenario, args);
    try {
      Tally t = scenario.run(base);
      System.out.println(t.line());
      t.details().stream().limit(30).forEach(d -> System.out.println("  " + d));
      return t;
    } catch (Unavailable e) {
      System.out.println("SKIPPED " + scenario.getClass().getSimpleName() + ": " + e.getMessage());
      Assumptions.abort(e.getMessage());
      throw new AssertionError(e);
    }
  }

  /** The quick value, or the long one under {@code -Dstress.long=true}. */
  static String pick(int quick, int longRun) {
    return Integer.toString(LONG ? longRun : quick);
  }
}
