package io.tiercache.stress.faults;

import static io.tiercache.stress.faults.Scenarios.pick;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Expiry}: the real run counts no violation, the broken variant is caught. */
class ExpiryTest {
  @TempDir Path base;

  @Test
  void nothingExpiredIsServedAndNoOtherTtlWipesFreshEntries() throws Exception {
    Tally t = Scenarios.run(new Expiry(), base, "--entries", pick(100, 1000));
    assertThat(t.get("written")).isPositive();
    assertThat(t.violations()).as(t.line()).isZero();
  }

  @Test
  void aReaderIgnoringExpiryIsCaught() throws Exception {
    Tally t = Scenarios.run(new Expiry(), base, "--broken");
    assertThat(t.get(Tally.EXPIRED_SERVED)).as(t.line()).isPositive();
  }
}
