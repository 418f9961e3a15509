package io.tiercache.stress.faults;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link RedisRestart}: the real run counts no violation, the broken variant is caught. */
class RedisRestartTest {
  @TempDir Path base;

  @Test
  void nothingReadBeforeARestartIsServedAfter() throws Exception {
    Tally t = Scenarios.run(new RedisRestart(), base, "--outage-ms", Scenarios.LONG ? "300,1000,3000" : "300");
    assertThat(t.get("hitsBeforeRestart")).isPositive();
    assertThat(t.violations()).as(t.line()).isZero();
  }

  @Test
  void aNearCacheNeverDroppedIsCaught() throws Exception {
    Tally t = Scenarios.run(new RedisRestart(), base, "--broken");
    assertThat(t.get(Tally.EXPIRED_SERVED)).as(t.line()).isPositive();
  }
}
