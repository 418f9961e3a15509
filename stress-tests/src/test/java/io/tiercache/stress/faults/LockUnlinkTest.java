package io.tiercache.stress.faults;

import static io.tiercache.stress.faults.Scenarios.pick;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link LockUnlink}: the real run counts no violation, the broken variant is caught. */
class LockUnlinkTest {
  @TempDir Path base;

  @Test
  void unlinkingTheLockLosesNoAcknowledgedWriteAndFailsNoCall() throws Exception {
    Tally t = Scenarios.run(new LockUnlink(), base, "--keys", pick(10_000, 30_000), "--intervals-ms", Scenarios.LONG ? "200,20,5,1,0" : "200,20,0");
    assertThat(t.get("acked")).isPositive();
    assertThat(t.get("unlinks")).isPositive();
    assertThat(t.violations()).as(t.line()).isZero();
  }

  @Test
  void theSeedsWritersAreCaughtLosingWrites() throws Exception {
    Tally t = Scenarios.run(new LockUnlink(), base, "--broken");
    assertThat(t.get(Tally.LOST_ACKED)).as(t.line()).isPositive();
  }
}
