package io.tiercache.stress.faults;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link RedisPassword}: the real run counts no violation, the broken variant is caught. */
class RedisPasswordTest {
  @TempDir Path base;

  @Test
  void aWrongPasswordIsRefusedAndReadsNothing() throws Exception {
    Tally t = Scenarios.run(new RedisPassword(), base);
    assertThat(t.get("refused")).isEqualTo(2);
    assertThat(t.violations()).as(t.line()).isZero();
  }

  @Test
  void aRegistryKeyedWithoutCredentialsIsCaught() throws Exception {
    Tally t = Scenarios.run(new RedisPassword(), base, "--broken");
    assertThat(t.get(RedisPassword.LEAKED_ENTRIES)).as(t.line()).isPositive();
  }
}
