package io.tiercache.stress.faults;

import static io.tiercache.stress.faults.Scenarios.pick;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link AsyncBacklog}: the real run counts no violation, the broken variant is caught. */
class AsyncBacklogTest {
  @TempDir Path base;

  @Test
  void aBacklogOnAFullDiskDrainsInChunksAndLosesNothing() throws Exception {
    Tally t = Scenarios.run(new AsyncBacklog(), base, "--backlog-mb", pick(10, 20), "--freed-mb", pick(4, 8));
    assertThat(t.get("acked")).isPositive();
    assertThat(t.violations()).as(t.line()).isZero();
  }

  @Test
  void aWriterThatNeverFlushesAndExitsIsCaught() throws Exception {
    Tally t = Scenarios.run(new AsyncBacklog(), base, "--broken");
    assertThat(t.get(AsyncBacklog.BACKLOG_STALLED)).as(t.line()).isPositive();
    assertThat(t.get(Tally.LOST_ACKED)).as(t.line()).isPositive();
  }
}
