package io.tiercache.stress.faults;

import static io.tiercache.stress.faults.Scenarios.pick;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link ReplaceCrash}: the real run counts no violation, the broken variant is caught. */
class ReplaceCrashTest {
  @TempDir Path base;

  @Test
  void killNineDuringAReplaceOrACompactionLeavesTheOldContentOrTheNew() throws Exception {
    Tally t = Scenarios.run(new ReplaceCrash(), base, "--replace-rounds", pick(1, 10), "--add-list-rounds", pick(1, 5), "--compaction-rounds", pick(1, 10));
    assertThat(t.get("kills")).isPositive();
    assertThat(t.violations()).as(t.line()).isZero();
  }

  @Test
  void aReplaceByIndividualPutsIsCaughtHalfDone() throws Exception {
    Tally t = Scenarios.run(new ReplaceCrash(), base, "--broken");
    assertThat(t.get(Tally.PARTIAL_STATES)).as(t.line()).isPositive();
  }
}
