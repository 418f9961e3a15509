package io.tiercache.stress.faults;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link CodecPlaceholders}: the real run counts no violation, the broken variant is caught. */
class CodecPlaceholdersTest {
  @TempDir Path base;

  @Test
  void placeholderLookalikeStringsComeBackAsStrings() throws Exception {
    Tally t = Scenarios.run(new CodecPlaceholders(), base);
    assertThat(t.get("fields")).isPositive();
    assertThat(t.violations()).as(t.line()).isZero();
  }

  @Test
  void aCodecDecodingItsPlaceholdersIsCaught() throws Exception {
    Tally t = Scenarios.run(new CodecPlaceholders(), base, "--broken");
    assertThat(t.get(CodecPlaceholders.VALUES_CHANGED)).as(t.line()).isPositive();
  }
}
