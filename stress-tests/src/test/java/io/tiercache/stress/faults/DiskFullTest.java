package io.tiercache.stress.faults;

import static io.tiercache.stress.faults.Scenarios.pick;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link DiskFull} on a real size-limited tmpfs (skipped, saying why, where mount is refused). */
class DiskFullTest {
  @TempDir Path base;

  @Test
  void aFullDiskLosesNoAcknowledgedPutAndServesNoFailedOne() throws Exception {
    Tally t = Scenarios.run(new DiskFull(), base, "--rounds", pick(1, 3), "--puts", pick(300, 1000));
    assertThat(t.get("acked")).isPositive();
    assertThat(t.get("thrown")).as("the full disk made puts fail").isPositive();
    assertThat(t.violations()).as(t.line()).isZero();
  }

  @Test
  void aWriterCountingThrownPutsAsAcknowledgedIsCaught() throws Exception {
    Tally t = Scenarios.run(new DiskFull(), base, "--broken");
    assertThat(t.get(Tally.LOST_ACKED)).as(t.line()).isPositive();
  }
}
