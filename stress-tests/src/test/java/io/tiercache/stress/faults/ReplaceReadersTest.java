package io.tiercache.stress.faults;

import static io.tiercache.stress.faults.Scenarios.pick;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link ReplaceReaders}: the real run counts no violation, the broken variant is caught. */
class ReplaceReadersTest {
  @TempDir Path base;

  @Test
  void readersInOtherProcessesNeverSeeAPartialReplace() throws Exception {
    Tally t = Scenarios.run(new ReplaceReaders(), base, "--seconds", pick(8, 30), "--readers", pick(2, 4));
    assertThat(t.get("reads")).isPositive();
    assertThat(t.get("generations")).isPositive();
    assertThat(t.violations()).as(t.line()).isZero();
  }

  @Test
  void aReplaceByIndividualPutsIsCaughtHalfDone() throws Exception {
    Tally t = Scenarios.run(new ReplaceReaders(), base, "--broken");
    assertThat(t.get(Tally.PARTIAL_STATES)).as(t.line()).isPositive();
  }
}
